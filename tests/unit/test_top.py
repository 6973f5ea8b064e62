"""``hactl top`` without a cluster: the pure numbers (``client.cli.topstats``), the pure
drawing (``client.cli.topview``, rendered with a recording rich Console), and the
command against a NameNode address where nothing listens."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest
from click.testing import CliRunner
from rich.console import Console

from client.cli.main import cli
from client.cli.topstats import Poll, leader_of, rate, snapshot
from client.cli.topview import render
from client.types import NodeStatus


def node(node_id: str, state: str = "standby", **fields) -> NodeStatus:
    fields.setdefault("term", 3)
    fields.setdefault("uptime_ms", 60_000)
    return NodeStatus(f"127.0.0.1:{node_id[-1]}00", state, node_id=node_id, **fields)


def down(address: str, error: str = "UNAVAILABLE: connection refused") -> NodeStatus:
    return NodeStatus(address, "unreachable", error=error)


LEADER = node(
    "nn1",
    "active",
    commit_index=1000,
    applied_index=1000,
    client_calls=500,
    client_errors=10,
    files=40,
    directories=7,
    blocks=90,
    live_datanodes=3,
)
FOLLOWER = node("nn2", commit_index=990, applied_index=980, client_calls=20)


def later(status: NodeStatus, seconds: float = 2.0, **changes) -> NodeStatus:
    return replace(status, uptime_ms=status.uptime_ms + int(seconds * 1000), **changes)


def text_of(renderable, styles: bool = False) -> str:
    console = Console(record=True, width=140, force_terminal=True, color_system="standard")
    console.print(renderable)
    return console.export_text(styles=styles)


# -- the numbers ---------------------------------------------------------------------------


def test_rates_come_from_the_deltas_between_two_polls():
    first = Poll(10.0, 1000.0, {"ns1": [LEADER, FOLLOWER]})
    second = Poll(
        12.0,
        1002.0,
        {
            "ns1": [
                later(
                    LEADER,
                    client_calls=700,
                    client_errors=14,
                    applied_index=1300,
                    commit_index=1300,
                ),
                later(FOLLOWER, client_calls=26, applied_index=1250),
            ]
        },
    )
    shot = snapshot(first, second)
    (ns,) = shot.nameservices
    assert shot.interval_s == 2.0 and shot.all_answered
    assert ns.leader is not None and (ns.leader.node_id, ns.leader.term) == ("nn1", 3)
    assert (ns.client_rpcs_per_s, ns.errors_per_s, ns.writes_per_s) == (100.0, 2.0, 150.0)
    assert [(r.node_id, r.lag, r.client_rpcs_per_s) for r in ns.nodes] == [
        ("nn1", 0, 100.0),
        ("nn2", 50, 3.0),
    ]
    assert (ns.files, ns.directories, ns.blocks, ns.live_datanodes) == (40, 7, 90, 3)
    assert ns.problems == []


def test_one_poll_has_no_rates():
    (ns,) = snapshot(None, Poll(1.0, 1.0, {"ns1": [LEADER, FOLLOWER]})).nameservices
    assert (ns.client_rpcs_per_s, ns.errors_per_s, ns.writes_per_s) == (None, None, None)
    assert ns.nodes[1].lag == 20 and ns.files == 40


def test_a_new_leader_or_a_restarted_one_has_no_rate_yet():
    first = Poll(0.0, 0.0, {"ns1": [LEADER, FOLLOWER]})
    failover = Poll(
        1.0,
        1.0,
        {
            "ns1": [
                down(LEADER.address),
                later(FOLLOWER, 1.0, state="active", term=4, applied_index=1010, commit_index=1010),
            ]
        },
    )
    (ns,) = snapshot(first, failover).nameservices
    assert ns.leader is not None and (ns.leader.node_id, ns.leader.term) == ("nn2", 4)
    assert ns.client_rpcs_per_s == 0.0  # nn2 was polled both times: its own delta
    assert ns.writes_per_s == 10.0  # from the highest applied index, whoever applied it
    assert ns.problems == ["127.0.0.1:100 unreachable"]
    restarted = Poll(1.0, 1.0, {"ns1": [replace(LEADER, uptime_ms=500, client_calls=3)]})
    (ns,) = snapshot(first, restarted).nameservices
    assert ns.client_rpcs_per_s is None and ns.nodes[0].client_rpcs_per_s is None


def test_the_leader_is_the_active_node_of_the_highest_term():
    old = replace(LEADER, term=3)
    new = replace(FOLLOWER, state="active", term=4)
    assert leader_of([old, new]) is new
    assert leader_of([FOLLOWER, down("h:1")]) is None
    assert rate(10, 5, 1.0) is None and rate(0, 5, None) is None and rate(5, 15, 2.0) == 5.0


def test_problems_name_no_leader_missing_blocks_dead_datanodes_and_laggards():
    sick = replace(LEADER, missing_blocks=2, corrupt_blocks=1, dead_datanodes=1)
    behind = replace(FOLLOWER, applied_index=100)
    (ns,) = snapshot(None, Poll(0, 0, {"ns1": [sick, behind]})).nameservices
    assert ns.problems == [
        "nn2 900 entries behind",
        "2 missing blocks",
        "1 corrupt block",
        "1 dead DataNode",
    ]
    (ns,) = snapshot(None, Poll(0, 0, {"ns1": [FOLLOWER, down("h:1")]})).nameservices
    assert ns.leader is None and ns.missing is None and ns.files == 0
    assert ns.problems == ["no leader", "h:1 unreachable"]
    (ns,) = snapshot(None, Poll(0, 0, {"ns1": [down("h:1")]})).nameservices
    assert not ns.answered and ns.problems[0] == "no NameNode answers"


def test_json_shape():
    shot = snapshot(None, Poll(0, 5.0, {"ns1": [LEADER, down("h:9")]}, {"ns2": "no config"}))
    data = json.loads(json.dumps(shot.to_dict()))
    assert data["time"] == 5.0 and data["interval_s"] is None
    ns1, ns2 = data["nameservices"]
    assert ns1["leader"] == {"node_id": "nn1", "address": LEADER.address, "term": 3}
    assert ns1["namespace"] == {"files": 40, "directories": 7, "blocks": 90}
    assert ns1["datanodes"] == {"live": 3, "stale": 0, "dead": 0}
    assert ns1["namenodes"][1]["reachable"] is False
    assert ns2["error"] == "no config" and ns2["leader"] is None and not shot.all_answered


# -- the drawing -----------------------------------------------------------------------------


def test_render_shows_leader_rates_counts_and_every_namenode():
    first = Poll(0.0, 0.0, {"ns1": [LEADER, FOLLOWER]})
    second = Poll(2.0, 2.0, {"ns1": [later(LEADER, client_calls=700), later(FOLLOWER)]})
    text = text_of(render(snapshot(first, second)))
    assert "Nameservice ns1  leader nn1 (127.0.0.1:100), term 3" in text
    assert "client 100.0 rpc/s" in text and "errors 0.0/s" in text and "writes 0.0/s" in text
    assert "files 40   dirs 7   blocks 90" in text
    assert "rates over 2.0 s" in text and "problems" not in text
    rows = [line.split() for line in text.splitlines() if "127.0.0.1:" in line and "nn" in line]
    assert rows[1][:3] == ["nn1", "127.0.0.1:100", "active"]
    assert rows[2][:7] == ["nn2", "127.0.0.1:200", "standby", "3", "980", "20", "0.0"]


def test_render_flags_a_nameservice_without_leader_in_red():
    poll = Poll(0.0, 0.0, {"ns1": [LEADER], "ns2": [FOLLOWER, down("127.0.0.1:900")]})
    text = text_of(render(snapshot(None, poll)))
    assert "Nameservice ns2  NO LEADER" in text
    assert "problems: no leader; 127.0.0.1:900 unreachable" in text
    assert "UNAVAILABLE: connection refused" in text
    styled = text_of(render(snapshot(None, poll)), styles=True)
    assert "\x1b[1;31mNO LEADER\x1b[0m" in styled
    assert "\x1b[1;31munreachable\x1b[0m" in styled


def test_render_highlights_dead_datanodes_and_missing_blocks():
    sick = replace(LEADER, missing_blocks=3, dead_datanodes=1, stale_datanodes=0)
    shot = snapshot(None, Poll(0.0, 0.0, {"ns1": [sick]}))
    text = text_of(render(shot))
    assert "DataNodes: live 3   stale 0   dead 1" in text
    assert "missing 3" in text and "problems: 3 missing blocks; 1 dead DataNode" in text
    styled = text_of(render(shot), styles=True)
    assert "dead \x1b[1;31m1\x1b[0m" in styled and "missing \x1b[1;31m3\x1b[0m" in styled
    assert "stale 0" in styled  # 0 is not highlighted
    healthy = text_of(render(snapshot(None, Poll(0.0, 0.0, {"ns1": [LEADER]}))), styles=True)
    assert "dead 0" in healthy and "\x1b[1;31m" not in healthy


# -- the command -------------------------------------------------------------------------------


@pytest.fixture
def nowhere(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp_path / "client.toml"
    conf.write_text(f'[nameservices.ns1]\nnamenodes = ["127.0.0.1:{port}"]\n')
    return conf


def test_top_once_exits_1_when_no_namenode_answers(nowhere):
    args = ["--conf", str(nowhere), "top", "--once", "--interval", "0.1", "--timeout", "0.5"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 1, result.output
    (ns,) = json.loads(result.stdout)["nameservices"]
    assert ns["leader"] is None and ns["problems"][0] == "no NameNode answers"
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 1 and "NO NAMENODE ANSWERS" in text.stdout


def test_top_rejects_an_unknown_nameservice(nowhere):
    result = CliRunner().invoke(cli, ["--conf", str(nowhere), "top", "--nameservice", "nsX"])
    assert result.exit_code == 1 and "nsX" in result.stderr
