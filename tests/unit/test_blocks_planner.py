"""Replication planning: copies for under-replicated blocks in priority order under
the per-node throttle, deletions of corrupt and surplus replicas only when safe,
and the Health counts. Pure: block states, node views and copies in flight in."""

from __future__ import annotations

import random

import pytest

from ha_namenode.blocks.placement import choose_surplus
from ha_namenode.blocks.planner import (
    HIGH,
    HIGHEST,
    NORMAL,
    BlockState,
    Health,
    Plan,
    Remove,
    plan,
)
from ha_namenode.blocks.registry import Copy, Liveness, NodeView, Stats
from ha_namenode.namespace.model import AdminState, Replica, ReplicaState

GB = 1 << 30
GS = 1001
SIZE = 64 << 20

LIVE, STALE, DEAD = Liveness.LIVE, Liveness.STALE, Liveness.DEAD
DECOM = AdminState.DECOMMISSIONING


def node(
    id: str,
    rack: str = "/r1",
    *,
    liveness: Liveness = LIVE,
    admin: AdminState = AdminState.IN_SERVICE,
    remaining: int = GB,
    in_flight: int = 0,
) -> NodeView:
    stats = Stats(capacity=2 * GB, used=GB, remaining=remaining)
    return NodeView(id, f"{id}:9866", rack, admin, liveness, stats, True, in_flight, 0.5)


def cluster(*extra: NodeView, **racks: str) -> dict[str, NodeView]:
    """Idle, roomy, live nodes by rack (``r1="a b"``), then ``extra`` ones by id."""
    nodes = [node(i, f"/{rack}") for rack, ids in racks.items() for i in ids.split()]
    return {n.id: n for n in (*nodes, *extra)}


def block(
    block_id: int,
    expected: int,
    good: str = "",
    *,
    corrupt: str = "",
    old: str = "",
    pipeline: str = "",
    open: bool = False,
) -> BlockState:
    """A block with finalized replicas on ``good``, corrupt ones, finalized ones with an
    older generation stamp, and expected (pipeline, not yet finalized) ones."""
    rows = [
        *(Replica(block_id, dn, GS, SIZE, ReplicaState.FINALIZED) for dn in good.split()),
        *(Replica(block_id, dn, GS, SIZE, ReplicaState.CORRUPT) for dn in corrupt.split()),
        *(Replica(block_id, dn, GS - 1, SIZE, ReplicaState.FINALIZED) for dn in old.split()),
        *(Replica(block_id, dn, GS, 0, ReplicaState.EXPECTED) for dn in pipeline.split()),
    ]
    return BlockState(block_id, GS, SIZE, expected, tuple(rows), open)


def run(
    blocks: list[BlockState],
    nodes: dict[str, NodeView],
    copies: dict[int, Copy] | None = None,
    *,
    streams: int = 2,
    allow_deletes: bool = True,
    seed: int = 0,
) -> Plan:
    return plan(
        blocks,
        nodes,
        copies or {},
        streams=streams,
        allow_deletes=allow_deletes,
        rng=random.Random(seed),
    )


def in_flight(block_id: int, source: str, *targets: str) -> dict[int, Copy]:
    return {block_id: Copy(block_id, source, targets, deadline=1e9)}


SIX = dict(r1="a b c", r2="d e f")


# ---- under-replication -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_a_dead_nodes_replica_is_copied_from_a_live_source_to_a_new_node(seed):
    nodes = cluster(node("c", "/r2", liveness=DEAD), r1="a b x", r2="d e")
    out = run([block(1, 3, "a b c")], nodes, seed=seed)
    [copy] = out.copies
    assert copy.block_id == 1 and copy.gen_stamp == GS and copy.num_bytes == SIZE
    assert copy.source in {"a", "b"}
    assert len(copy.targets) == 1 and copy.targets[0] in {"x", "d", "e"}
    assert copy.targets[0] in {"d", "e"}  # both live ones on /r1: the new one goes off-rack
    assert out.removals == [] and out.health.under_replicated == 1


def test_several_missing_replicas_are_copied_in_one_command():
    out = run([block(1, 3, "a")], cluster(**SIX))
    [copy] = out.copies
    assert copy.source == "a" and len(copy.targets) == 2 and "a" not in copy.targets


def test_no_copy_when_no_node_can_take_it():
    nodes = cluster(node("c", remaining=0), node("d", liveness=STALE), r1="a b")
    out = run([block(1, 3, "a b")], nodes)
    assert out.copies == [] and out.health.under_replicated == 1


