"""hactl's maintenance and balancer parts that need no cluster: argument types, the
report's maintenance lines and sections, fsck's maintenance count, the balancer's
progress line, status and endings."""

from __future__ import annotations

import click
import pytest

from client.admin import BlockHealth, DatanodeReport, FileHealth, FsckReport
from client.balancer import BalancerNode, BalancerStatus
from client.cli.balancer import HEADER, Bandwidth, ending, progress_line, status_lines
from client.cli.blocks import Duration, datanode_lines, fsck_lines
from client.cli.report import datanode_lines as report_node_lines
from client.cli.report import sections


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1.5h", 5400), ("2d", 172800)],
)
def test_durations(text, seconds):
    assert Duration().convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "1w", "h", "1h30m"])
def test_bad_durations(text):
    with pytest.raises(click.BadParameter):
        Duration().convert(text, None, None)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("1048576", 1 << 20),
        ("10m", 10 << 20),
        ("10MB", 10 << 20),
        ("10MiB", 10 << 20),
        ("1g/s", 1 << 30),
        ("512k", 512 << 10),
    ],
)
def test_bandwidths(text, rate):
    assert Bandwidth().convert(text, None, None) == rate


@pytest.mark.parametrize("text", ["0", "fast", "10xb", "-1m"])
def test_bad_bandwidths(text):
    with pytest.raises(click.BadParameter):
        Bandwidth().convert(text, None, None)


def node(admin: str, expiry: int = 0, liveness: str = "live") -> DatanodeReport:
    return DatanodeReport(
        "dn1", "127.0.0.1:9", "/r1", liveness, admin, 100, 40, 60, 3, 0, 1.0, 0, True, expiry
    )


def test_the_report_shows_maintenance_and_its_expiry():
    lines = report_node_lines(node("in maintenance", 1_800_000_000_000))
    assert "Decommission Status : In maintenance" in lines
    [expiry] = [line for line in lines if line.startswith("Maintenance expiry: ")]
    assert "2027" in expiry
    lines = report_node_lines(node("entering maintenance"))
    assert "Decommission Status : Entering maintenance" in lines
    assert "Maintenance expiry: never (until recommissioned)" in lines
    assert not any("Maintenance" in line for line in report_node_lines(node("in service")))


def test_a_report_section_ends_like_dfsadmin_s():
    lines = report_node_lines(node("in service"))
    tail = [line.split(":")[0] for line in lines[lines.index("DFS Remaining%: 60.00%") :]]
    assert tail == [
        "DFS Remaining%",
        "Xceivers",
        "Volume Failures",
        "Last contact",
        "Block report received",
        "Num of Blocks",
    ]
    assert "Num of Blocks: 3" in lines and "Xceivers: 0" in lines


def test_the_report_sections_for_maintenance():
    nodes = [node("entering maintenance"), node("in maintenance", liveness="dead")]
    chosen = sections(nodes, ["in_maintenance", "entering_maintenance", "live"])
    assert list(chosen) == ["live", "entering_maintenance", "in_maintenance"]
    assert [len(v) for v in chosen.values()] == [1, 1, 1]


def test_dn_list_fits_the_maintenance_states():
    header, row = datanode_lines([node("entering maintenance")])
    assert row.split()[4:6] == ["entering", "maintenance"]
    assert len(row) == len(header)  # the ADMIN column is wide enough


def test_fsck_shows_maintenance_replicas():
    block = BlockHealth(1, 2, 10, 3, 2, 0, 0, ("a:1", "b:1"), False, 1)
    report = FsckReport(
        "/", 1, 1, 10, 1, 2, 0, 0, 0, 0, 0, 3, True, (FileHealth("/f", 10, 3, (block,), False),)
    )
    text = "\n".join(fsck_lines(report))
    assert "Live_repl=2 Maintenance_repl=1 [a:1, b:1]" in text


def status(state: str, **kw) -> BalancerStatus:
    values = dict(
        state=state,
        threshold_percent=10.0,
        mean_used_percent=12.5,
        moves_done=8,
        moves_failed=1,
        moves_in_flight=2,
        bytes_moved=8 * 65536,
        bytes_left=3 << 20,
        started_ms=1_800_000_000_000,
        iterations=2,
        nodes=(BalancerNode("dn1", 20.0, 7.5), BalancerNode("dn3", 0.0, -12.5)),
        message="",
    )
    values.update(kw)
    return BalancerStatus(**values)


def test_the_progress_line_lines_up_with_the_header():
    line = progress_line(status("running"))
    assert len(line) == len(HEADER)
    assert line[25:].split() == ["2", "512", "KB", "3", "MB", "2"]


@pytest.mark.parametrize(
    ("state", "message", "want"),
    [
        ("balanced", "The cluster is balanced.", "The cluster is balanced. Exiting..."),
        ("no_progress", "No block can be moved.", "No block can be moved. Exiting..."),
        ("stopped", "stopped by alice", "The balancer was stopped by alice. Exiting..."),
    ],
)
def test_endings(state, message, want):
    assert ending(status(state, message=message)) == want


def test_status_lines():
    lines = status_lines(status("running"))
    assert lines[0] == "State: running"
    assert "Moves: 8 done, 1 failed, 2 in flight" in lines
    assert lines[-1].split() == ["dn3", "0.00", "-12.50"]
    assert status("idle", started_ms=0).finished is False
    assert status("no_progress").finished


def test_following_a_run_prints_a_line_per_change_and_the_ending_once(monkeypatch, capsys):
    from client.cli import balancer as cli_balancer
    from client.cli.output import Report

    monkeypatch.setattr(cli_balancer, "POLL_S", 0)
    later = [
        status("running", iterations=0, bytes_moved=0),  # nothing new: no line
        status("running", iterations=1, bytes_moved=65536),
        status("balanced", iterations=1, bytes_moved=65536),  # finished, same figures
    ]

    class Client:
        def balancer_status(self):
            return later.pop(0)

    code = cli_balancer._follow(
        Client(), status("running", iterations=0, bytes_moved=0), Report("balancer", False)
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and not later
    assert out[0] == HEADER and len(out) == 5, out
    assert [line.split()[5] for line in out[1:3]] == ["0", "1"]  # the iteration column
    assert out[3] == "The cluster is balanced. Exiting..."
    assert out[4].startswith("Balancing took ")
