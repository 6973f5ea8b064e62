"""The leader's balancer run (HDFS's Balancer and Dispatcher, inside the leader).

One run at a time, in the leader's memory only: ``start`` (an operator, through
``StartBalancer``), then the block monitor calls ``step`` once a pass:

1. **Plan** a batch (an *iteration*) from the registry's view of the DataNodes
   and the blocks on the ones above the mean (``balancer.plan_moves``), once
   every participant has heartbeated since the run started or the previous
   batch ended, so the usage it plans from is current and includes that
   batch's moves. Balanced: the run ends BALANCED. Nothing to move, or no
   byte moved for ``MAX_IDLE_BATCHES`` batches in a row: it ends NO_PROGRESS.
2. **Start** the batch's moves as the throttle allows (below).
3. **Follow** each move: the source is told to copy the block to the target
   (the ordinary ReplicateBlock command, on its next heartbeat reply), and the
   copy is registered as in flight, so the replication monitor neither copies
   nor trims that block meanwhile. Once the target reports its replica
   finalized the block has one live replica too many, and the monitor's
   surplus deletion deletes the *source's* (``surplus_sources`` is its
   ``prefer_surplus``): never another replica, and never before the copy is
   in. The move is done when the source's replica row is gone; it failed when
   the copy is dropped or times out (``blocks.replication_timeout_s``), or the
   deletion does not come within that time again.

**Throttle.** The leader paces the moves, the DataNodes are not told: a
DataNode takes part in at most ``max_concurrent_moves`` moves at once (as
source or target), and a move of *b* bytes may start only while each of its
two nodes has fewer than ``BURST_S`` seconds of earlier moves' bytes still
"draining" at ``bandwidth`` bytes per second; starting it adds *b*/bandwidth
seconds to both. Over any period *T* the bytes of the moves started with a
node are thus at most bandwidth * (*T* + ``BURST_S``) plus one block. A copy
itself runs at the DataNode's own speed.

**Leadership.** Nothing is replicated: a leader that loses its term forgets
the run (``abandon``; a run of an older term is dropped likewise), and a new
leader's status is IDLE until someone starts one there. Copies in flight end
by themselves; a late copy's extra replica is trimmed by the ordinary surplus
rule.

Thread-safety: RPC threads call ``start``, ``stop`` and ``status``; the monitor
thread calls ``step``, ``surplus_sources`` and ``abandon``; one lock guards the run.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from ha_namenode.blocks.balancer import (
    DEFAULT_THRESHOLD,
    Move,
    Survey,
    participants,
    plan_moves,
    survey,
)
from ha_namenode.blocks.manager import BlockManager, ReplicateBlock
from ha_namenode.blocks.monitor import block_states
from ha_namenode.blocks.registry import NodeView
from ha_namenode.namespace.model import ReplicaState
from ha_namenode.namespace.store import StoreView
from hafs_api.errors import InvalidArgument

log = logging.getLogger(__name__)

BURST_S = 1.0  # seconds of bandwidth a DataNode may have scheduled ahead
ROUNDS = 4  # a batch gives each DataNode up to this many times max_concurrent_moves moves
MAX_MOVES_PER_BATCH = 1000
MAX_IDLE_BATCHES = 5  # batches in a row that moved nothing before giving up (as HDFS)
CANDIDATES_PER_SOURCE = 10_000  # replica rows read per source DataNode and batch
PAGE = 1000


class BalancerState(enum.StrEnum):
    IDLE = "idle"  # none started under this leader
    RUNNING = "running"
    BALANCED = "balanced"
    STOPPED = "stopped"
    NO_PROGRESS = "no_progress"


@dataclass(frozen=True, slots=True)
class Options:
    threshold: float  # percent
    bandwidth: int  # bytes per second per DataNode
    max_concurrent_moves: int  # per DataNode
    exclude: frozenset[str] = frozenset()  # DataNode ids
    user: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    state: BalancerState
    threshold: float
    survey: Survey
    moves_done: int = 0
    moves_failed: int = 0
    moves_in_flight: int = 0
    bytes_moved: int = 0
    started_ms: int = 0
    iterations: int = 0
    message: str = ""


class Pacer:
    """Per-DataNode bandwidth pacing of the moves the leader starts (see the docstring)."""

    def __init__(self, bandwidth: int, burst_s: float = BURST_S) -> None:
        self.bandwidth = bandwidth
        self.burst_s = burst_s
        self._free_at: dict[str, float] = {}  # when a node's scheduled bytes have drained

    def ready(self, node: str, now: float) -> bool:
        return self._free_at.get(node, now) - now < self.burst_s

    def charge(self, node: str, num_bytes: int, now: float) -> None:
        start = max(self._free_at.get(node, now), now)
        self._free_at[node] = start + num_bytes / self.bandwidth


@dataclass
class _Flight:
    move: Move
    deadline: float
    copied: bool = False  # the target's replica is in: the source's goes next


@dataclass
class _Run:
    options: Options
    term: int
    started_ms: int
    pacer: Pacer
    state: BalancerState = BalancerState.RUNNING
    message: str = ""
    iterations: int = 0
    done: int = 0
    failed: int = 0
    bytes_moved: int = 0
    queue: deque[Move] = field(default_factory=deque)
    flights: dict[int, _Flight] = field(default_factory=dict)
    fresh_after: float = 0.0  # plan from heartbeats newer than this (monotonic)
    in_batch: bool = False
    batch_bytes: int = 0
    idle_batches: int = 0

    @property
    def active(self) -> bool:
        return self.state is BalancerState.RUNNING or bool(self.flights)


class Dispatcher:
    def __init__(
        self,
        manager: BlockManager,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.manager = manager
        self.ns = manager.ns
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self.bytes_moved_total = 0  # by every run this process led (metrics)

    # ---- the operator's side (RPC threads, leader checked by the caller) ---------------

    def start(self, options: Options) -> Status:
        registry = self.manager.registry
        exclude = _resolve(options.exclude, registry.views())
        options = Options(
            options.threshold,
            options.bandwidth,
            options.max_concurrent_moves,
            frozenset(exclude),
            options.user,
        )
        with self._lock:
            run = self._current()
            if run is not None and run.active:
                raise InvalidArgument(
                    f"the balancer is already running (started by {run.options.user or '?'}); "
                    "see hactl balancer --status, or --stop it"
                )
            self._run = _Run(
                options,
                registry.term,
                int(self._wall() * 1000),
                Pacer(options.bandwidth),
                fresh_after=self._clock(),
            )
        log.info(
            "balancer started by %s: threshold %.1f%%, %d B/s and %d moves at once per DataNode%s",
            options.user,
            options.threshold,
            options.bandwidth,
            options.max_concurrent_moves,
            f", excluding {', '.join(sorted(exclude))}" if exclude else "",
        )
        return self.status()

    def stop(self, user: str) -> Status:
        with self._lock:
            run = self._current()
            if run is not None and run.state is BalancerState.RUNNING:
                run.queue.clear()
                self._finish(run, BalancerState.STOPPED, f"stopped by {user}")
        return self.status()

    def status(self) -> Status:
        nodes = self.manager.registry.views()
        with self._lock:
            run = self._current()
            if run is None:
                return Status(
                    BalancerState.IDLE, DEFAULT_THRESHOLD, survey(nodes, DEFAULT_THRESHOLD)
                )
            o = run.options
            return Status(
                run.state,
                o.threshold,
                survey(nodes, o.threshold, o.exclude),
                run.done,
                run.failed,
                len(run.flights),
                run.bytes_moved,
                run.started_ms,
                run.iterations,
                run.message,
            )

    # ---- the block monitor's side -------------------------------------------------------

    def surplus_sources(self) -> dict[int, str]:
        """Block id -> the DataNode whose replica the block's surplus deletion takes."""
        with self._lock:
            run = self._current()
            if run is None:
                return {}
            return {block_id: f.move.source for block_id, f in run.flights.items()}

    def moves_in_flight(self) -> int:
        with self._lock:
            run = self._current()
            return len(run.flights) if run is not None else 0

    def abandon(self) -> None:
        """This NameNode is not the leader: forget the run."""
        with self._lock:
            if self._run is not None and self._run.active:
                log.warning("balancer: leadership lost; the run stops (a new leader is idle)")
            self._run = None

    def step(self) -> None:
        with self._lock:
            run = self._current()
            if run is None or not run.active:
                return
            nodes = self.manager.registry.views()
            self._follow(run)
            if run.state is BalancerState.RUNNING:
                self._start_moves(run, nodes)
                if not run.queue and not run.flights:
                    if run.in_batch:
                        self._end_batch(run)
                    self._next_batch(run, nodes)
                    self._start_moves(run, nodes)

    # ---- internals (lock held) ----------------------------------------------------------

    def _current(self) -> _Run | None:
        run = self._run
        if run is not None and run.term != self.manager.registry.term:
            self._run = run = None  # a run of an older term: that leadership ended
        return run

    def _finish(self, run: _Run, state: BalancerState, message: str) -> None:
        run.state, run.message = state, message
        log.info(
            "balancer %s after %d iterations: %s (%d moves done, %d failed, %d bytes moved)",
            state.value,
            run.iterations,
            message,
            run.done,
            run.failed,
            run.bytes_moved,
        )

    def _end_batch(self, run: _Run) -> None:
        run.in_batch = False
        run.fresh_after = self._clock()
        run.idle_batches = 0 if run.batch_bytes else run.idle_batches + 1

    def _next_batch(self, run: _Run, nodes: Mapping[str, NodeView]) -> None:
        now = self._clock()
        o = run.options
        part = participants(nodes, o.exclude)
        if any(not 0 <= n.since_heartbeat < now - run.fresh_after for n in part):
            return  # wait for heartbeats that carry the usage as it is now
        now_survey = survey(nodes, o.threshold, o.exclude)
        if now_survey.balanced:
            self._finish(run, BalancerState.BALANCED, "The cluster is balanced.")
            return
        if run.idle_batches >= MAX_IDLE_BATCHES:
            self._finish(
                run,
                BalancerState.NO_PROGRESS,
                f"No block has been moved for {MAX_IDLE_BATCHES} iterations.",
            )
            return
        sources = [u.datanode for u in now_survey.nodes if u.deviation > 0]
        blocks = self.ns.view(lambda v: _blocks_on(v, sources))
        moves = plan_moves(
            nodes,
            blocks,
            threshold=o.threshold,
            per_node=o.max_concurrent_moves * ROUNDS,
            max_moves=MAX_MOVES_PER_BATCH,
            exclude=o.exclude,
            copying=self.manager.registry.copies().keys(),
        )
        if not moves:
            self._finish(run, BalancerState.NO_PROGRESS, "No block can be moved.")
            return
        run.queue.extend(moves)
        run.iterations += 1
        run.in_batch = True
        run.batch_bytes = 0
        log.info(
            "balancer iteration %d: %d moves of %d bytes; mean %.2f%%, %d bytes left to move",
            run.iterations,
            len(moves),
            sum(m.num_bytes for m in moves),
            now_survey.mean,
            now_survey.bytes_left,
        )

    def _start_moves(self, run: _Run, nodes: Mapping[str, NodeView]) -> None:
        if not run.queue:
            return
        now = self._clock()
        o, registry = run.options, self.manager.registry
        timeout = self.manager.settings.replication_timeout_s
        copies = registry.copies()
        busy: dict[str, int] = {}
        for f in run.flights.values():
            for n in (f.move.source, f.move.target):
                busy[n] = busy.get(n, 0) + 1
        waiting: deque[Move] = deque()
        fit = {n.id for n in participants(nodes, o.exclude)}
        while run.queue:
            m = run.queue.popleft()
            if m.block_id in copies or m.block_id in run.flights or not {m.source, m.target} <= fit:
                run.failed += 1  # overtaken: the block is being copied, or a node left
                continue
            ready = all(
                busy.get(n, 0) < o.max_concurrent_moves and run.pacer.ready(n, now)
                for n in (m.source, m.target)
            )
            if not ready:
                waiting.append(m)
                continue
            registry.start_copy(m.block_id, m.source, (m.target,), timeout)
            registry.queue(
                m.source, ReplicateBlock(m.block_id, m.gen_stamp, m.num_bytes, (nodes[m.target],))
            )
            for n in (m.source, m.target):
                run.pacer.charge(n, m.num_bytes, now)
                busy[n] = busy.get(n, 0) + 1
            run.flights[m.block_id] = _Flight(m, now + timeout)
        run.queue = waiting

    def _follow(self, run: _Run) -> None:
        if not run.flights:
            return
        copies = self.manager.registry.copies()  # before the rows: a copy done is in them
        ids = list(run.flights)
        rows = self.ns.view(lambda v: {b: (v.block(b), v.replicas(b)) for b in ids})
        now = self._clock()
        timeout = self.manager.settings.replication_timeout_s
        for block_id in ids:
            f = run.flights[block_id]
            m = f.move
            block, replicas = rows[block_id]
            if block is None:
                self._end(run, f, False, "the block was deleted")
                continue
            on_source = any(r.datanode == m.source for r in replicas)
            if not f.copied:
                f.copied = any(
                    r.datanode == m.target
                    and r.state is ReplicaState.FINALIZED
                    and r.gen_stamp == block.gen_stamp
                    for r in replicas
                )
                if f.copied:
                    f.deadline = now + timeout
                elif block_id not in copies or now > f.deadline:
                    self._end(run, f, False, "the copy failed or timed out")
                    continue
            if f.copied and not on_source:
                self._end(run, f, True, "")
            elif f.copied and now > f.deadline:
                self._end(run, f, False, "the source's replica was not deleted in time")

    def _end(self, run: _Run, f: _Flight, ok: bool, why: str) -> None:
        del run.flights[f.move.block_id]
        m = f.move
        if ok:
            run.done += 1
            run.bytes_moved += m.num_bytes
            run.batch_bytes += m.num_bytes
            self.bytes_moved_total += m.num_bytes
            log.debug(
                "moved block %d (%d bytes) %s -> %s", m.block_id, m.num_bytes, m.source, m.target
            )
        else:
            run.failed += 1
            log.info("move of block %d %s -> %s failed: %s", m.block_id, m.source, m.target, why)


def _resolve(names: Collection[str], nodes: Mapping[str, NodeView]) -> set[str]:
    """DataNode ids for ids or addresses; an unknown one is an error."""
    out = set()
    for name in names:
        match = next((n.id for n in nodes.values() if name in (n.id, n.address)), None)
        if match is None:
            raise InvalidArgument(f"exclude: no DataNode {name!r} is registered")
        out.add(match)
    return out


def _blocks_on(view: StoreView, sources: list[str]):
    """The blocks on ``sources`` (up to ``CANDIDATES_PER_SOURCE`` each), with their file's
    replication, open state and every replica."""
    seen: dict[int, object] = {}
    for dn in sources:
        after, read = 0, 0
        while read < CANDIDATES_PER_SOURCE:
            replicas = view.replicas_on(dn, after, PAGE)
            for r in replicas:
                if r.block not in seen:
                    block = view.block(r.block)
                    if block is not None:
                        seen[r.block] = block
            read += len(replicas)
            if len(replicas) < PAGE:
                break
            after = replicas[-1].block
    return block_states(view, list(seen.values()))
