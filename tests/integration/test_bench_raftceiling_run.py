"""The Raft ceiling benchmark on real pysyncobj processes, at tiny scale; no process outlives it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from benchmarks import raftceiling

pytestmark = pytest.mark.integration


def processes_under(base: Path) -> list[int]:
    """Pids of live processes whose command line names ``base`` (the peers' data dirs)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(base).encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.mark.timeout(60)
def test_a_tiny_run_replicates_and_leaves_no_process(tmp_path):
    logged: list[str] = []
    out = raftceiling.run(tmp_path, 0.3, 1, concurrencies=(1, 8), log=logged.append)
    assert not processes_under(tmp_path)
    assert [r["concurrency"] for r in out["rows"]] == [1, 8]
    for row in out["rows"]:
        assert row["ops_per_s"] > 50, row
        assert row["errors"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] < 1000
    assert out["nodes"] == 3 and out["library"].startswith("pysyncobj ")
    assert len(out["leaders"]) == 1
    assert len(logged) == 2


@pytest.mark.timeout(60)
def test_every_peer_stops_when_the_benchmark_fails_even_a_hung_one(tmp_path):
    options = raftceiling.syncobj_options(raftceiling.cluster_settings())
    with pytest.raises(RuntimeError, match="on purpose"), raftceiling.Group(tmp_path, options) as g:
        assert len(processes_under(tmp_path)) == 3
        leader = g.leader()
        assert leader.request("status")["leader"]
        os.kill(g.peers[0].process.pid, signal.SIGSTOP)  # cannot quit: killed after 5 s
        raise RuntimeError("on purpose")
    assert not processes_under(tmp_path)
    assert all(p.process.returncode is not None for p in g.peers)


@pytest.mark.timeout(60)
def test_a_peer_that_cannot_start_fails_the_group_and_leaves_no_process(tmp_path):
    options = raftceiling.syncobj_options(raftceiling.cluster_settings())
    options["appendEntriesPeriod"] = 1.0  # pysyncobj's validate() refuses it
    with pytest.raises(raftceiling.PeerError, match="exited"), raftceiling.Group(tmp_path, options):
        pass
    assert not processes_under(tmp_path)
