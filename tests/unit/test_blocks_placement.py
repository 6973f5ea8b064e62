"""Rack-aware placement: ``choose_targets`` for new and re-replicated blocks, and
``choose_surplus`` for the replicas to delete. Pure: NodeView values in, ids out."""

from __future__ import annotations

import random

import pytest

from ha_namenode.blocks.placement import choose_surplus, choose_targets, worth_waiting
from ha_namenode.blocks.registry import Liveness, NodeView, Stats
from ha_namenode.namespace.model import AdminState

GB = 1 << 30
SEEDS = range(25)


def node(
    id: str,
    rack: str = "/r1",
    *,
    liveness: Liveness = Liveness.LIVE,
    admin: AdminState = AdminState.IN_SERVICE,
    remaining: int = GB,
    transfers: int = 0,
    in_flight: int = 0,
) -> NodeView:
    stats = Stats(capacity=2 * GB, used=GB, remaining=remaining, transfers=transfers)
    return NodeView(id, f"{id}:9866", rack, admin, liveness, stats, True, in_flight, 0.5)


def cluster(**racks: str) -> list[NodeView]:
    """``cluster(r1="a b", r2="c")``: idle, roomy, live nodes on racks /r1 and /r2."""
    return [node(i, f"/{rack}") for rack, ids in racks.items() for i in ids.split()]


def shape(racks: list[str]) -> str:
    """Racks as letters by first appearance: ["/r2", "/r1", "/r1"] -> "ABB"."""
    letters: dict[str, str] = {}
    return "".join(letters.setdefault(r, "ABCDEFGH"[len(letters)]) for r in racks)


def rack_of(nodes: list[NodeView]) -> dict[str, str]:
    return {n.id: n.rack for n in nodes}


THREE_RACKS = dict(r1="a b c", r2="d e f", r3="g h i")
TWO_RACKS = dict(r1="a b c", r2="d e f")
ONE_RACK = dict(r1="a b c d")


# ---- new blocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("racks", "writer", "count", "first", "want"),
    [
        (THREE_RACKS, "b", 3, "b", "ABB"),  # local, off-rack, the second's rack
        (TWO_RACKS, "b", 3, "b", "ABB"),
        (TWO_RACKS, "e", 3, "e", "ABB"),
        (THREE_RACKS, "b", 2, "b", "AB"),
        (THREE_RACKS, "b", 1, "b", "A"),
        (THREE_RACKS, "client-7", 3, None, "ABB"),  # the writer is not a DataNode
        (THREE_RACKS, "", 3, None, "ABB"),
        (ONE_RACK, "a", 3, "a", "AAA"),  # one rack: still three replicas
    ],
)
def test_new_block_placement(racks, writer, count, first, want):
    nodes = cluster(**racks)
    for seed in SEEDS:
        targets = choose_targets(count, nodes, writer=writer, rng=random.Random(seed))
        assert len(targets) == len(set(targets)) == count
        if first is not None:
            assert targets[0] == first
        assert shape([rack_of(nodes)[t] for t in targets]) == want


def test_more_than_three_replicas_are_distinct_and_span_racks():
    nodes = cluster(**THREE_RACKS)
    for seed in SEEDS:
        targets = choose_targets(5, nodes, writer="a", rng=random.Random(seed))
        racks = [rack_of(nodes)[t] for t in targets]
        assert len(set(targets)) == 5
        assert shape(racks)[:3] == "ABB" and len(set(racks)) >= 2


# ---- re-replication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("racks", "existing", "count", "want"),
    [
        (TWO_RACKS, "a", 2, "ABB"),  # the one left acts as the first replica
        (TWO_RACKS, "a b", 1, "AAB"),  # all on one rack: the next goes off it
        (THREE_RACKS, "a b c", 1, "AAAB"),  # replication 4, all on /r1
        (TWO_RACKS, "a d", 1, "ABB"),  # spread already: the third joins the second's rack
        (THREE_RACKS, "d a", 1, "ABB"),
    ],
)
def test_rereplication_placement(racks, existing, count, want):
    nodes = cluster(**racks)
    by_id = {n.id: n for n in nodes}
    have = [by_id[i] for i in existing.split()]
    for seed in SEEDS:
        targets = choose_targets(count, nodes, existing=have, rng=random.Random(seed))
        assert len(targets) == count and not set(targets) & set(existing.split())
        assert shape([n.rack for n in have] + [by_id[t].rack for t in targets]) == want


# ---- who may be chosen -------------------------------------------------------------------

BAD = {
    "stale": node("x", "/r2", liveness=Liveness.STALE),
    "dead": node("x", "/r2", liveness=Liveness.DEAD),
    "decommissioning": node("x", "/r2", admin=AdminState.DECOMMISSIONING),
    "decommissioned": node("x", "/r2", admin=AdminState.DECOMMISSIONED),
    "full": node("x", "/r2", remaining=0),
    "too small for the block": node("x", "/r2", remaining=1000),
}


@pytest.mark.parametrize("kind", BAD)
def test_unusable_nodes_are_never_chosen(kind):
    # The bad node is the writer, idle, and alone on the rack the second replica wants.
    good = [node(i, "/r1", transfers=5) for i in ("a", "b", "c")]
    nodes = [BAD[kind], *good]
    for seed in SEEDS:
        targets = choose_targets(3, nodes, writer="x", space=4096, rng=random.Random(seed))
        assert sorted(targets) == ["a", "b", "c"]


