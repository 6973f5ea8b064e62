"""The member directory and the quorum rule for one-at-a-time membership changes."""

from __future__ import annotations

import pytest

from ha_namenode.consensus import membership
from ha_namenode.consensus.raft import Peer

NN1 = Peer("nn1", "h:1", "h:11")
NN2 = Peer("nn2", "h:2", "h:12")


@pytest.mark.parametrize(
    ("size", "reachable", "ok"),
    [
        (4, 3, True),  # add a 4th to a healthy 3: the new one need not be up yet
        (4, 2, False),  # add a 4th while one of 3 is down: 2 of 4 cannot commit
        (2, 2, True),  # remove the down one of 3
        (2, 1, False),  # remove a live one while another is down
        (1, 1, True),
        (5, 3, True),
    ],
)
def test_quorum_rule(size, reachable, ok):
    problem = membership.quorum_problem("add", "nnX", size, reachable)
    assert (problem == "") is ok
    if not ok:
        assert f"{reachable} of {size}" in problem and "nnX" in problem


def test_directory_latest_word_wins_and_names_former_members():
    d = membership.Directory([NN1, NN2])
    assert d.by_raft("h:2") == NN2 and d.by_id("nn2") == NN2
    moved = Peer("nn2", "h:2", "h:22")
    d.learn(moved)
    assert d.by_raft("h:2") == moved and d.by_id("nn2") == moved
    assert d.by_raft("h:9") is None and d.by_id("nn9") is None


def test_dump_entries_round_trip_and_tolerate_old_or_bad_dumps():
    plain = membership.dump_entries([NN1, NN2, Peer("", "h:3", "")])
    assert plain == {"h:1": ["nn1", "h:11"], "h:2": ["nn2", "h:12"]}
    assert membership.load_entries(plain) == {"h:1": ("nn1", "h:11"), "h:2": ("nn2", "h:12")}
    assert membership.load_entries(None) == {}  # a dump from before membership changes
    assert membership.load_entries({"h:1": ["nn1"], "h:2": [1, 2], "h:3": "x"}) == {}
