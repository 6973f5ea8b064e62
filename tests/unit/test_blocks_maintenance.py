"""Maintenance end to end on an in-process leader: the monitor copies what a node
entering maintenance must not take down, moves it to IN_MAINTENANCE, leaves a dead
node in maintenance alone while its blocks keep enough live replicas elsewhere, and
ends maintenance at its expiry; plus the pure rules of ``blocks.maintenance``."""

from __future__ import annotations

import pytest
from leaderharness import Leader

from ha_namenode.blocks import maintenance
from ha_namenode.blocks.planner import BlockState, census
from ha_namenode.blocks.registry import Liveness, NodeView, Stats
from ha_namenode.namespace.commands import SetReplication
from ha_namenode.namespace.model import AdminState, Replica, ReplicaState

IN, ENTERING, IN_MAINT = (
    AdminState.IN_SERVICE,
    AdminState.ENTERING_MAINTENANCE,
    AdminState.IN_MAINTENANCE,
)


def view(id: str, admin=IN, liveness=Liveness.LIVE, expiry=0) -> NodeView:
    return NodeView(id, f"{id}:1", "/r", admin, liveness, Stats(9, 1, 8), True, 0, 0.1, expiry)


def state(expected: int, *holders: str, open: bool = False) -> BlockState:
    rows = tuple(Replica(1, h, 5, 10, ReplicaState.FINALIZED) for h in holders)
    return BlockState(1, 5, 10, expected, rows, open)


@pytest.mark.parametrize(
    ("admin", "expected", "holders", "minimum", "holds"),
    [
        (ENTERING, 1, "m", 1, True),  # the only replica: copy it first
        (ENTERING, 2, "m a", 1, False),
        (ENTERING, 3, "m a", 2, True),  # min 2, one live elsewhere
        (ENTERING, 1, "m a", 2, False),  # min capped at the replication
        (AdminState.DECOMMISSIONING, 2, "m a", 1, True),  # decommissioning wants it all
        (AdminState.DECOMMISSIONING, 2, "m a b", 1, False),
    ],
)
def test_what_holds_a_node_from_its_next_state(admin, expected, holders, minimum, holds):
    nodes = {n: view(n) for n in holders.split()} | {"m": view("m", admin)}
    block = state(expected, *holders.split())
    assert maintenance.holds_node(block, census(block, nodes), admin, minimum) is holds
    open_block = state(expected, *holders.split(), open=True)
    assert not maintenance.holds_node(open_block, census(open_block, nodes), admin, minimum)


def test_expired_maintenance():
    nodes = [
        view("a", ENTERING, expiry=100),
        view("b", IN_MAINT, expiry=99),
        view("c", IN_MAINT, expiry=0),  # no expiry
        view("d", IN_MAINT, expiry=101),
        view("e", IN, expiry=5),  # not in maintenance
    ]
    assert maintenance.expired(nodes, 100) == ["a", "b"]


@pytest.fixture
def leader():
    lead = Leader()
    for i, rack in (("dn1", "/r1"), ("dn2", "/r2"), ("dn3", "/r1"), ("dn4", "/r2")):
        lead.add_datanode(i, rack)
    yield lead
    lead.close()


def test_entering_maintenance_copies_the_blocks_that_need_it_then_is_in_maintenance(leader):
    [only] = leader.write("/one", [100], [["dn1"]])  # replication 1: only dn1 has it
    [spread] = leader.write("/three", [100], [["dn1", "dn2", "dn3"]])
    until = int(leader.wall.now * 1000) + 60_000
    leader.manager.set_admin("dn1", ENTERING, until)
    leader.tick()  # the copy is ordered: dn1 is its source
    assert leader.admin("dn1") == (ENTERING, until)
    leader.tick()  # dn1 sends it, the target reports it
    assert len(leader.holders(only)) == 2 and "dn1" in leader.holders(only)
    leader.tick()
    assert leader.admin("dn1") == (IN_MAINT, until)  # the expiry is kept
    assert leader.holders(spread) == {"dn1", "dn2", "dn3"}  # nothing copied: 2 live elsewhere
    assert leader.monitor.health.under_replicated == 0


