"""The counters ``GetStatus`` reports beside the Raft state, for ``hactl top``.

GetStatus is polled (every second by ``hactl top``, by every NameNode of every
nameservice), so everything here is cheap:

* client calls and errors: the RPC interceptor's plain totals of the
  ClientNamenode service (``hafs_api.metrics.CallTotals``), two integers;
* the namespace's size: ``StoreView.counts`` is one query over the inode table
  (tens of ms at a million files), so ``NamespaceCountsCache`` runs it again only
  when the state index moved and its last answer is older than ``max_age_s``: an
  idle nameservice is never counted twice, a busy one at most once a second;
* leader only (zeros elsewhere, as in the metrics): block health from the block
  monitor's last complete scan (an attribute read), copies in flight and
  DataNodes by liveness from the registry (one pass over the DataNodes).

Imports: the NameNode's block and namespace types, ``hafs_api.metrics``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.blocks.registry import Liveness
from ha_namenode.namespace.store import NamespaceCounts, StoreFailure
from hafs_api.metrics import CallTotals

COUNTS_MAX_AGE_S = 1.0


@dataclass(frozen=True, slots=True)
class Overview:
    """GetStatusResponse fields 15-27 but ``safe_mode``; the names are the proto's."""

    client_calls: int = 0
    client_errors: int = 0
    files: int = 0
    directories: int = 0
    blocks: int = 0
    under_replicated_blocks: int = 0
    missing_blocks: int = 0
    corrupt_blocks: int = 0
    pending_replication: int = 0
    live_datanodes: int = 0
    stale_datanodes: int = 0
    dead_datanodes: int = 0


class NamespaceCountsCache:
    """``count()`` again only when ``state_index`` moved and the last count is older than
    ``max_age_s``; otherwise the last answer (also while the store cannot be read: a
    snapshot install reopens it)."""

    def __init__(
        self,
        count: Callable[[], NamespaceCounts],
        max_age_s: float = COUNTS_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._max_age = max_age_s
        self._clock = clock
        self._lock = threading.Lock()  # one count at a time; the others wait for it
        self._index = -1
        self._at = 0.0
        self._counts = NamespaceCounts(0, 0, 0)

    def get(self, state_index: int) -> NamespaceCounts:
        with self._lock:
            now = self._clock()
            fresh = now - self._at < self._max_age
            if self._index < 0 or (state_index != self._index and not fresh):
                try:
                    self._counts = self._count()
                except StoreFailure:
                    return self._counts
                self._index, self._at = state_index, now
            return self._counts


class OverviewSource:
    """Reads an ``Overview``; ``blocks`` and ``monitor`` are None on a NameNode without
    block management (then the leader-only counters stay 0)."""

    def __init__(
        self,
        calls: CallTotals,
        counts: Callable[[], NamespaceCounts],
        blocks: BlockManager | None = None,
        monitor: BlockMonitor | None = None,
    ) -> None:
        self._calls = calls
        self._counts = NamespaceCountsCache(counts)
        self._blocks = blocks
        self._monitor = monitor

    def read(self, leader: bool, state_index: int) -> Overview:
        calls, errors = self._calls.read()
        counts = self._counts.get(state_index)
        health = self._monitor.health if leader and self._monitor is not None else None
        liveness = dict.fromkeys(Liveness, 0)
        pending = 0
        if leader and self._blocks is not None:
            registry = self._blocks.registry
            for node in registry.views().values():
                liveness[node.liveness] += 1
            pending = len(registry.copies())
        return Overview(
            client_calls=calls,
            client_errors=errors,
            files=counts.files,
            directories=counts.directories,
            blocks=counts.blocks,
            under_replicated_blocks=health.under_replicated if health else 0,
            missing_blocks=health.missing if health else 0,
            corrupt_blocks=health.corrupt if health else 0,
            pending_replication=pending,
            live_datanodes=liveness[Liveness.LIVE],
            stale_datanodes=liveness[Liveness.STALE],
            dead_datanodes=liveness[Liveness.DEAD],
        )