# Holders h1..h9 are full (they can send but not receive); t is the one node with room.
FULL = {f"h{i}": node(f"h{i}", remaining=0) for i in range(1, 9)}
FULL["h7"] = node("h7", admin=DECOM, remaining=0)
ONE_TARGET = {**FULL, "t": node("t", "/r2")}
QUEUE = [
    block(10, 5, "h1 h2 h3"),  # two missing of five: normal
    block(11, 7, "h4 h5"),  # fewer than a third of seven: high
    block(12, 3, "h6"),  # one live replica: highest
    block(13, 2, "h7"),  # none but a decommissioning one: highest
]


@pytest.mark.parametrize(
    ("streams", "planned"),
    [
        (1, [12]),
        (2, [12, 13]),
        (3, [12, 13, 11]),
        (4, [12, 13, 11, 10]),
        (9, [12, 13, 11, 10]),
    ],
)
def test_highest_priority_first_when_the_throttle_allows_only_a_few(streams, planned):
    out = run(QUEUE, ONE_TARGET, streams=streams)
    assert [c.block_id for c in out.copies] == planned
    assert all(c.targets == ("t",) for c in out.copies)
    assert out.health.under_replicated == 4


@pytest.mark.parametrize(
    ("good", "decommissioning", "expected", "priority"),
    [
        ("a", "", 3, HIGHEST),
        ("", "x", 3, HIGHEST),
        ("a", "x", 3, HIGHEST),  # the decommissioning one does not count
        ("a b", "", 7, HIGH),
        ("a b c", "", 10, HIGH),
        ("a b", "", 3, NORMAL),
        ("a b", "", 6, NORMAL),
        ("a b c", "", 5, NORMAL),
    ],
)
def test_priority(good, decommissioning, expected, priority):
    nodes = cluster(node("x", admin=DECOM), r1="a b c d e f", r2="g h i j k l")
    out = run([block(1, expected, f"{good} {decommissioning}")], nodes)
    [copy] = out.copies
    assert copy.priority == priority


# ---- the throttle ------------------------------------------------------------------------

ONE_SOURCE = [block(i, 2, "s") for i in range(1, 5)]


@pytest.mark.parametrize(
    ("busy", "streams", "copies"),
    [
        (0, 2, 2),
        (1, 2, 1),  # one copy already in flight from or to it
        (2, 2, 0),
        (5, 2, 0),
        (0, 3, 3),
        (0, 9, 4),
    ],
)
def test_throttle_per_source(busy, streams, copies):
    nodes = cluster(node("s", in_flight=busy), r1="a b c", r2="d e f g")
    out = run(ONE_SOURCE, nodes, streams=streams)
    assert len(out.copies) == copies
    assert all(c.source == "s" for c in out.copies)


MANY_SOURCES = [block(i, 2, f"s{i}") for i in range(1, 5)]


@pytest.mark.parametrize(
    ("busy", "streams", "copies"),
    [(0, 2, 2), (1, 2, 1), (2, 2, 0), (0, 3, 3), (0, 9, 4)],
)
def test_throttle_per_target(busy, streams, copies):
    nodes = {f"s{i}": node(f"s{i}", remaining=0) for i in range(1, 5)}
    nodes["t"] = node("t", "/r2", in_flight=busy)
    out = run(MANY_SOURCES, nodes, streams=streams)
    assert len(out.copies) == copies
    assert all(c.targets == ("t",) for c in out.copies)


def test_throttle_spreads_copies_over_sources_and_targets():
    nodes = cluster(r1="a b c d", r2="e f g h")
    blocks = [block(i, 2, "ab"[i % 2]) for i in range(1, 9)]  # four on a, four on b
    out = run(blocks, nodes, streams=2)
    sends: dict[str, int] = {}
    for c in out.copies:
        for n in (c.source, *c.targets):
            sends[n] = sends.get(n, 0) + 1
    assert max(sends.values()) <= 2
    assert len(out.copies) == 4  # a and b can each send two


# ---- copies in flight --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("copies", "planned"),
    [
        ({}, [1]),
        (in_flight(1, "a", "d", "e"), []),
        (in_flight(1, "a", "d"), []),  # one copy per block at a time
        (in_flight(2, "a", "d", "e"), [1]),  # another block's copy
    ],
)
def test_copies_in_flight_suppress_replanning(copies, planned):
    out = run([block(1, 3, "a")], cluster(**SIX), copies)
    assert [c.block_id for c in out.copies] == planned
    assert out.health.under_replicated == 1  # still short until the copy is reported


