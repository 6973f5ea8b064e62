"""A follower never drops log entries it acknowledged to its current leader.

pysyncobj truncates everything after ``prevLogIdx`` on each append_entries, so a
resend shorter than the follower's log (a pipelined leader whose nextIndex was
reset) would delete acknowledged entries the leader still counts for commit.
``appendguard`` keeps them; these tests prove it on the pure function and on a
real pysyncobj replica fed the messages a leader sends, and show that plain
pysyncobj has the bug (so an upstream fix would be noticed here).
"""

from __future__ import annotations

import pytest
from pysyncobj import SyncObj, SyncObjConf

from chaos.configs import free_port
from ha_namenode.consensus.appendguard import AppendGuard, guard_append
from ha_namenode.consensus.raft import _Replica


def e(index: int, term: int, data: bytes = b"x") -> tuple:
    return (data, index, term)


def test_a_shorter_matching_resend_keeps_the_confirmed_entries():
    existing = [e(3, 1), e(4, 1), e(5, 1)]
    assert guard_append(2, [e(3, 1)], existing, confirmed=5) == existing


def test_only_entries_confirmed_by_this_leader_are_kept():
    existing = [e(3, 1), e(4, 1), e(5, 1)]
    assert guard_append(2, [e(3, 1)], existing, confirmed=4) == [e(3, 1), e(4, 1)]
    assert guard_append(2, [e(3, 1)], existing, confirmed=0) == [e(3, 1)]


def test_a_conflict_truncates_as_raft_says():
    existing = [e(3, 1), e(4, 1), e(5, 1)]
    assert guard_append(2, [e(3, 2)], existing, confirmed=5) == [e(3, 2)]


def test_a_message_covering_the_log_is_left_alone():
    existing = [e(3, 1)]
    new = [e(3, 1), e(4, 1)]
    assert guard_append(2, new, existing, confirmed=3) == new
    assert guard_append(2, [], [], confirmed=9) == []


def test_a_heartbeat_behind_the_log_keeps_it():
    existing = [e(3, 1), e(4, 1)]
    assert guard_append(2, [], existing, confirmed=4) == existing


def test_the_guard_forgets_on_a_new_term():
    g = AppendGuard()
    g.accepted(3, 10)
    g.accepted(3, 7)
    assert g.confirmed_for(3) == 10
    assert g.confirmed_for(4) == 0
    g.accepted(4, 2)
    assert g.confirmed_for(4) == 2 and g.confirmed_for(3) == 0


class _Owner:
    def _apply(self, index, payload):
        return None


class _Plain(SyncObj):
    pass


def follower(kind):
    me, leader = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    conf = SyncObjConf(autoTick=False, password="p" * 16, appendEntriesUseBatch=False)
    replica = kind(_Owner(), me, [leader], conf) if kind is _Replica else kind(me, [leader], conf)
    node = next(iter(replica._SyncObj__otherNodes))

    def append(prev, prev_term, entries, term=1):
        replica._SyncObj__onMessageReceived(
            node,
            {
                "type": "append_entries",
                "term": term,
                "commit_index": 0,
                "prevLogIdx": prev,
                "prevLogTerm": prev_term,
                "entries": entries,
            },
        )

    def log():
        return [(x[1], x[2]) for x in replica._SyncObj__raftLog[:]]

    return replica, append, log


@pytest.mark.parametrize("kind", [_Replica, _Plain], ids=["hafs", "plain-pysyncobj"])
def test_a_follower_fed_a_short_resend(kind):
    replica, append, log = follower(kind)
    try:
        append(1, 0, [e(2, 1, b"a"), e(3, 1, b"b"), e(4, 1, b"c")])  # acknowledged up to 4
        append(1, 0, [e(2, 1, b"a")])  # the leader's nextIndex was reset: a shorter resend
        if kind is _Replica:
            assert log() == [(1, 0), (2, 1), (3, 1), (4, 1)]
            assert replica._guard.kept == 2
            append(2, 1, [e(3, 2, b"X")], term=2)  # a new leader's conflicting entry
            assert log() == [(1, 0), (2, 1), (3, 2)]
        else:
            assert log() == [(1, 0), (2, 1)]  # upstream drops acknowledged entries 3 and 4
    finally:
        replica.destroy()


def test_conflict_cut():
    from ha_namenode.consensus.appendguard import conflict_cut

    assert conflict_cut(6, 3, 2, last_applied=4) == 6
    assert conflict_cut(6, 3, 3, last_applied=4) is None  # same term: no conflict
    assert conflict_cut(6, 3, None, last_applied=4) is None  # nothing held there
    assert conflict_cut(4, 3, 2, last_applied=4) is None  # applied entries are committed


def replies_of(replica) -> list[dict]:
    sent: list[dict] = []
    replica._SyncObj__transport.send = lambda node, message: sent.append(message)
    return sent


@pytest.mark.parametrize("kind", [_Replica, _Plain], ids=["hafs", "plain-pysyncobj"])
def test_a_rejoining_follower_with_a_stale_suffix_walks_back_steadily(kind):
    """A former leader holds 5..6 of its old term 2; the new leader (term 3) has other
    entries there and pipelines: each message's prevLogIdx is ahead of the last."""
    replica, append, log = follower(kind)
    try:
        append(1, 0, [e(2, 1), e(3, 1), e(4, 1)])
        append(4, 1, [e(5, 2), e(6, 2)], term=2)  # never committed: the old leader was cut off
        sent = replies_of(replica)
        append(6, 3, [e(7, 3)], term=3)  # the new leader's entry 6 has term 3: a conflict
        append(7, 3, [e(8, 3)], term=3)  # already in flight
        nexts = [m["next_node_idx"] for m in sent if m["type"] == "next_node_idx"]
        if kind is _Replica:
            assert nexts == [6, 6]  # both replies agree: walk back from 6
            assert log()[-1] == (5, 2)
            append(4, 1, [e(5, 3), e(6, 3), e(7, 3), e(8, 3)], term=3)
            append(5, 3, [e(6, 3)], term=3)  # a late duplicate: nothing is lost
            assert log()[-5:] == [(4, 1), (5, 3), (6, 3), (7, 3), (8, 3)]
        else:
            assert nexts == [6, 7]  # the second reply undoes the first: a livelock under load
    finally:
        replica.destroy()