def test_a_dead_node_in_maintenance_is_not_re_replicated_while_the_minimum_holds(leader):
    [block] = leader.write("/f", [100], [["dn1", "dn2", "dn3"]])
    leader.manager.set_admin("dn1", ENTERING)
    leader.tick()
    assert leader.admin("dn1") == (IN_MAINT, 0)
    leader.datanodes["dn1"].alive = False
    for _ in range(14):  # 7 s: dead after 5
        leader.tick()
    assert leader.manager.views()["dn1"].liveness is Liveness.DEAD
    assert leader.holders(block) == {"dn1", "dn2", "dn3"}  # no copy
    health = leader.monitor.health
    assert (health.under_replicated, health.missing) == (0, 0)
    leader.datanodes["dn2"].alive = False  # a second, ordinary failure
    for _ in range(14):
        leader.tick()
    # dn3 is the one live replica; the block needs max(3 - 1, 1) = 2: one is re-made
    alive = {h for h in leader.holders(block) if leader.datanodes[h].alive}
    assert alive == {"dn3", "dn4"}


def test_a_block_below_the_minimum_is_re_replicated_though_its_node_is_in_maintenance():
    lead = Leader(maintenance_min_replicas=2)
    try:
        for i, rack in (("dn1", "/r1"), ("dn2", "/r2"), ("dn3", "/r1")):
            lead.add_datanode(i, rack)
        [block] = lead.write("/f", [100], [["dn1", "dn2"]])
        lead.manager.set_admin("dn1", ENTERING)
        lead.tick()
        assert lead.admin("dn1")[0] is ENTERING  # one live elsewhere, two wanted
        lead.tick()
        lead.tick()
        assert lead.holders(block) == {"dn1", "dn2", "dn3"}
        assert lead.admin("dn1")[0] is IN_MAINT
    finally:
        lead.close()


def test_maintenance_ends_at_its_expiry(leader):
    leader.write("/f", [100], [["dn1", "dn2"]])
    until = int(leader.wall.now * 1000) + 10_000
    leader.manager.set_admin("dn1", ENTERING, until)
    leader.tick()
    assert leader.admin("dn1") == (IN_MAINT, until)
    for _ in range(18):  # 9.5 s in all
        leader.tick()
    assert leader.admin("dn1") == (IN_MAINT, until)
    leader.tick()
    leader.tick()
    assert leader.admin("dn1") == (IN, 0)
    assert leader.manager.views()["dn1"].admin is IN


def test_a_node_in_maintenance_takes_no_new_replica_and_its_replica_is_not_surplus(leader):
    leader.manager.set_admin("dn4", ENTERING)
    leader.tick()
    assert leader.admin("dn4")[0] is IN_MAINT
    [block] = leader.write("/f", [100], [["dn1", "dn2", "dn4"]])
    leader.ns.system(SetReplication("/f", 2))
    for _ in range(4):
        leader.tick()
    assert leader.holders(block) == {"dn1", "dn2", "dn4"}  # 2 live: none surplus, dn4's kept
    leader.ns.system(SetReplication("/f", 3))
    leader.datanodes["dn1"].alive = False
    for _ in range(14):
        leader.tick()
    # one live replica (dn2); it needs 3 - 1 in maintenance = 2: made on dn3, never dn4
    assert leader.holders(block) == {"dn1", "dn2", "dn3", "dn4"}
    assert all(dn != "dn4" for dn, _ in leader.deletions)


def test_metasave_counts_maintenance_replicas_as_the_monitor_does(leader):
    from ha_namenode.blocks import metasave

    [kept] = leader.write("/kept", [100], [["dn1", "dn2", "dn3"]])
    [short] = leader.write("/short", [100], [["dn1", "dn2"]])
    leader.manager.set_admin("dn1", ENTERING)
    for _ in range(3):
        leader.tick()
    assert leader.admin("dn1")[0] is IN_MAINT
    leader.datanodes["dn1"].alive = False
    for _ in range(14):  # 7 s: dead after 5
        leader.tick()
    leader.ns.system(SetReplication("/short", 3))  # now 2 live wanted, 1 held
    nodes = leader.manager.views()

    def under(minimum: int):
        found = leader.ns.view(
            lambda v: metasave.collect(v, nodes, {}, {}, maintenance_min=minimum)
        )
        return {b.block_id: (b.live, b.maintenance, b.expected) for b in found.under_replicated}

    assert under(1) == {short: (1, 1, 3)}  # /kept: 2 live of max(3 - 1, 1)
    assert under(3) == {short: (1, 1, 3), kept: (2, 1, 3)}