def test_no_surplus_deleted_while_a_copy_is_in_flight():
    blocks = [block(1, 3, "a b c d")]
    out = run(blocks, cluster(**SIX), in_flight(1, "a", "e"))
    assert out.removals == []
    assert run(blocks, cluster(**SIX)).removals  # and without the copy: one surplus


# ---- missing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "corrupt"),
    [
        (block(1, 3, "c"), 0),  # only on a dead node
        (block(1, 3, corrupt="a b"), 1),
        (block(1, 3, "c", corrupt="a"), 1),
        (block(1, 3, corrupt="c"), 1),  # corrupt on a dead node
        (block(1, 3, old="a b"), 0),  # only stale generation stamps
        (block(1, 3, pipeline="a b"), 0),  # never finalized
        (block(1, 3, "gone"), 0),  # a DataNode the leader does not know
        (block(1, 3), 0),
    ],
)
def test_missing_when_no_good_replica_on_a_node_that_is_not_dead(replicas, corrupt):
    nodes = cluster(node("c", liveness=DEAD), r1="a b", r2="d e f")
    out = run([replicas], nodes, allow_deletes=True)
    assert out.copies == [] and out.removals == []  # the corrupt ones are all that is left
    assert out.health == Health(blocks=1, missing=1, corrupt=corrupt)


# ---- corrupt replicas --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("good", "allow_deletes", "removals"),
    [
        ("a b", True, []),  # replaced first: a copy now, the deletion later
        ("a b", False, []),
        ("a b d", False, []),  # not every DataNode has reported yet
        ("a b d", True, [("c", "corrupt")]),
        ("a b d e", True, [("c", "corrupt"), ("a", "surplus")]),
    ],
)
def test_corrupt_replica_deleted_only_once_fully_replicated_and_reported(
    good, allow_deletes, removals
):
    out = run([block(1, 3, good, corrupt="c")], cluster(**SIX), allow_deletes=allow_deletes)
    assert [(r.datanode, r.reason) for r in out.removals] == removals
    assert all(r == Remove(1, GS, r.datanode, r.reason) for r in out.removals)
    assert out.health.corrupt == 1
    if len(good.split()) < 3:
        [copy] = out.copies
        assert "c" not in copy.targets  # a node with a corrupt replica is no target


@pytest.mark.parametrize("row", [dict(corrupt="c"), dict(old="c"), dict(pipeline="c")])
def test_a_node_with_any_replica_row_of_the_block_is_no_target(row):
    # c is the only other node, on the rack the next replica wants, and has room.
    out = run([block(1, 3, "a b", **row)], cluster(r1="a b", r2="c"))
    assert out.copies == [] and out.health.under_replicated == 1


# ---- surplus -----------------------------------------------------------------------------


def test_surplus_trimmed_only_when_every_node_has_reported():
    free = {"a": 500, "b": 100, "c": 300, "d": 50, "e": 400}
    nodes = {i: node(i, "/r1" if i in "abc" else "/r2", remaining=f) for i, f in free.items()}
    blocks = [block(1, 3, "a b c d e")]
    assert run(blocks, nodes, allow_deletes=False).removals == []
    out = run(blocks, nodes, allow_deletes=True)
    assert out.removals == [Remove(1, GS, "b", "surplus"), Remove(1, GS, "d", "surplus")]
    assert [r.datanode for r in out.removals] == choose_surplus(list(nodes.values()), 2)
    assert out.health.over_replicated == 1 and out.copies == []


def test_over_replicated_is_counted_even_before_every_node_has_reported():
    out = run([block(1, 3, "a b c d e")], cluster(**SIX), allow_deletes=False)
    assert out.removals == []
    assert out.health.over_replicated == 1


# ---- open blocks, decommissioning and stale nodes ----------------------------------------


def test_open_blocks_are_left_to_their_writer():
    blocks = [block(1, 3, "a", open=True), block(2, 3, "a b c d", corrupt="e", open=True)]
    out = run(blocks, cluster(**SIX))
    assert out.copies == [] and out.removals == []
    assert out.health == Health(blocks=2, open=2)


@pytest.mark.parametrize("seed", range(5))
def test_decommissioning_node_is_a_source_but_does_not_count(seed):
    nodes = cluster(node("x", "/r2", admin=DECOM), r1="a b", r2="d e")
    out = run([block(1, 3, "x a b")], nodes, seed=seed)
    [copy] = out.copies
    assert copy.source == "x"  # it has no other work
    assert copy.targets[0] in {"d", "e"}
    assert out.health.under_replicated == 1


