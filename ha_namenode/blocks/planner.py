"""Replication planning: which blocks to copy where, and which replicas to delete.

Pure: block states, node views and the copies in flight in; a ``Plan`` out.
The monitor applies it (queues commands on the DataNodes' next heartbeats).

* A block's **live** replicas are finalized ones with its generation stamp on
  DataNodes that are not dead and are in service. Replicas on decommissioning
  nodes can be copied from but do not count. Copies in flight count until they
  finish or time out.
* **Maintenance** replicas are good ones on DataNodes entering or in
  maintenance, alive or dead: a block needs only ``live_target`` live replicas,
  its replication less its maintenance replicas but at least
  ``maintenance_min`` (HDFS's expected live redundancy), so a node in
  maintenance may stop without its blocks being copied. They are read while
  their node lives (an IN_MAINTENANCE one last) and are never surplus.
* **Under-replicated** blocks are queued by priority, HDFS-style: one live
  replica (or none but a decommissioning one) first, then fewer than a third of
  the target, then the rest. Each DataNode sends and receives at most
  ``streams`` copies at once (the throttle).
* **Missing** blocks have no good replica on any DataNode that is not dead.
* A **corrupt** replica is deleted only once the block has its full count of
  live replicas: it is replaced before it is deleted. The one exception is a
  cluster too small to place the copy anywhere else: then, with a good replica
  to copy from, the corrupt one is deleted first and replaced on its own node.
* **Surplus** replicas, and corrupt ones, are deleted only when every DataNode
  has sent this leader a full report (no deletion from partial knowledge). A
  balancer move names the replica to delete first (``prefer_surplus``: its
  source, once the copy to its target is in).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ha_namenode.blocks.placement import choose_surplus, choose_targets
from ha_namenode.blocks.registry import Copy, Liveness, NodeView
from ha_namenode.namespace.model import AdminState, Replica, ReplicaState

HIGHEST, HIGH, NORMAL = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BlockState:
    block_id: int
    gen_stamp: int
    num_bytes: int
    expected: int  # the file's replication
    replicas: tuple[Replica, ...]
    open: bool = False  # under construction: the writer's pipeline owns it


@dataclass(frozen=True, slots=True)
class Replicate:
    block_id: int
    gen_stamp: int
    num_bytes: int
    source: str
    targets: tuple[str, ...]
    priority: int


@dataclass(frozen=True, slots=True)
class Remove:
    block_id: int
    gen_stamp: int
    datanode: str
    reason: str  # "corrupt" or "surplus"


@dataclass
class Health:
    blocks: int = 0
    under_replicated: int = 0
    missing: int = 0
    corrupt: int = 0  # blocks with a corrupt replica
    over_replicated: int = 0
    open: int = 0

    def add(self, other: Health) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Plan:
    copies: list[Replicate] = field(default_factory=list)
    removals: list[Remove] = field(default_factory=list)
    health: Health = field(default_factory=Health)


@dataclass(frozen=True, slots=True)
class Census:
    """One block's replicas, sorted by what they are worth."""

    live: tuple[str, ...]  # count toward replication
    sources: tuple[str, ...]  # good and readable: on any node that is not dead
    corrupt: tuple[str, ...]
    holders: tuple[str, ...]  # every node with any replica row of the block
    maintenance: tuple[str, ...] = ()  # good, on nodes entering or in maintenance, dead or not

    @property
    def decommissioning(self) -> tuple[str, ...]:
        """Readable good replicas on decommissioning (or decommissioned) nodes."""
        return tuple(i for i in self.sources if i not in self.live and i not in self.maintenance)


def census(block: BlockState, nodes: Mapping[str, NodeView]) -> Census:
    live, sources, corrupt, maintenance = [], [], [], []
    for r in block.replicas:
        node = nodes.get(r.datanode)
        if r.state is ReplicaState.CORRUPT:
            corrupt.append(r.datanode)
            continue
        if r.state is not ReplicaState.FINALIZED or r.gen_stamp != block.gen_stamp:
            continue
        if node is None:
            continue
        if node.admin.maintenance:
            maintenance.append(r.datanode)
        if node.liveness is Liveness.DEAD:
            continue
        sources.append(r.datanode)
        if node.admin is AdminState.IN_SERVICE:
            live.append(r.datanode)
    holders = tuple(r.datanode for r in block.replicas)
    return Census(tuple(live), tuple(sources), tuple(corrupt), holders, tuple(maintenance))


