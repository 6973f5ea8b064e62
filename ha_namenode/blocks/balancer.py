"""The balancer's planning (HDFS's ``Balancer``): which replicas to move where. Pure.

The **participants** are the DataNodes that are live (heard lately), in
service, not excluded and report a capacity. Their **mean** usage is their
total used bytes over their total capacity, as HDFS computes it. A node's
**deviation** is its used percent minus the mean: *over-utilized* above
``mean + threshold``, *above average* between the mean and that, *below
average* down to ``mean - threshold``, *under-utilized* below. The cluster is
**balanced** when no participant is over- or under-utilized.

``plan_moves`` pairs sources above the mean with targets below it, as HDFS
does: over-utilized with under-utilized first, then over-utilized with below
average, then above average with under-utilized; the most deviant first. For
each pair it picks the block whose move takes the most bytes off the two
nodes' deviations, so that:

* every move takes a good (finalized, current) replica from a source above the
  mean to a target below it, and leaves both strictly closer to the mean than
  they were (so the largest deviation never grows, the summed deviation
  shrinks with every move, and repeated planning ends); a node is a source or a
  target for the whole plan, by its side of the mean before the plan, even when
  a large block carries it past the mean;
* a block is moved only when it is healthy (exactly its replication in live
  replicas, none corrupt), closed (not under construction), not being copied
  already, and at most once per plan;
* the target holds no replica of the block (not even a stale or corrupt one)
  and has the room; the block's replicas span no fewer racks after the move;
* no node takes part in more than ``per_node`` moves of one plan, and there
  are at most ``max_moves`` in all.

Imports: the block planners' value types only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ha_namenode.blocks.planner import BlockState, census
from ha_namenode.blocks.registry import Liveness, NodeView
from ha_namenode.namespace.model import AdminState

DEFAULT_THRESHOLD = 10.0  # percent, as HDFS's -threshold


@dataclass(frozen=True, slots=True)
class Move:
    block_id: int
    gen_stamp: int
    num_bytes: int
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Usage:
    datanode: str
    used_percent: float
    deviation: float  # used_percent minus the mean, in percentage points


@dataclass(frozen=True, slots=True)
class Survey:
    """The participants' balance now."""

    mean: float  # percent
    nodes: tuple[Usage, ...]  # by DataNode id
    bytes_left: int  # bytes beyond the threshold: max(over-utilized excess, under-utilized lack)
    balanced: bool


def participants(nodes: Mapping[str, NodeView], exclude: Collection[str] = ()) -> list[NodeView]:
    """The DataNodes the balancer weighs and moves between, by id."""
    return sorted(
        (
            n
            for n in nodes.values()
            if n.liveness is Liveness.LIVE
            and n.admin is AdminState.IN_SERVICE
            and n.stats.capacity > 0
            and n.id not in exclude
        ),
        key=lambda n: n.id,
    )


def mean_percent(nodes: Sequence[NodeView]) -> float:
    capacity = sum(n.stats.capacity for n in nodes)
    return 100.0 * sum(n.stats.used for n in nodes) / capacity if capacity else 0.0


def survey(
    nodes: Mapping[str, NodeView], threshold: float, exclude: Collection[str] = ()
) -> Survey:
    part = participants(nodes, exclude)
    mean = mean_percent(part)
    usages, over, under = [], 0, 0
    for n in part:
        used = 100.0 * n.stats.used / n.stats.capacity
        usages.append(Usage(n.id, used, used - mean))
        beyond = abs(used - mean) - threshold
        if beyond > 0:
            amount = int(beyond / 100.0 * n.stats.capacity)
            if used > mean:
                over += amount
            else:
                under += amount
    balanced = all(abs(u.deviation) <= threshold for u in usages)
    return Survey(mean, tuple(usages), max(over, under), balanced)


