"""Three RaftConsensus replicas in this process, over real sockets on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from chaos.cluster import free_port
from ha_namenode.consensus.base import RaftSettings
from ha_namenode.consensus.cipher import RaftCipher
from ha_namenode.consensus.raft import Peer, RaftConsensus, StartupError
from ha_namenode.namespace import commands as c
from ha_namenode.namespace import queries
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.model import Caller, FileStatus
from ha_namenode.persistence import SqlStore, read_dump
from hafs_api.errors import NotLeader

pytestmark = pytest.mark.integration
SUPER = Caller("hdfs", ("supergroup",), True)
SETTINGS = RaftSettings(
    password="secret", compaction_min_entries=10_000, compaction_min_time_s=3600
)


class Group:
    def __init__(self, base: Path, size: int = 3) -> None:
        self.base = base
        self.peers = [
            Peer(f"nn{i + 1}", f"127.0.0.1:{free_port()}", f"127.0.0.1:{9000 + i}")
            for i in range(size)
        ]
        self.nodes: dict[str, RaftConsensus] = {}
        self.stores: dict[str, SqlStore] = {}
        self.stops: list[str] = []

    def start(self, node_id: str, settings: RaftSettings = SETTINGS) -> RaftConsensus:
        me = next(p for p in self.peers if p.node_id == node_id)
        data = self.base / node_id
        data.mkdir(parents=True, exist_ok=True)
        store = SqlStore(data / "namespace.db")
        node = RaftConsensus(
            StateMachine(store),
            store,
            me,
            self.peers,
            data,
            settings,
            fail_stop=self.stops.append,
        )
        self.stores[node_id], self.nodes[node_id] = store, node
        node.start()
        return node

    def stop(self, node_id: str) -> None:
        self.nodes.pop(node_id).stop()
        self.stores.pop(node_id).close()

    def leader(self, timeout: float = 10.0) -> RaftConsensus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = [n for n in self.nodes.values() if n.is_leader]
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.02)
        raise AssertionError("no single leader elected")

    def names(self, node_id: str, path: str = "/") -> list[str]:
        with self.stores[node_id].read() as view:
            return [e.path for e in queries.listing(view, SUPER, path).entries]

    def wait_converged(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            indexes = {s.applied_index() for s in self.stores.values()}
            if len(indexes) == 1:
                return
            time.sleep(0.02)
        raise AssertionError(f"replicas did not converge: {indexes}")


@pytest.fixture
def group(tmp_path):
    g = Group(tmp_path)
    for peer in g.peers:
        g.start(peer.node_id)
    yield g
    for node_id in list(g.nodes):
        g.stop(node_id)


def write(node: RaftConsensus, cmd, call: int):
    return node.propose(c.Envelope(cmd, SUPER, 1_000 + call, "client", call)).result(10)


def test_leader_elected_and_writes_replicate(group):
    leader = group.leader()
    assert write(leader, c.Format("hdfs", "supergroup"), 1).value is True
    futures = [
        leader.propose(c.Envelope(c.Mkdir(f"/d{i}", 0o755), SUPER, 2, "client", 10 + i))
        for i in range(40)
    ]
    assert all(isinstance(f.result(10), FileStatus) for f in futures)
    group.wait_converged()
    expected = [f"/d{i}" for i in sorted(range(40), key=str)]
    for node_id in group.nodes:
        assert group.names(node_id) == expected
    status = leader.status()
    assert status.state == "active" and status.term >= 1
    assert {m.node_id for m in status.members} == {"nn1", "nn2", "nn3"}


def test_a_replica_with_another_password_is_kept_out(tmp_path):
    g = Group(tmp_path)
    try:
        g.start("nn1")
        g.start("nn2")
        stranger = g.start("nn3", dataclasses.replace(SETTINGS, password="not the secret"))
        leader = g.leader()
        assert leader is not stranger
        assert isinstance(leader._replica.encryptor, RaftCipher)  # AES-GCM, not Fernet
        assert write(leader, c.Format("hdfs", "supergroup"), 1).value is True
        write(leader, c.Mkdir("/inside", 0o755), 2)
        time.sleep(1.0)  # several heartbeats: every message to nn3 fails authentication
        assert g.names("nn1") == g.names("nn2") == ["/inside"]
        assert g.stores["nn3"].applied_index() == 0
        assert not stranger.is_leader and stranger.status().leader_id in ("", None)
    finally:
        for node_id in list(g.nodes):
            g.stop(node_id)


def test_followers_refuse_with_the_leaders_address(group):
    leader = group.leader()
    leader_peer = next(p for p in group.peers if group.nodes[p.node_id] is leader)
    follower = next(n for n in group.nodes.values() if n is not leader)
    with pytest.raises(NotLeader) as info:
        follower.propose(c.Envelope(c.Format("hdfs", "supergroup"), SUPER, 1)).result(5)
    assert info.value.leader_hint == leader_peer.rpc_address
    with pytest.raises(NotLeader):
        follower.read_barrier(5)
    leader.read_barrier(5)  # commits in the leader's term


def test_retry_cache_answers_a_retry_on_the_new_leader(group):
    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    first = write(leader, c.Mkdir("/once", 0o755), 2)
    old = next(k for k, n in group.nodes.items() if n is leader)
    group.stop(old)
    new_leader = group.leader()
    again = write(new_leader, c.Mkdir("/once", 0o755), 2)  # the same call id: the first result
    assert again == first


def test_snapshot_then_restart_of_every_replica(group):
    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    for i in range(20):
        write(leader, c.Mkdir(f"/before{i:02d}", 0o755), 10 + i)
    leader_id = next(k for k, n in group.nodes.items() if n is leader)
    leader.force_compaction()
    dump = group.base / leader_id / "raft.dump"
    deadline = time.monotonic() + 10
    while not dump.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    index, extra = read_dump(dump)
    assert index >= 21 and '"cluster"' in extra
    write(leader, c.Mkdir("/after", 0o755), 99)
    group.wait_converged()
    before = {k: group.names(k) for k in group.nodes}
    for node_id in list(group.nodes):
        group.stop(node_id)
    for peer in group.peers:
        group.start(peer.node_id)
    group.leader()
    group.wait_converged()
    assert {k: group.names(k) for k in group.nodes} == before
    assert "/after" in before[leader_id]
    assert group.stops == []


def test_a_corrupt_dump_is_a_clear_startup_error(group):
    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    leader.force_compaction()
    node_id = next(k for k, n in group.nodes.items() if n is leader)
    dump = group.base / node_id / "raft.dump"
    deadline = time.monotonic() + 10
    while not dump.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    group.stop(node_id)
    dump.write_bytes(dump.read_bytes()[:100])  # truncated
    with pytest.raises(StartupError, match=str(dump)):
        group.start(node_id)
    group.stores.pop(node_id).close()
    group.nodes.pop(node_id)


def test_a_lagging_follower_catches_up_by_snapshot_install(group):
    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    leader_id = next(k for k, n in group.nodes.items() if n is leader)
    lagging = next(k for k in group.nodes if k != leader_id)
    group.stop(lagging)
    for i in range(30):
        write(leader, c.Mkdir(f"/while-down{i:02d}", 0o755), 10 + i)
    leader.force_compaction()  # the entries it missed leave the leader's journal
    dump = group.base / leader_id / "raft.dump"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (dump.exists() and read_dump(dump)[0] >= 31):
        time.sleep(0.05)
    write(leader, c.Mkdir("/after-dump", 0o755), 99)
    group.start(lagging)
    group.wait_converged(timeout=20)
    assert group.names(lagging) == group.names(leader_id)
    assert "/while-down29" in group.names(lagging)


def _journal_end(data: bytes) -> int:
    from pysyncobj import journal

    return int.from_bytes(data[journal.LAST_RECORD_OFFSET_OFFSET :][:4], "little")


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:20],  # header cut
        lambda b: b[: _journal_end(b) - 7],  # the last record cut short
        lambda b: b[:60] + b"\xff" * 8 + b[68:],  # a length overwritten
        lambda b: b"",
    ],
    ids=["header", "tail", "length", "empty"],
)
def test_a_damaged_journal_is_a_clear_startup_error(group, damage):
    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    write(leader, c.Mkdir("/x", 0o755), 2)
    node_id = next(k for k, n in group.nodes.items() if n is leader)
    group.stop(node_id)
    journal = group.base / node_id / "raft.journal"
    journal.write_bytes(damage(journal.read_bytes()))
    with pytest.raises(StartupError, match=f"journal {journal} is damaged"):
        group.start(node_id)
    group.stores.pop(node_id).close()
    group.nodes.pop(node_id)


def test_a_store_failure_stops_the_replica(group, monkeypatch):
    """Nothing escapes apply: a broken store makes the replica stop, not skip the entry."""
    from ha_namenode.namespace.store import StoreFailure

    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    follower_id = next(k for k, n in group.nodes.items() if n is not leader)
    follower = group.nodes[follower_id]

    def broken(index, payload):
        raise StoreFailure("disk I/O error")

    monkeypatch.setattr(follower._sm, "apply", broken)
    write(leader, c.Mkdir("/y", 0o755), 2)  # a majority still commits it
    deadline = time.monotonic() + 10
    while not group.stops and time.monotonic() < deadline:
        time.sleep(0.02)
    assert group.stops and "could not be applied" in group.stops[0]


def test_an_isolated_leader_cannot_pass_a_read_barrier(group):
    """Until leaderFallbackTimeout it still thinks it leads; its reads must fail, not go stale."""
    from hafs_api.errors import Unavailable

    leader = group.leader()
    write(leader, c.Format("hdfs", "supergroup"), 1)
    for node_id in [k for k, n in group.nodes.items() if n is not leader]:
        group.stop(node_id)
    assert leader.is_leader  # it has not noticed yet
    with pytest.raises((Unavailable, NotLeader)):
        leader.read_barrier(1.0)
    with pytest.raises((Unavailable, NotLeader)):
        leader.propose(c.Envelope(c.Mkdir("/lost", 0o755), SUPER, 2, "client", 2)).result(5)
    deadline = time.monotonic() + 10
    while leader.is_leader and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leader.is_leader  # it stepped down within leaderFallbackTimeout


def test_the_journal_is_synced_on_every_append_and_once_per_compaction(group):
    from ha_namenode.consensus.raft import SyncedJournal

    leader = group.leader()
    journal = leader._replica._SyncObj__raftLog
    assert isinstance(journal, SyncedJournal)
    before = journal.flushes
    write(leader, c.Format("hdfs", "supergroup"), 1)
    for i in range(5):
        write(leader, c.Mkdir(f"/s{i}", 0o755), 10 + i)
    assert journal.flushes - before >= 6  # one per entry appended
    flushed = journal.flushes
    journal.deleteEntriesTo(3)  # a compaction rewrites the rest: one flush, not one each
    assert journal.flushes == flushed + 1


def test_term_and_vote_are_fsynced(tmp_path, monkeypatch):
    import os

    from ha_namenode.consensus.raft import SyncedJournal

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    journal = SyncedJournal(str(tmp_path / "j"))
    try:
        journal.setCurrentTerm(7, "127.0.0.1:1")
        assert len(synced) >= 2  # the file and its directory
        assert SyncedJournal(str(tmp_path / "j2")).getCurrentTerm() == 0
        reopened = SyncedJournal(str(tmp_path / "j"))
        assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (7, "127.0.0.1:1")
    finally:
        journal._destroy()
