"""``DatanodeRegistry``: what only the leader knows about DataNodes, in memory.

Registration and replica locations are replicated state; heartbeats, capacity,
liveness, queued commands and copies in flight are not. A new leader (a new
term) starts everyone with a grace period — a DataNode is dead only after
``dead_after`` with no heartbeat *to this leader* — and marks nobody as having
sent a full report, so no surplus replica is deleted from partial knowledge.

Thread-safe: RPC threads (heartbeats, reports) and the monitor share it.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ha_namenode.namespace.model import AdminState, Datanode


class Liveness(enum.StrEnum):
    LIVE = "LIVE"
    STALE = "STALE"  # no heartbeat for a few seconds: not a target
    DEAD = "DEAD"  # no heartbeat for the dead timeout: its replicas do not count


@dataclass(frozen=True, slots=True)
class Stats:
    capacity: int = 0
    used: int = 0
    remaining: int = 0
    transfers: int = 0
    failed_volumes: int = 0


@dataclass(frozen=True, slots=True)
class NodeView:
    """One DataNode as the planners see it."""

    id: str
    address: str
    rack: str
    admin: AdminState
    liveness: Liveness
    stats: Stats
    reported: bool  # has sent this leader a full block report
    in_flight: int  # copies this leader asked it to send or receive, not done yet
    since_heartbeat: float  # seconds; -1 when it never heartbeated to this leader
    maintenance_expiry: int = 0  # wall-clock ms its maintenance ends at; 0: never or none

    @property
    def heard_lately(self) -> bool:
        """Heartbeats arrive: not stale or dead, nor silent since this leader began."""
        return self.liveness is Liveness.LIVE

    @property
    def load(self) -> int:
        return self.stats.transfers + self.in_flight

    @property
    def usable(self) -> bool:
        """May hold a new replica: live, in service, not out of space."""
        return (
            self.liveness is Liveness.LIVE
            and self.admin is AdminState.IN_SERVICE
            and self.stats.remaining > 0
        )

    @property
    def counts(self) -> bool:
        """Its replicas count toward a block's replication."""
        return self.liveness is not Liveness.DEAD and self.admin is AdminState.IN_SERVICE


@dataclass
class _Node:
    info: Datanode
    heartbeat: float
    heard: bool = False
    reported: bool = False
    stats: Stats = field(default_factory=Stats)
    commands: deque = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class Copy:
    """A replication in flight: counts toward the block until done or timed out."""

    block_id: int
    source: str
    targets: tuple[str, ...]
    deadline: float


