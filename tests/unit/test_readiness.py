"""Readiness (``hafs.ready``): the pure verdicts of NameNodes and DataNodes, and the loop
that publishes them."""

from __future__ import annotations

import logging

import pytest

from ha_namenode.consensus.base import ConsensusStatus, Member
from ha_namenode.readiness import verdict
from hafs_api.readiness import (
    DEFAULT_MAX_APPLY_LAG,
    READY_SERVICE,
    ReadinessLoop,
    Verdict,
    apply_lag,
    datanode_verdict,
    namenode_verdict,
)


def test_the_service_name_and_default_bound():
    assert READY_SERVICE == "hafs.ready"
    assert DEFAULT_MAX_APPLY_LAG == 100


@pytest.mark.parametrize(
    "leader, connected, commit, applied, leader_commit, ready, reason",
    [
        ("nn1", True, 500, 500, 500, True, "leader nn1, apply lag 0"),
        ("nn1", True, 500, 400, 0, True, "leader nn1, apply lag 100"),  # at the bound
        ("nn1", True, 500, 399, 0, False, "leader nn1, apply lag 101 > 100"),
        # a follower receiving the log: its own commit index is low, the leader's is not
        ("nn1", True, 20, 20, 5000, False, "leader nn1, apply lag 4980 > 100"),
        ("", True, 500, 500, 500, False, "no leader known"),
        ("nn1", False, 500, 500, 500, False, "not connected to leader nn1"),
    ],
)
def test_namenode_verdict(leader, connected, commit, applied, leader_commit, ready, reason):
    found = namenode_verdict(leader, connected, commit, applied, 100, leader_commit)
    assert found == Verdict(ready, reason)


def test_apply_lag_never_goes_negative():
    assert apply_lag(10, 12) == 0  # applied past the commit index it knows: caught up
    assert apply_lag(10, 4, leader_commit_index=9) == 6


def status(node_id="nn2", leader="nn1", reachable=True, commit=50, applied=50, heard=50):
    members = (
        Member(node_id, "a:2", True, applied),
        Member("nn1", "a:1", reachable if node_id != "nn1" else True, 0),
        Member("nn3", "a:3", True, 0),
    )
    return ConsensusStatus(
        node_id,
        "standby",
        3,
        commit,
        applied,
        leader,
        "a:1" if leader else "",
        members,
        leader_commit_index=heard,
    )


def test_namenode_readiness_from_the_consensus_status():
    assert verdict(status(), 100).ready
    assert verdict(status(node_id="nn1"), 100).ready  # the leader is connected to itself
    assert verdict(status(reachable=False), 100) == Verdict(False, "not connected to leader nn1")
    assert verdict(status(leader=""), 100).reason == "no leader known"
    assert not verdict(status(commit=50, applied=50, heard=400), 100).ready
    assert verdict(status(commit=50, applied=50, heard=400), 1000).ready
    assert verdict(status(leader="nn9"), 100).reason == "not connected to leader nn9"


def test_datanode_verdict_needs_every_nameservice():
    assert datanode_verdict({"ns1": "h:1", "ns2": "h:2"}) == Verdict(
        True, "registered with ns1 at h:1, ns2 at h:2"
    )
    assert datanode_verdict({"ns1": "h:1", "ns2": "", "ns3": ""}) == Verdict(
        False, "not registered with ns2, ns3"
    )


def test_the_loop_publishes_every_check_and_logs_each_change_once(caplog):
    answers = [Verdict(False, "no leader known")] * 2 + [Verdict(True, "leader nn1")] * 2
    published: list[bool] = []
    loop = ReadinessLoop(lambda: answers.pop(0), published.append, period_s=60)
    with caplog.at_level(logging.INFO, logger="hafs_api.readiness"):
        for _ in range(4):
            loop.run_once()

        def broken() -> Verdict:
            raise RuntimeError("the Raft replica is not running")

        loop._check = broken
        assert loop.run_once() == Verdict(False, "cannot tell: the Raft replica is not running")
    assert published == [False, False, True, True, False]
    assert [r.getMessage() for r in caplog.records] == [
        "not ready: no leader known",
        "ready: leader nn1",
        "not ready: cannot tell: the Raft replica is not running",
    ]


def test_the_loop_runs_on_its_thread_and_stop_publishes_not_ready():
    published: list[bool] = []
    loop = ReadinessLoop(lambda: Verdict(True, "fine"), published.append, period_s=0.01)
    loop.start()
    try:
        assert published[0] is True  # checked once before start returns
    finally:
        loop.stop()
    assert published[-1] is False and loop.verdict == Verdict(True, "fine")
