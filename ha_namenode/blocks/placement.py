"""Rack-aware replica placement (HDFS's default policy). Pure: nodes in, ids out.

For a new block: the first replica on the writer's own DataNode when it has
one, the second on another rack, the third on the second's rack, the rest
anywhere. For a re-replication, the existing replicas play the first ones'
parts: if they all sit on one rack, the next goes to another rack. Only
``usable`` nodes (live, in service, with room) are chosen; among equals the
least loaded win, ties broken by the given random source.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

from ha_namenode.blocks.registry import NodeView
from ha_namenode.namespace.model import AdminState


def choose_targets(
    count: int,
    nodes: Sequence[NodeView],
    *,
    existing: Sequence[NodeView] = (),
    exclude: Collection[str] = (),
    writer: str = "",
    space: int = 1,
    rng: random.Random | None = None,
) -> list[str]:
    """Up to ``count`` DataNode ids for new replicas; fewer when too few nodes qualify."""
    rng = rng or random.Random()
    taken = set(exclude) | {n.id for n in existing}
    pool = [n for n in nodes if n.usable and n.stats.remaining >= space and n.id not in taken]
    rng.shuffle(pool)
    pool.sort(key=lambda n: n.load)  # stable: equal loads keep the shuffled order
    chosen: list[NodeView] = []
    placed = list(existing)

    def take(want) -> None:
        pick = next((n for n in pool if want(n)), None) or (pool[0] if pool else None)
        if pick is not None:
            pool.remove(pick)
            chosen.append(pick)
            placed.append(pick)

    while len(chosen) < count and pool:
        racks = {n.rack for n in placed}
        if not placed:
            take(lambda n: n.id == writer)
        elif len(placed) == 1 or len(racks) == 1:
            take(lambda n, racks=racks: n.rack not in racks)
        elif len(placed) == 2:
            second = placed[1].rack
            take(lambda n, second=second: n.rack == second)
        else:
            take(lambda n: True)
    return [n.id for n in chosen]


def worth_waiting(
    chosen: Sequence[str],
    count: int,
    nodes: Sequence[NodeView],
    exclude: Collection[str],
    term_age: float,
    window: float,
) -> float:
    """Seconds a new leader may still wait for a better pipeline (0: take ``chosen`` now).

    Right after a failover the leader has heard few DataNodes, so a new block
    could get a pipeline of one, which a single failure ends. While the choice
    falls short of ``count``, some known in-service DataNode not excluded has
    not heartbeated to this leader yet, and the term is younger than
    ``window``, heartbeats are worth waiting for.
    """
    if len(chosen) >= count or term_age >= window:
        return 0.0
    silent = any(
        n.since_heartbeat < 0
        and n.admin is AdminState.IN_SERVICE
        and n.id not in exclude
        and n.id not in chosen
        for n in nodes
    )
    return window - term_age if silent else 0.0


def choose_surplus(replicas: Sequence[NodeView], count: int) -> list[str]:
    """Which ``count`` replicas to delete: from the most crowded rack, least free space first."""
    left = list(replicas)
    doomed: list[str] = []
    for _ in range(min(count, len(left))):
        per_rack: dict[str, int] = {}
        for n in left:
            per_rack[n.rack] = per_rack.get(n.rack, 0) + 1
        victim = min(left, key=lambda n: (-per_rack[n.rack], n.stats.remaining, n.id))
        left.remove(victim)
        doomed.append(victim.id)
    return doomed