class DatanodeRegistry:
    def __init__(
        self,
        stale_after: float,
        dead_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stale_after = stale_after
        self.dead_after = dead_after
        self._clock = clock
        self._lock = threading.Lock()
        self._nodes: dict[str, _Node] = {}
        self._copies: dict[int, Copy] = {}
        self._deleting: dict[tuple[int, str], float] = {}  # (block, datanode) -> deadline
        self.term = 0
        self.began = 0.0  # when this leader's term began, on the registry's clock

    # ---- leadership ----------------------------------------------------------------

    def reset(self, term: int, datanodes: Iterable[Datanode]) -> None:
        """A new term: every registered DataNode starts its grace period now."""
        now = self._clock()
        with self._lock:
            self.term = term
            self.began = now
            self._nodes = {d.id: _Node(d, now) for d in datanodes}
            self._copies.clear()
            self._deleting.clear()

    def clear(self) -> None:
        with self._lock:
            self.term = 0
            self._nodes.clear()
            self._copies.clear()
            self._deleting.clear()

    # ---- from the DataNodes -------------------------------------------------------

    def known(self, datanode: str) -> bool:
        with self._lock:
            return datanode in self._nodes

    def register(self, datanode: Datanode) -> None:
        """After its registration applied: it is heard now, and owes a full report."""
        now = self._clock()
        with self._lock:  # a restarted DataNode's old capacity no longer holds: wait for it
            self._nodes[datanode.id] = _Node(datanode, now, heard=True)

    def update(self, datanode: Datanode) -> None:
        """A registration or admin change applied: keep its runtime state."""
        with self._lock:
            node = self._nodes.get(datanode.id)
            if node is None:
                self._nodes[datanode.id] = _Node(datanode, self._clock())
            else:
                node.info = datanode

    def heartbeat(self, datanode: str, stats: Stats) -> bool:
        """Record a heartbeat; False if the DataNode is unknown (it must register)."""
        with self._lock:
            node = self._nodes.get(datanode)
            if node is None:
                return False
            node.heartbeat = self._clock()
            node.heard = True
            node.stats = stats
            return True

    def has_reported(self, datanode: str) -> bool:
        with self._lock:
            node = self._nodes.get(datanode)
            return node is not None and node.reported

    def mark_reported(self, datanode: str) -> None:
        with self._lock:
            node = self._nodes.get(datanode)
            if node is not None:
                node.reported = True

    # ---- commands -------------------------------------------------------------------

    def queue(self, datanode: str, command: object) -> None:
        with self._lock:
            node = self._nodes.get(datanode)
            if node is not None:
                node.commands.append(command)

    def take(self, datanode: str, limit: int = 1000) -> list[object]:
        with self._lock:
            node = self._nodes.get(datanode)
            if node is None:
                return []
            out = []
            while node.commands and len(out) < limit:
                out.append(node.commands.popleft())
            return out

    def start_copy(self, block_id: int, source: str, targets: tuple[str, ...], timeout: float):
        with self._lock:
            self._copies[block_id] = Copy(block_id, source, targets, self._clock() + timeout)

    def copies(self) -> dict[int, Copy]:
        """Copies in flight; those past their deadline are dropped (planned again)."""
        now = self._clock()
        with self._lock:
            for block_id in [b for b, c in self._copies.items() if c.deadline < now]:
                del self._copies[block_id]
            return dict(self._copies)

    def start_delete(self, block_id: int, datanode: str, timeout: float) -> bool:
        """Note a deletion ordered; False if one is already on its way (not timed out)."""
        now = self._clock()
        with self._lock:
            if self._deleting.get((block_id, datanode), 0.0) > now:
                return False
            if len(self._deleting) > 100_000:  # forget the ones long done
                self._deleting = {k: d for k, d in self._deleting.items() if d > now}
            self._deleting[(block_id, datanode)] = now + timeout
            return True

    def deletions(self) -> dict[tuple[int, str], float]:
        """Deletions ordered and not timed out: (block id, DataNode id) -> deadline.

        A read-only copy (metasave); one may be done already, until its report applies.
        """
        now = self._clock()
        with self._lock:
            return {key: d for key, d in self._deleting.items() if d > now}

    def finish_copy(self, block_id: int) -> None:
        with self._lock:
            self._copies.pop(block_id, None)

    # ---- views ------------------------------------------------------------------------

    def liveness(self, node: _Node, now: float) -> Liveness:
        age = now - node.heartbeat
        if age >= self.dead_after:
            return Liveness.DEAD
        if age >= self.stale_after or not node.heard:
            return Liveness.STALE
        return Liveness.LIVE

    def views(self) -> dict[str, NodeView]:
        now = self._clock()
        with self._lock:
            busy: dict[str, int] = {}
            for copy in self._copies.values():
                if copy.deadline < now:
                    continue  # timed out: planned again, no longer a load
                for n in (copy.source, *copy.targets):
                    busy[n] = busy.get(n, 0) + 1
            return {
                i: NodeView(
                    i,
                    n.info.address,
                    n.info.rack,
                    n.info.admin,
                    self.liveness(n, now),
                    n.stats,
                    n.reported,
                    busy.get(i, 0),
                    now - n.heartbeat if n.heard else -1.0,
                    n.info.maintenance_expiry,
                )
                for i, n in self._nodes.items()
            }

    def term_age(self) -> float:
        """Seconds since this leader's term began."""
        return self._clock() - self.began

    def all_reported(self) -> bool:
        """Every DataNode that is not dead has sent this leader a full report."""
        now = self._clock()
        with self._lock:
            return all(
                n.reported
                for n in self._nodes.values()
                if self.liveness(n, now) is not Liveness.DEAD
            )
