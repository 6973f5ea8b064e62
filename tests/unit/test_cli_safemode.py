"""``hactl safemode`` and ``hactl metasave`` without a cluster: the status line, the
metasave text layout, the all-or-nothing write of FILE, and the client's wait."""

from __future__ import annotations

import os
import time

import pytest

from client.admin import DatanodeReport
from client.cli.metasave import metasave_lines, write_whole
from client.cli.output import Failure
from client.cli.safemode import status_line
from client.metasave import MetaBlock, MetaCopy, MetaDeletion, MetaLease, MetaSaveReport
from client.safemode import SafeModeAdmin, SafeModeStatus
from hafs_api.errors import DeadlineExceeded

SINCE = int(time.mktime((2026, 11, 22, 11, 39, 17, 0, 0, -1)) * 1000)
ON = SafeModeStatus("ns1", True, "upgrade", "hdfs", SINCE)


def node(i: int, liveness: str = "live") -> DatanodeReport:
    return DatanodeReport(
        f"dn{i}", f"127.0.0.1:{9860 + i}", "/r1", liveness, "in service",
        2**30, 2**20, 2**29, 3, 0, 0.5, 0, True,
    )  # fmt: skip


def report(**changes) -> MetaSaveReport:
    fields = dict(
        nameservice="ns1",
        node_id="nn2",
        term=3,
        applied_index=120,
        files=2,
        directories=3,
        blocks=4,
        safe_mode=ON,
        under_replicated=(MetaBlock(10, 1001, 5, "/d/a", 3, 2, 0, 0, 0, ("dn1", "dn4")),),
        missing=(MetaBlock(11, 1002, 5, "", 1, 0, 0, 0, 0, ("dn4",)),),
        corrupt=(),
        replicating=(MetaCopy(12, 1003, 7, "dn1", ("dn2", "dn3"), 41.6),),
        pending_deletion=(MetaDeletion(13, 1004, "dn2"), MetaDeletion(14, 1005, "dn2")),
        leases=(MetaLease("writer", SINCE, ("/d/open",)),),
        datanodes=(node(1), node(2), node(3), node(4, "dead")),
        truncated=False,
        scanned=SINCE,
    )
    return MetaSaveReport(**{**fields, **changes})


def test_status_lines() -> None:
    assert status_line(SafeModeStatus("ns2", False)) == "Safe mode is OFF in ns2"
    assert status_line(ON) == (
        "Safe mode is ON in ns1 (reason: upgrade, by hdfs since 2026-11-22 11:39:17)"
    )
    assert "(reason: entered manually, by hdfs" in status_line(
        SafeModeStatus("n", True, "", "hdfs", 1)
    )


def test_metasave_lines_are_laid_out_like_hdfs() -> None:
    lines = metasave_lines(report())
    assert lines[:5] == [
        "Metasave of nameservice ns1 from nn2 (term 3, applied index 120) at 2026-11-22 11:39:17",
        "5 files and directories, 4 blocks = 9 total filesystem objects",
        "Safe mode is ON in ns1 (reason: upgrade, by hdfs since 2026-11-22 11:39:17)",
        "Live Datanodes: 3",
        "Dead Datanodes: 1",
    ]
    at = lines.index
    assert lines[at("Metasave: Blocks waiting for replication: 1") + 1] == (
        "/d/a: blk_10_1001 (replicas: l: 2 d: 0 m: 0 c: 0 e: 3) "
        "[127.0.0.1:9861, 127.0.0.1:9864 (dead)]"
    )
    assert lines[at("Metasave: Blocks currently missing: 1") + 1].startswith(
        "(unknown file): blk_11_1002 (replicas: l: 0"
    )
    assert lines[at("Metasave: Blocks with corrupt replicas: 0") + 1] == (
        "Metasave: Blocks being replicated: 1"
    )
    assert lines[at("Metasave: Blocks being replicated: 1") + 1] == (
        "blk_12_1003 len=7 from 127.0.0.1:9861 to 127.0.0.1:9862, 127.0.0.1:9863 (times out in 42s)"
    )
    deletion = at("Metasave: Blocks 2 waiting deletion from 1 datanodes.")
    assert lines[deletion + 1 : deletion + 4] == ["127.0.0.1:9862", " blk_13_1004", " blk_14_1005"]
    assert lines[at("Metasave: Leases: 1") + 1] == ("writer (renewed 2026-11-22 11:39:17): /d/open")
    datanodes = at("Metasave: Number of datanodes: 4")
    assert lines[datanodes + 4].startswith("127.0.0.1:9864 (dn4) /r1 dead in service: capacity")
    assert lines[-1].startswith("127.0.0.1:9864")  # not truncated
    assert metasave_lines(report(truncated=True))[-1].startswith("Metasave: truncated")


def test_write_whole_replaces_the_file_or_leaves_nothing(tmp_path) -> None:
    target = tmp_path / "meta.txt"
    target.write_text("old")
    write_whole(str(target), "new\n")
    assert target.read_text() == "new\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(Failure, match="cannot write"):
        write_whole(str(tmp_path / "no" / "file"), "x")
    (tmp_path / "dir").mkdir()
    with pytest.raises(Failure, match="cannot write"):
        write_whole(str(tmp_path / "dir"), "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "meta.txt"]
    assert list((tmp_path / "dir").iterdir()) == []


class Polled(SafeModeAdmin):
    """The mixin over a scripted ``safe_mode``: on for ``turns`` calls, then off."""

    nameservice = "ns1"

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.calls = 0

    def safe_mode(self) -> SafeModeStatus:
        self.calls += 1
        return ON if self.calls <= self.turns else SafeModeStatus("ns1", False)


def test_wait_polls_until_off_or_times_out() -> None:
    admin = Polled(turns=2)
    assert admin.wait_safe_mode_off(timeout=5, poll=0.01).on is False
    assert admin.calls == 3
    stuck = Polled(turns=10**9)
    with pytest.raises(DeadlineExceeded, match=r"still ON in ns1 after 0\.05s"):
        stuck.wait_safe_mode_off(timeout=0.05, poll=0.01)
    assert stuck.calls >= 2
