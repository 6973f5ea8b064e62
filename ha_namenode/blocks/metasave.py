"""metasave: the leader's block management in one dump (HDFS ``dfsadmin -metasave``).

``collect`` reads one consistent store view together with the leader's volatile
state (DataNode liveness, copies in flight, deletions ordered) and returns a
``MetaSave``: namespace counts, safe mode, the under-replicated, missing and
corrupt blocks with their paths and locations, copies in flight, deletions not
yet confirmed, and leases.

Each block is judged by ``planner.plan`` itself, on that one block and with no
stream to copy with, so metasave and the block monitor never disagree on what
is under-replicated, missing or corrupt.

The cost is bounded: blocks are read a page at a time like the monitor's scan,
at most ``budget`` of them (one monitor pass, ``blocks.blocks_per_pass``), and
every list stops at ``limit`` entries. ``truncated`` says that some list, or
the scan, stopped before the end.

Imports: the planner, the monitor's ``block_states`` and the namespace model.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from ha_namenode.blocks import planner
from ha_namenode.blocks.monitor import PAGE, block_states
from ha_namenode.blocks.registry import Copy, NodeView
from ha_namenode.namespace.model import SafeMode
from ha_namenode.namespace.resolve import path_of
from ha_namenode.namespace.store import NamespaceCounts, StoreView

DEFAULT_LIMIT = 10_000
ALL_LEASES = 1 << 62  # a renewal cutoff later than any lease


@dataclass(frozen=True, slots=True)
class BlockEntry:
    block_id: int
    gen_stamp: int
    num_bytes: int
    path: str  # "" when the file could not be resolved
    expected: int
    live: int
    decommissioning: int
    maintenance: int
    corrupt: int
    locations: tuple[str, ...]  # DataNode ids holding any replica


@dataclass(frozen=True, slots=True)
class CopyEntry:
    block_id: int
    gen_stamp: int
    num_bytes: int
    source: str
    targets: tuple[str, ...]
    timeout_s: float  # until the leader gives up on it


@dataclass(frozen=True, slots=True)
class DeletionEntry:
    block_id: int
    gen_stamp: int
    datanode: str


@dataclass(frozen=True, slots=True)
class LeaseEntry:
    holder: str
    renewed: int  # leader time, ms
    paths: tuple[str, ...]


@dataclass
class MetaSave:
    counts: NamespaceCounts
    safe_mode: SafeMode
    under_replicated: list[BlockEntry] = field(default_factory=list)
    missing: list[BlockEntry] = field(default_factory=list)
    corrupt: list[BlockEntry] = field(default_factory=list)
    replicating: list[CopyEntry] = field(default_factory=list)
    pending_deletion: list[DeletionEntry] = field(default_factory=list)
    leases: list[LeaseEntry] = field(default_factory=list)
    truncated: bool = False


def collect(
    view: StoreView,
    nodes: Mapping[str, NodeView],
    copies: Mapping[int, Copy],
    deleting: Mapping[tuple[int, str], float],
    *,
    limit: int = DEFAULT_LIMIT,
    budget: int = 100_000,
    now: float = 0.0,
    maintenance_min: int = 1,
) -> MetaSave:
    """The dump; ``now`` is the registry's clock (copy deadlines are on it);
    ``maintenance_min`` as the monitor plans with it."""
    out = MetaSave(view.counts(), view.safe_mode())
    _blocks(view, nodes, copies, out, limit, budget, maintenance_min)
    for copy in sorted(copies.values(), key=lambda c: c.block_id):
        if len(out.replicating) >= limit:
            out.truncated = True
            break
        block = view.block(copy.block_id)
        gen_stamp, num_bytes = (block.gen_stamp, block.num_bytes) if block else (0, 0)
        out.replicating.append(
            CopyEntry(
                copy.block_id,
                gen_stamp,
                num_bytes,
                copy.source,
                copy.targets,
                max(copy.deadline - now, 0.0),
            )
        )
    _deletions(view, deleting, out, limit)
    _leases(view, out, limit)
    return out


def _blocks(
    view: StoreView,
    nodes: Mapping[str, NodeView],
    copies: Mapping[int, Copy],
    out: MetaSave,
    limit: int,
    budget: int,
    maintenance_min: int,
) -> None:
    lists = (out.under_replicated, out.missing, out.corrupt)
    paths: dict[int, str] = {}
    rng = random.Random(0)  # plan() draws nothing without streams; no entropy per block
    after = scanned = 0
    while True:
        if all(len(found) >= limit for found in lists) or scanned >= budget:
            out.truncated = out.truncated or bool(view.blocks_after(after, 1))
            return
        want = min(PAGE, budget - scanned)
        page = view.blocks_after(after, want)
        scanned += len(page)
        inode_of = {b.id: b.inode for b in page}
        for state in block_states(view, page):
            health = planner.plan(
                [state],
                nodes,
                copies,
                streams=0,
                allow_deletes=False,
                rng=rng,
                maintenance_min=maintenance_min,
            ).health
            kinds = (health.under_replicated, health.missing, health.corrupt)
            if not any(kinds):
                continue
            entry = _entry(view, state, nodes, inode_of[state.block_id], paths)
            for found, counted in zip(lists, kinds, strict=True):
                if not counted:
                    continue
                if len(found) < limit:
                    found.append(entry)
                else:
                    out.truncated = True
        if len(page) < want:
            return  # the whole namespace seen
        after = page[-1].id


def _entry(
    view: StoreView,
    state: planner.BlockState,
    nodes: Mapping[str, NodeView],
    inode_id: int,
    paths: dict[int, str],
) -> BlockEntry:
    census = planner.census(state, nodes)
    if inode_id not in paths:
        inode = view.inode(inode_id)
        paths[inode_id] = path_of(view, inode) if inode is not None else ""
    return BlockEntry(
        state.block_id,
        state.gen_stamp,
        state.num_bytes,
        paths[inode_id],
        state.expected,
        len(census.live),
        len(census.decommissioning),
        len(census.maintenance),
        len(census.corrupt),
        census.holders,
    )


def _deletions(
    view: StoreView, deleting: Mapping[tuple[int, str], float], out: MetaSave, limit: int
) -> None:
    """Replicas of removed blocks still on their DataNodes, then deletions the leader
    ordered (surplus, corrupt) whose replica is still recorded."""
    seen: set[tuple[int, str]] = set()
    for datanode in view.datanodes():
        for inv in view.invalidations(datanode.id, limit - len(out.pending_deletion) + 1):
            if len(out.pending_deletion) >= limit:
                out.truncated = True
                return
            seen.add((inv.block, inv.datanode))
            out.pending_deletion.append(DeletionEntry(inv.block, inv.gen_stamp, inv.datanode))
    for block_id, datanode in sorted(deleting):
        if (block_id, datanode) in seen:
            continue
        replica = next((r for r in view.replicas(block_id) if r.datanode == datanode), None)
        if replica is None:
            continue  # done: its report has applied
        if len(out.pending_deletion) >= limit:
            out.truncated = True
            return
        out.pending_deletion.append(DeletionEntry(block_id, replica.gen_stamp, datanode))


def _leases(view: StoreView, out: MetaSave, limit: int) -> None:
    for lease in view.leases_renewed_before(ALL_LEASES):
        if len(out.leases) >= limit:
            out.truncated = True
            return
        held = view.files_held_by(lease.holder)
        if len(held) > limit:
            out.truncated = True
        paths = tuple(path_of(view, node) for node in held[:limit])
        out.leases.append(LeaseEntry(lease.holder, lease.renewed, paths))