def test_excluded_nodes_are_never_chosen():
    nodes = cluster(**TWO_RACKS)
    for seed in SEEDS:
        targets = choose_targets(
            3, nodes, writer="a", exclude={"a", "d", "e"}, rng=random.Random(seed)
        )
        assert not set(targets) & {"a", "d", "e"}
        assert len(targets) == 3


@pytest.mark.parametrize(
    ("count", "nodes", "existing", "want"),
    [
        (3, cluster(r1="a", r2="b"), "", 2),
        (3, [node("a"), node("b", liveness=Liveness.DEAD)], "", 1),
        (2, cluster(r1="a b"), "a b", 0),  # every node already holds it
        (3, [], "", 0),
        (0, cluster(**TWO_RACKS), "", 0),
    ],
)
def test_fewer_targets_when_too_few_nodes_qualify(count, nodes, existing, want):
    have = [n for n in nodes if n.id in existing.split()]
    assert len(choose_targets(count, nodes, existing=have, rng=random.Random(1))) == want


# ---- preferences -------------------------------------------------------------------------


def test_least_loaded_node_is_preferred_among_equals():
    nodes = [
        node("busy", transfers=4),
        node("idle"),
        node("copying", in_flight=3),  # copies this leader asked for count as load
        node("some", transfers=1),
    ]
    for seed in SEEDS:
        assert choose_targets(1, nodes, rng=random.Random(seed)) == ["idle"]
        assert choose_targets(3, nodes, rng=random.Random(seed)) == ["idle", "some", "copying"]


def test_rack_rule_beats_load():
    nodes = [node("w", "/r1"), node("idle", "/r1"), node("loaded", "/r2", transfers=9)]
    for seed in SEEDS:
        assert choose_targets(2, nodes, writer="w", rng=random.Random(seed)) == ["w", "loaded"]


def test_seeded_choice_is_repeatable_and_ties_are_random():
    nodes = cluster(**THREE_RACKS)
    picks = set()
    for seed in SEEDS:
        first = choose_targets(3, nodes, writer="a", rng=random.Random(seed))
        assert choose_targets(3, nodes, writer="a", rng=random.Random(seed)) == first
        picks.add(tuple(first))
    assert len(picks) > 3  # equally loaded nodes share the work


# ---- surplus -----------------------------------------------------------------------------


def held(*specs: tuple[str, str, int]) -> list[NodeView]:
    return [node(i, rack, remaining=free) for i, rack, free in specs]


@pytest.mark.parametrize(
    ("replicas", "count", "want"),
    [
        # the most crowded rack first, even when another rack's node has less room
        (held(("a", "/r1", 100), ("b", "/r1", 50), ("c", "/r2", 10)), 1, ["b"]),
        # then the racks tie: the least free space anywhere
        (held(("a", "/r1", 100), ("b", "/r1", 50), ("c", "/r2", 10)), 2, ["b", "c"]),
        (held(("a", "/r1", 30), ("b", "/r2", 10), ("c", "/r3", 20)), 1, ["b"]),
        (
            held(("a", "/r1", 5), ("b", "/r2", 50), ("c", "/r2", 40), ("d", "/r2", 60)),
            2,
            ["c", "b"],
        ),
        (held(("a", "/r1", 7), ("b", "/r1", 7)), 1, ["a"]),  # full tie: by id
        (held(("a", "/r1", 1), ("b", "/r2", 2)), 5, ["a", "b"]),
        (held(("a", "/r1", 1), ("b", "/r2", 2)), 0, []),
    ],
)
def test_choose_surplus(replicas, count, want):
    assert choose_surplus(replicas, count) == want


def silent(id: str, admin: AdminState = AdminState.IN_SERVICE) -> NodeView:
    """Known from the replicated state, not heard by this leader yet (stale, no stats)."""
    return NodeView(id, f"{id}:9866", "/r2", admin, Liveness.STALE, Stats(), False, 0, -1.0)


def test_a_young_leader_waits_for_a_silent_datanode_when_the_choice_falls_short():
    nodes = [node("a"), silent("b"), silent("c")]
    chosen = choose_targets(3, nodes, rng=random.Random(1))
    assert chosen == ["a"]  # only the heard node qualifies
    assert worth_waiting(chosen, 3, nodes, (), term_age=0.4, window=3.0) == pytest.approx(2.6)


@pytest.mark.parametrize(
    ("chosen", "nodes", "exclude", "term_age"),
    [
        (["a", "b", "c"], [node("a"), node("b"), node("c"), silent("d")], (), 0.1),  # enough
        (["a"], [node("a"), silent("b")], (), 3.5),  # the window is over: silent means down
        (["a"], [node("a"), silent("b")], ("b",), 0.1),  # the client excluded it
        (["a"], [node("a"), silent("b", AdminState.DECOMMISSIONING)], (), 0.1),  # no target
        (["a"], [node("a")], (), 0.1),  # nobody else to hear from
    ],
)
def test_no_wait(chosen, nodes, exclude, term_age):
    assert worth_waiting(chosen, 3, nodes, exclude, term_age=term_age, window=3.0) == 0.0