def test_decommissioning_replica_is_not_surplus():
    nodes = cluster(node("x", admin=DECOM), **SIX)
    out = run([block(1, 3, "x a b d")], nodes)
    assert out.removals == [] and out.copies == []
    assert out.health == Health(blocks=1)


@pytest.mark.parametrize(
    ("good", "copies"),
    [
        ("a s d", 0),  # the stale replica still counts
        ("a s", 1),
    ],
)
def test_stale_node_counts_but_is_no_target(good, copies):
    nodes = cluster(node("s", "/r2", liveness=STALE), node("q", "/r2", liveness=STALE), r1="a b")
    nodes["d"] = node("d", "/r2", remaining=0)  # holds a replica, has no room
    for seed in range(10):
        out = run([block(1, 3, good)], nodes, seed=seed)
        assert len(out.copies) == copies
        for copy in out.copies:
            assert copy.targets == ("b",)  # not the stale q, on the rack the third prefers


# ---- health ------------------------------------------------------------------------------


def test_health_counts():
    nodes = cluster(node("c", "/r2", liveness=DEAD), r1="a b", r2="d e f")
    blocks = [
        block(1, 3, "a b d"),  # healthy
        block(2, 3, "a b c"),  # under-replicated: c is dead
        block(3, 2, "a", corrupt="b"),  # under-replicated and corrupt
        block(4, 1, corrupt="a"),  # missing and corrupt
        block(5, 2, "c"),  # missing
        block(6, 2, "a b d"),  # over-replicated
        block(7, 3, "a", open=True),
        block(8, 3, "d e f", corrupt="a"),  # corrupt, fully replicated
    ]
    out = run(blocks, nodes, streams=9)
    assert out.health == Health(
        blocks=8, under_replicated=2, missing=2, corrupt=3, over_replicated=1, open=1
    )
    assert sorted(c.block_id for c in out.copies) == [2, 3]
    assert sorted((r.block_id, r.reason) for r in out.removals) == [
        (6, "surplus"),
        (8, "corrupt"),
    ]


def test_health_add():
    total = Health(blocks=2, missing=1)
    total.add(Health(blocks=3, under_replicated=1, corrupt=2, over_replicated=1, open=1))
    assert total == Health(
        blocks=5, under_replicated=1, missing=1, corrupt=2, over_replicated=1, open=1
    )


# ---- a cluster too small to place the replacement elsewhere ------------------------------


def test_with_nowhere_else_to_copy_the_corrupt_replica_goes_first():
    nodes = cluster(r1="a b", r2="c")  # three nodes, replication 3: all hold the block
    out = run([block(1, 3, "a b", corrupt="c")], nodes)
    assert out.copies == []
    assert [(r.datanode, r.reason) for r in out.removals] == [("c", "corrupt")]
    # without a full report from everyone, nothing is deleted
    assert run([block(1, 3, "a b", corrupt="c")], nodes, allow_deletes=False).removals == []
    # with a fourth node the copy goes there and the corrupt replica waits
    roomy = cluster(r1="a b", r2="c d")
    out = run([block(1, 3, "a b", corrupt="c")], roomy)
    assert [c.targets for c in out.copies] == [("d",)] and out.removals == []


# ---- maintenance --------------------------------------------------------------------

ENTERING, IN_MAINT = AdminState.ENTERING_MAINTENANCE, AdminState.IN_MAINTENANCE


@pytest.mark.parametrize("liveness", [LIVE, DEAD])
@pytest.mark.parametrize("admin", [ENTERING, IN_MAINT])
def test_a_replica_in_maintenance_lowers_the_live_target(admin, liveness):
    nodes = cluster(node("m", "/r2", admin=admin, liveness=liveness), r1="a b x", r2="y")
    out = run([block(1, 3, "a b m")], nodes)  # wants max(3 - 1, 1) = 2 live: has 2
    assert out.copies == [] and out.removals == []
    assert (out.health.under_replicated, out.health.missing) == (0, 0)