def live_target(expected: int, maintenance: int, minimum: int) -> int:
    """Live replicas a block needs: its replication less its ``maintenance`` replicas,
    but at least ``minimum`` (never more than its replication)."""
    return max(expected - maintenance, min(minimum, expected))


def plan(
    blocks: Sequence[BlockState],
    nodes: Mapping[str, NodeView],
    copies: Mapping[int, Copy],
    *,
    streams: int,
    allow_deletes: bool,
    rng: random.Random | None = None,
    maintenance_min: int = 1,
    prefer_surplus: Mapping[int, str] | None = None,
) -> Plan:
    """``maintenance_min``: live replicas a block keeps while others are in maintenance;
    ``prefer_surplus``: block id -> the DataNode whose replica goes first when the block
    has more live replicas than its replication (a balancer move's source)."""
    rng = rng or random.Random()
    prefer_surplus = prefer_surplus or {}
    out = Plan()
    busy = {i: n.in_flight for i, n in nodes.items()}
    wanted: list[tuple[int, BlockState, Census, int]] = []
    for block in blocks:
        out.health.blocks += 1
        if block.open:
            out.health.open += 1
            continue
        c = census(block, nodes)
        target = live_target(block.expected, len(c.maintenance), maintenance_min)
        pending = copies.get(block.block_id)
        have = len(c.live) + (len(pending.targets) if pending else 0)
        if c.corrupt:
            out.health.corrupt += 1
        if not c.sources:
            out.health.missing += 1
            continue
        if len(c.live) < target:
            out.health.under_replicated += 1
            if have < target and pending is None:
                wanted.append((_priority(len(c.live), target), block, c, target))
        surplus = len(c.live) > block.expected
        out.health.over_replicated += surplus
        if not allow_deletes:
            continue
        if len(c.live) >= target:
            for dn in c.corrupt:
                out.removals.append(Remove(block.block_id, block.gen_stamp, dn, "corrupt"))
        if surplus and pending is None:
            extra = _surplus(
                c, nodes, len(c.live) - block.expected, prefer_surplus.get(block.block_id)
            )
            out.removals += [Remove(block.block_id, block.gen_stamp, dn, "surplus") for dn in extra]
    wanted.sort(key=lambda item: item[0])
    node_list = list(nodes.values())
    for priority, block, c, target in wanted:
        source = _source(c, nodes, busy, streams)
        if source is None:
            continue
        free = [n for n in node_list if busy.get(n.id, 0) < streams]
        targets = choose_targets(
            target - len(c.live),
            free,
            existing=[nodes[i] for i in c.live],
            exclude=c.holders,
            space=block.num_bytes,
            rng=rng,
        )
        short = target - len(c.live) - len(targets)
        if short > 0 and c.corrupt and allow_deletes:
            # Only nodes holding a corrupt copy are left to take one: a good copy
            # exists (the source), so delete the corrupt one and copy there next.
            out.removals += [
                Remove(block.block_id, block.gen_stamp, dn, "corrupt")
                for dn in c.corrupt[:short]
                if nodes.get(dn) is not None and nodes[dn].usable
            ]
        if not targets:
            continue
        for n in (source, *targets):
            busy[n] = busy.get(n, 0) + 1
        out.copies.append(
            Replicate(
                block.block_id, block.gen_stamp, block.num_bytes, source, tuple(targets), priority
            )
        )
    return out


def _priority(live: int, expected: int) -> int:
    if live <= 1:
        return HIGHEST
    if live * 3 < expected:
        return HIGH
    return NORMAL


def _surplus(c: Census, nodes: Mapping[str, NodeView], count: int, first: str | None) -> list[str]:
    """``count`` live replicas to delete: ``first`` (a balancer move's source) when it is
    one of them, then by the placement policy."""
    if first in c.live:
        rest = [nodes[i] for i in c.live if i != first]
        return [first, *choose_surplus(rest, count - 1)]
    return choose_surplus([nodes[i] for i in c.live], count)


_SOURCE_RANK = {AdminState.IN_SERVICE: 1, AdminState.IN_MAINTENANCE: 2}  # others: 0


def _source(
    c: Census, nodes: Mapping[str, NodeView], busy: Mapping[str, int], streams: int
) -> str | None:
    """The least busy good replica that may send; decommissioning and entering-maintenance
    nodes are preferred (they have no other work), nodes in maintenance come last (they
    may stop at any time)."""
    ready = [i for i in c.sources if busy.get(i, 0) < streams]
    if not ready:
        return None
    return min(
        ready,
        key=lambda i: (_SOURCE_RANK.get(nodes[i].admin, 0), busy.get(i, 0), i),
    )
