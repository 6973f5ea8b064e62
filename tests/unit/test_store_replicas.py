"""The store contract for DataNodes, replica locations and invalidations.

Run against ``MemoryStore`` and ``SqlStore`` alike (the fixture of
``test_store_contract``).
"""

from __future__ import annotations

from test_store_contract import f, seeded

from ha_namenode.namespace.model import (
    AdminState,
    Block,
    Datanode,
    Invalidation,
    Replica,
    ReplicaState,
)
from ha_namenode.namespace.store import Store

FIN, EXP, BAD = ReplicaState.FINALIZED, ReplicaState.EXPECTED, ReplicaState.CORRUPT


def test_datanodes_round_trip_and_replace(store: Store) -> None:
    seeded(store)
    with store.write(2) as txn:
        txn.put_datanode(Datanode("dn2", "127.0.0.1:2", "/r2"))
        txn.put_datanode(Datanode("dn1", "127.0.0.1:1", "/r1"))
        txn.put_datanode(Datanode("dn1", "127.0.0.1:9", "/r1", AdminState.DECOMMISSIONING))
    with store.read() as view:
        assert view.datanodes() == [
            Datanode("dn1", "127.0.0.1:9", "/r1", AdminState.DECOMMISSIONING),
            Datanode("dn2", "127.0.0.1:2", "/r2"),
        ]
        assert view.datanode("dn1").admin is AdminState.DECOMMISSIONING
        assert view.datanode("dn3") is None


def test_a_datanodes_maintenance_expiry_round_trips(store: Store) -> None:
    seeded(store)
    entering = Datanode("dn1", "h:1", "/r1", AdminState.ENTERING_MAINTENANCE, 1_800_000_000_123)
    with store.write(2) as txn:
        txn.put_datanode(entering)
        txn.put_datanode(Datanode("dn2", "h:2", "/r2", AdminState.IN_MAINTENANCE))
    with store.read() as view:
        assert view.datanode("dn1") == entering
        assert view.datanode("dn1").admin is AdminState.ENTERING_MAINTENANCE
        assert view.datanode("dn2").maintenance_expiry == 0
        assert view.datanode("dn2").admin.maintenance


def test_replicas_by_block_and_by_datanode(store: Store) -> None:
    seeded(store, f(2, 1, "a"))
    with store.write(2) as txn:
        for i in (10, 11, 12):
            txn.put_block(Block(i, 2, i - 10, 100 + i, 5))
        txn.put_replica(Replica(10, "dn2", 110, 5, FIN))
        txn.put_replica(Replica(10, "dn1", 110, 5, EXP))
        txn.put_replica(Replica(11, "dn1", 111, 5, BAD))
        txn.put_replica(Replica(12, "dn1", 112, 5, FIN))
        txn.put_replica(Replica(10, "dn1", 110, 5, FIN))  # replaces by (block, datanode)
    with store.read() as view:
        assert view.replicas(10) == [
            Replica(10, "dn1", 110, 5, FIN),
            Replica(10, "dn2", 110, 5, FIN),
        ]
        assert [r.block for r in view.replicas_on("dn1")] == [10, 11, 12]
        assert [r.block for r in view.replicas_on("dn1", after=10, limit=1)] == [11]
        assert view.replicas_on("dn9") == []
        assert [b.id for b in view.blocks_after(10, 5)] == [11, 12]
        assert [b.id for b in view.blocks_after(0, 2)] == [10, 11]
    with store.write(3) as txn:
        txn.delete_replica(10, "dn2")
        txn.delete_replica(10, "dn7")  # absent: no error
    with store.read() as view:
        assert [r.datanode for r in view.replicas(10)] == ["dn1"]


def test_deleting_a_block_turns_its_replicas_into_invalidations(store: Store) -> None:
    seeded(store, f(2, 1, "a"))
    with store.write(2) as txn:
        txn.put_block(Block(10, 2, 0, 7, 5))
        txn.put_replica(Replica(10, "dn1", 7, 5, FIN))
        txn.put_replica(Replica(10, "dn2", 6, 5, BAD))
    with store.write(3) as txn:
        txn.delete_block(10)
    with store.read() as view:
        assert view.replicas(10) == []
        assert view.invalidations("dn1") == [Invalidation(10, 7, "dn1")]
        assert view.invalidations("dn2") == [Invalidation(10, 7, "dn2")]  # the newest stamp
    with store.write(4) as txn:
        txn.delete_invalidation(10, "dn1")
    with store.read() as view:
        assert view.invalidations("dn1") == []
        assert len(view.invalidations("dn2", limit=1)) == 1


def test_replica_changes_roll_back_with_a_savepoint(store: Store) -> None:
    seeded(store, f(2, 1, "a"))
    with store.write(2) as txn:
        txn.put_block(Block(10, 2, 0, 7, 5))
        txn.put_replica(Replica(10, "dn1", 7, 5, FIN))
        try:
            with txn.savepoint():
                txn.delete_block(10)
                txn.put_datanode(Datanode("dn1", "a:1", "/r"))
                raise RuntimeError("undo")
        except RuntimeError:
            pass
    with store.read() as view:
        assert view.replicas(10) == [Replica(10, "dn1", 7, 5, FIN)]
        assert view.invalidations("dn1") == []
        assert view.datanodes() == []