@pytest.mark.parametrize(
    "expected, holders, minimum, new",
    [
        (3, "a m", 1, 1),  # wants max(3 - 1, 1) = 2 live: one copy
        (3, "a m", 3, 2),  # wants 3
        (2, "m", 1, 1),  # no live replica left: m is dead, the block is missing...
        (2, "a m", 1, 0),
        (2, "a m", 2, 1),
        (1, "m", 1, 1),
    ],
)
def test_below_the_maintenance_minimum_the_block_is_copied(expected, holders, minimum, new):
    dead = node("m", "/r2", admin=IN_MAINT, liveness=DEAD)
    alive = node("m", "/r2", admin=IN_MAINT)
    for m in (dead, alive):
        nodes = cluster(m, r1="a x", r2="y z")
        out = plan([block(1, expected, holders)], nodes, {}, streams=2, allow_deletes=True,
                   maintenance_min=minimum, rng=random.Random(0))  # fmt: skip
        if m is dead and holders == "m":
            assert out.copies == [] and out.health.missing == 1  # ...nothing to copy from
            continue
        assert sum(len(c.targets) for c in out.copies) == new
        assert out.health.under_replicated == (new > 0)
        assert all("m" not in c.targets for c in out.copies)


def test_the_only_replica_on_a_node_entering_maintenance_is_copied_from_it():
    nodes = cluster(node("m", "/r1", admin=ENTERING), r1="a", r2="b")
    [copy] = run([block(1, 1, "m")], nodes).copies
    assert copy.source == "m" and copy.targets[0] in {"a", "b"}


def test_a_node_in_maintenance_is_a_source_only_when_no_other_can_send():
    nodes = cluster(node("m", "/r2", admin=IN_MAINT), r1="a x", r2="y")
    [copy] = run([block(1, 3, "a m")], nodes, seed=1).copies  # wants 2 live, has 1
    assert copy.source == "a"
    entering = cluster(node("m", "/r2", admin=ENTERING), r1="a x", r2="y")
    [copy] = run([block(1, 3, "a m")], entering, seed=1).copies
    assert copy.source == "m"  # entering maintenance: no other work, like decommissioning


@pytest.mark.parametrize("admin", [ENTERING, IN_MAINT])
def test_a_node_in_maintenance_takes_no_copy(admin):
    nodes = cluster(node("m", "/r2", admin=admin), r1="a b")
    out = run([block(1, 3, "a")], nodes)
    assert all("m" not in c.targets for c in out.copies)


def test_a_replica_in_maintenance_is_never_surplus():
    nodes = cluster(node("m", "/r2", admin=IN_MAINT), r1="a", r2="b")
    out = run([block(1, 2, "a b m")], nodes)
    assert out.removals == [] and out.health.over_replicated == 0
    out = run([block(1, 1, "a b m")], nodes)
    assert [r.datanode for r in out.removals] == ["a"]  # one of the live ones, never m


def test_census_counts_maintenance_and_decommissioning_apart():
    nodes = cluster(
        node("m", admin=IN_MAINT, liveness=DEAD),
        node("e", admin=ENTERING),
        node("d", admin=DECOM),
        r1="a",
    )
    from ha_namenode.blocks.planner import census

    c = census(block(1, 3, "a m e d"), nodes)
    assert c.live == ("a",) and set(c.sources) == {"a", "e", "d"}
    assert set(c.maintenance) == {"m", "e"} and c.decommissioning == ("d",)


# ---- the balancer's choice of surplus ---------------------------------------------------


def test_a_balancer_moves_source_is_the_surplus_deleted():
    # a and b share /r1; by the placement rule the one with less room (b) would go
    nodes = cluster(node("a", "/r1", remaining=2 * GB), node("b", "/r1", remaining=GB), r2="c")
    assert [r.datanode for r in run([block(1, 2, "a b c")], nodes).removals] == ["b"]
    out = plan([block(1, 2, "a b c")], nodes, {}, streams=2, allow_deletes=True,
               prefer_surplus={1: "a"})  # fmt: skip
    assert [(r.datanode, r.reason) for r in out.removals] == [("a", "surplus")]


def test_a_preferred_surplus_that_is_not_live_falls_back_to_the_rule():
    nodes = cluster(node("a", "/r1", liveness=DEAD), node("b", "/r1", remaining=GB), r2="c d")
    out = plan([block(1, 2, "a b c d")], nodes, {}, streams=2, allow_deletes=True,
               prefer_surplus={1: "a"})  # fmt: skip
    assert [r.datanode for r in out.removals] == ["c"]  # the rule: the most crowded rack


def test_no_surplus_deleted_for_a_move_whose_copy_is_in_flight():
    nodes = cluster(r1="a b", r2="c")
    out = plan([block(1, 2, "a b c")], nodes, in_flight(1, "a", "c"), streams=2,
               allow_deletes=True, prefer_surplus={1: "a"})  # fmt: skip
    assert out.removals == []
