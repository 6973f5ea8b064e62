"""The one-member consensus: group commit, ordering, and failures of the store."""

import pytest

from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import Caller, Done, Failed, FileStatus
from ha_namenode.namespace.store import StoreFailure
from hafs_api.errors import NotLeader, StorageFull, Unavailable, Unsupported

SUPER = Caller("hdfs", ("supergroup",), True)


@pytest.fixture
def consensus():
    node = LocalConsensus(StateMachine(MemoryStore()), "nn1", "127.0.0.1:1")
    node.start()
    node.propose(c.Envelope(c.Format("hdfs", "supergroup"), SUPER, 1)).result(5)
    yield node
    node.stop()


def test_concurrent_proposals_are_group_committed(consensus):
    before = consensus.batches
    # Hold the apply thread so proposals pile up, then release them at once.
    blocker = consensus._sm.store._lock
    blocker.acquire()
    try:
        futures = [
            consensus.propose(c.Envelope(c.Mkdir(f"/d{i}", 0o755), SUPER, 2, "cl", i))
            for i in range(50)
        ]
    finally:
        blocker.release()
    results = [f.result(5) for f in futures]
    assert all(isinstance(r, FileStatus) for r in results)
    assert [r.path for r in results] == [f"/d{i}" for i in range(50)]
    assert consensus.batches - before < 50  # fewer log entries than operations
    assert consensus.status().applied_index == consensus._sm.store.applied_index()


def test_domain_errors_are_results(consensus):
    result = consensus.propose(c.Envelope(c.Mkdir("/a/b", 0o755), SUPER, 2)).result(5)
    assert isinstance(result, Failed) and result.code == "FILE_NOT_FOUND"


@pytest.mark.parametrize(("disk_full", "error"), [(True, StorageFull), (False, Unavailable)])
def test_store_failure_fails_the_batch_and_keeps_serving(consensus, monkeypatch, disk_full, error):
    index = consensus.status().applied_index
    original = consensus._sm.apply

    def broken(i, payload):
        raise StoreFailure("disk full" if disk_full else "I/O error", disk_full=disk_full)

    monkeypatch.setattr(consensus._sm, "apply", broken)
    with pytest.raises(error):
        consensus.propose(c.Envelope(c.Mkdir("/x", 0o755), SUPER, 2)).result(5)
    assert consensus.status().applied_index == index
    monkeypatch.setattr(consensus._sm, "apply", original)
    assert isinstance(
        consensus.propose(c.Envelope(c.Mkdir("/x", 0o755), SUPER, 3)).result(5), FileStatus
    )


def test_stopped_node_refuses(consensus):
    consensus.stop()
    with pytest.raises(NotLeader):
        consensus.propose(c.Envelope(c.RenewLease("x"), SUPER, 2)).result(5)
    with pytest.raises(NotLeader):
        consensus.read_barrier(1)


def test_single_member_cannot_transfer(consensus):
    with pytest.raises(Unsupported, match="single NameNode"):
        consensus.transfer_leadership("nn2")
    assert isinstance(consensus.propose(c.Envelope(c.RenewLease("x"), SUPER, 2)).result(5), Done)


def test_an_unencodable_proposal_fails_alone_and_the_node_goes_on(consensus):
    bad = c.Envelope(c.Mkdir("/x", 0o755), Caller("\udc80"), 2)  # a lone surrogate
    with pytest.raises(Unavailable):
        consensus.propose(bad).result(5)
    assert isinstance(
        consensus.propose(c.Envelope(c.Mkdir("/x", 0o755), SUPER, 3)).result(5), FileStatus
    )