def plan_moves(
    nodes: Mapping[str, NodeView],
    blocks: Sequence[BlockState],
    *,
    threshold: float,
    per_node: int,
    max_moves: int,
    exclude: Collection[str] = (),
    copying: Collection[int] = (),
) -> list[Move]:
    """Moves toward balance (see the module docstring). ``blocks``: candidates, with
    every replica row (the ones on sources matter); ``copying``: block ids with a copy
    in flight (left alone)."""
    part = {n.id: n for n in participants(nodes, exclude)}
    if len(part) < 2 or per_node < 1 or max_moves < 1:
        return []
    used = sum(n.stats.used for n in part.values())
    capacity = sum(n.stats.capacity for n in part.values())
    dev = {i: n.stats.used - used * n.stats.capacity / capacity for i, n in part.items()}
    limit = {i: threshold / 100.0 * n.stats.capacity for i, n in part.items()}
    room = {i: n.stats.remaining for i, n in part.items()}
    on_source = _candidates(blocks, nodes, part, set(copying))
    count = dict.fromkeys(part, 0)
    moved: set[int] = set()
    moves: list[Move] = []

    # A node keeps its side for the whole plan: a target that a large block takes past
    # the mean is not then a source (nor a source a target), so no plan moves bytes
    # back onto a node it has just emptied.
    # (The side is exact, in integers: used_i / capacity_i against used / capacity.)
    exact = {i: n.stats.used * capacity - used * n.stats.capacity for i, n in part.items()}
    side = {i: (e > 0) - (e < 0) for i, e in exact.items()}

    def kinds(sources: bool, beyond: bool) -> list[str]:
        sign = 1 if sources else -1
        chosen = [
            i
            for i in part
            if side[i] == sign and sign * dev[i] > 0 and (sign * dev[i] > limit[i]) == beyond
        ]
        return sorted(chosen, key=lambda i: (-abs(dev[i]) / part[i].stats.capacity, i))

    for source_beyond, target_beyond in ((True, True), (True, False), (False, True)):
        for s in kinds(True, source_beyond):
            for t in kinds(False, target_beyond):
                while len(moves) < max_moves and count[s] < per_node and count[t] < per_node:
                    if dev[s] <= 0 or dev[t] >= 0:
                        break
                    block = _best(on_source.get(s, ()), s, t, dev, room, moved, nodes)
                    if block is None:
                        break
                    moves.append(Move(block.block_id, block.gen_stamp, block.num_bytes, s, t))
                    moved.add(block.block_id)
                    dev[s] -= block.num_bytes
                    dev[t] += block.num_bytes
                    room[t] -= block.num_bytes
                    count[s] += 1
                    count[t] += 1
    return moves


def _candidates(
    blocks: Sequence[BlockState],
    nodes: Mapping[str, NodeView],
    part: Mapping[str, NodeView],
    copying: set[int],
) -> dict[str, list[tuple[BlockState, tuple[str, ...], tuple[str, ...]]]]:
    """Per source: (block, its live replicas, its holders) of the healthy blocks on it."""
    out: dict[str, list] = {}
    for block in sorted(blocks, key=lambda b: b.block_id):
        if block.open or block.block_id in copying or block.num_bytes <= 0:
            continue
        c = census(block, nodes)
        if c.corrupt or len(c.live) != block.expected:
            continue
        for dn in c.live:
            if dn in part:
                out.setdefault(dn, []).append((block, c.live, c.holders))
    return out


def _best(
    candidates, s: str, t: str, dev, room, moved: set[int], nodes: Mapping[str, NodeView]
) -> BlockState | None:
    """The candidate whose move from ``s`` to ``t`` takes the most off their deviations
    and leaves both closer to the mean; ties go to the lower block id."""
    best, gain = None, 0.0
    for block, live, holders in candidates:
        size = block.num_bytes
        if block.block_id in moved or t in holders or size > room[t]:
            continue
        if not (size < 2 * dev[s] and size < -2 * dev[t]):
            continue  # one side would end farther from the mean
        before = {nodes[i].rack for i in live}
        after = {nodes[i].rack for i in live if i != s} | {nodes[t].rack}
        if len(after) < len(before):
            continue
        value = abs(dev[s]) - abs(dev[s] - size) + abs(dev[t]) - abs(dev[t] + size)
        if value > gain:
            best, gain = block, value
    return best
