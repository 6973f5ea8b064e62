"""The NameNode's Prometheus metrics (docs/operations.md, "Metrics", lists them all).

``NameNodeMetrics`` owns the daemon's registry. Two metrics are observed as
things happen: ``hafs_raft_proposal_seconds`` (the consensus adapter calls
``proposal.observe``) and the RPC metrics (``hafs_api.metrics.RpcMetrics``, a
server interceptor). Everything that is *state* is read only when Prometheus
scrapes, by ``NameNodeCollector``, so the hot paths pay nothing for it:

* Raft, from ``consensus.status()``: leader or not, term, commit and applied
  index, times it became leader, members and reachable members;
* the namespace, from one store view (``StoreView.counts``): files,
  directories, blocks, on every NameNode alike; and the replicated safe-mode flag;
* leader only (0 elsewhere): block health from the block monitor's last
  complete scan, copies in flight, DataNodes by state and the cluster's
  capacity, from the leader's registry; the balancer's moves in flight;
* the bytes the balancer moved while this NameNode led (a counter of the process).

Every metric carries the labels ``nameservice`` and ``node``; none carries a
path or a user name. A part that cannot be read now (the store is being
replaced by a snapshot) is left out of that scrape and logged at debug level.

Imports: prometheus_client, ``hafs_api.metrics`` and the NameNode's own types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ha_namenode.blocks.dispatcher import Dispatcher
from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.blocks.registry import Liveness
from ha_namenode.consensus.base import Consensus
from ha_namenode.namespace.model import AdminState
from ha_namenode.namespace.store import StoreView
from hafs_api.metrics import LATENCY_BUCKETS, RpcMetrics, new_registry

log = logging.getLogger(__name__)
LABELS = ["nameservice", "node"]
# hafs_datanodes{state}: live, stale and dead split the registered DataNodes; the
# admin states count the same DataNodes again.
LIVENESS_STATES = {Liveness.LIVE: "live", Liveness.STALE: "stale", Liveness.DEAD: "dead"}
ADMIN_STATES = {
    "decommissioning": ("DECOMMISSIONING",),
    "decommissioned": ("DECOMMISSIONED",),
    "maintenance": ("ENTERING_MAINTENANCE", "IN_MAINTENANCE"),
}
# Dead DataNodes in maintenance, counted again: stopped on purpose (HDFS's
# NumInMaintenanceDeadDataNodes); the dead-DataNode alert leaves them out.
MAINTENANCE_DEAD = "dead_in_maintenance"


class NameNodeMetrics:
    """The registry of one NameNode, its proposal histogram and its RPC interceptor."""

    def __init__(self, nameservice: str, node_id: str) -> None:
        self.registry = new_registry()
        self.labels = {"nameservice": nameservice, "node": node_id}
        self.proposal = Histogram(
            "hafs_raft_proposal_seconds",
            "Time from proposing a write to its committed result (writes that committed).",
            LABELS,
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        ).labels(nameservice, node_id)
        self.rpc = RpcMetrics(self.registry, self.labels)

    def watch(
        self,
        consensus: Consensus,
        view: Callable[[Callable[[StoreView], Any]], Any],
        blocks: BlockManager | None = None,
        monitor: BlockMonitor | None = None,
        info: dict[str, str] | None = None,
        balancer: Dispatcher | None = None,
    ) -> None:
        """Register the collector of this NameNode's state (once its parts exist)."""
        self.registry.register(
            NameNodeCollector(self.labels, consensus, view, blocks, monitor, info or {}, balancer)
        )


class NameNodeCollector(Collector):
    def __init__(
        self,
        labels: dict[str, str],
        consensus: Consensus,
        view: Callable[[Callable[[StoreView], Any]], Any],
        blocks: BlockManager | None,
        monitor: BlockMonitor | None,
        info: dict[str, str],
        balancer: Dispatcher | None = None,
    ) -> None:
        self._balancer = balancer
        self._names = list(labels)
        self._values = list(labels.values())
        self._consensus = consensus
        self._view = view
        self._blocks = blocks
        self._monitor = monitor
        self._info = info

    def describe(self) -> list[Metric]:
        return []  # state is read at collect time only; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        leader = bool(self._consensus.is_leader)
        if self._info:
            yield self._family(
                "hafs_namenode_info",
                "This NameNode's software version and client RPC address (always 1).",
                1,
                extra=self._info,
            )
        yield self._family(
            "hafs_raft_is_leader", "1 while this NameNode is its nameservice's leader.", leader
        )
        yield from self._raft()
        yield from self._namespace()
        yield from self._safe_mode()
        yield from self._block_health(leader)
        yield from self._datanodes(leader)
        yield from self._moves(leader)

    # ---- helpers -------------------------------------------------------------------

    def _family(
        self,
        name: str,
        doc: str,
        value: float,
        extra: dict[str, str] | None = None,
        counter: bool = False,
    ) -> Metric:
        extra = extra or {}
        kind = CounterMetricFamily if counter else GaugeMetricFamily
        family = kind(name, doc, labels=[*self._names, *extra])
        family.add_metric([*self._values, *extra.values()], float(value))
        return family

    def _labelled(self, name: str, doc: str, label: str, values: dict[str, float]) -> Metric:
        family = GaugeMetricFamily(name, doc, labels=[*self._names, label])
        for key, value in values.items():
            family.add_metric([*self._values, key], float(value))
        return family

    # ---- the parts -----------------------------------------------------------------

    def _raft(self) -> Iterator[Metric]:
        try:
            st = self._consensus.status()
        except Exception as e:  # not running (stopping, or not started yet)
            log.debug("metrics: no consensus status: %s", e)
            return
        yield self._family("hafs_raft_term", "The current Raft term seen here.", st.term)
        yield self._family(
            "hafs_raft_commit_index", "The highest log index known committed.", st.commit_index
        )
        yield self._family(
            "hafs_raft_applied_index", "The highest log index applied here.", st.applied_index
        )
        yield self._family(
            "hafs_raft_leader_changes",
            "Times this NameNode became leader since it started (summed over a "
            "nameservice: its leader changes).",
            st.leader_changes,
            counter=True,
        )
        yield self._family(
            "hafs_raft_members", "Members of the Raft group, this one included.", len(st.members)
        )
        yield self._family(
            "hafs_raft_members_reachable",
            "Members this NameNode is connected to now, itself included (the leader's "
            "view is the one that decides a quorum).",
            sum(1 for m in st.members if m.reachable),
        )

    def _namespace(self) -> Iterator[Metric]:
        try:
            counts = self._view(lambda v: v.counts())
        except Exception as e:  # a snapshot install reopens the store; next scrape
            log.debug("metrics: cannot count the namespace now: %s", e)
            return
        yield self._family("hafs_namespace_files", "Files in the namespace.", counts.files)
        yield self._family(
            "hafs_namespace_directories",
            "Directories in the namespace, the root included.",
            counts.directories,
        )
        yield self._family("hafs_namespace_blocks", "Blocks of all files.", counts.blocks)

    def _safe_mode(self) -> Iterator[Metric]:
        try:
            on = self._view(lambda v: v.safe_mode().on)
        except Exception as e:  # a snapshot install reopens the store; next scrape
            log.debug("metrics: cannot read safe mode now: %s", e)
            return
        yield self._family(
            "hafs_namenode_safe_mode",
            "1 while the nameservice is in safe mode (read-only namespace), else 0.",
            on,
        )

    def _block_health(self, leader: bool) -> Iterator[Metric]:
        health = self._monitor.health if self._monitor is not None and leader else None
        copies = len(self._blocks.registry.copies()) if self._blocks is not None and leader else 0
        for name, doc, attr in (
            ("hafs_blocks_under_replicated", "Blocks with fewer live replicas than wanted.",
             "under_replicated"),
            ("hafs_blocks_missing", "Blocks with no good replica on any DataNode not dead.",
             "missing"),
            ("hafs_blocks_corrupt", "Blocks with at least one corrupt replica.", "corrupt"),
        ):  # fmt: skip
            value = getattr(health, attr) if health is not None else 0
            yield self._family(name, f"{doc} Leader only, from the last full scan.", value)
        yield self._family(
            "hafs_blocks_pending_replication",
            "Block copies ordered and not yet reported done (leader only).",
            copies,
        )

    def _datanodes(self, leader: bool) -> Iterator[Metric]:
        views = self._blocks.registry.views() if self._blocks is not None and leader else {}
        states = dict.fromkeys([*LIVENESS_STATES.values(), *ADMIN_STATES, MAINTENANCE_DEAD], 0)
        total = used = remaining = 0
        for node in views.values():
            states[LIVENESS_STATES[node.liveness]] += 1
            admin = _admin_label(node.admin)
            if admin is not None:
                states[admin] += 1
            if admin == "maintenance" and node.liveness is Liveness.DEAD:
                states[MAINTENANCE_DEAD] += 1  # stopped on purpose: no alert for these
            if node.liveness is not Liveness.DEAD:
                total += node.stats.capacity
                used += node.stats.used
                remaining += node.stats.remaining
        yield self._labelled(
            "hafs_datanodes",
            "DataNodes as the leader sees them: live, stale and dead split them; "
            "decommissioning, decommissioned and maintenance count admin states, and "
            "dead_in_maintenance the dead ones in maintenance (leader only).",
            "state",
            states,
        )
        yield self._labelled(
            "hafs_capacity_bytes",
            "Capacity of the DataNodes that are not dead, as they last reported (leader only).",
            "kind",
            {"total": total, "used": used, "remaining": remaining},
        )

    def _moves(self, leader: bool) -> Iterator[Metric]:
        balancer = self._balancer
        yield self._family(
            "hafs_balancer_bytes_moved",
            "Bytes of replicas the balancer moved while this NameNode led.",
            balancer.bytes_moved_total if balancer is not None else 0,
            counter=True,
        )
        in_flight = balancer.moves_in_flight() if balancer is not None and leader else 0
        yield self._family(
            "hafs_balancer_moves_in_flight",
            "Balancer moves started and not yet done or failed (leader only).",
            in_flight,
        )


def _admin_label(admin: AdminState) -> str | None:
    for label, names in ADMIN_STATES.items():
        if admin.name in names:
            return label
    return None
