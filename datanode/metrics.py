"""The DataNode's Prometheus metrics (docs/operations.md, "Metrics", lists them all).

``DataNodeMetrics`` owns the daemon's registry and counts as things happen:

* it is the storage's ``IoObserver``: bytes replicas served (client reads and
  replication copies, not the block scanner) and stored, and writes refused
  for a checksum mismatch; the scanner's corrupt replicas are counted by
  ``DataNode`` through ``checksum_failed`` too;
* ``heartbeat(nameservice)`` is the observer each ``Actor`` times its
  heartbeat calls with;
* ``rpc`` is the data transfer server's interceptor (``hafs_api.metrics``).

``DataNodeCollector`` reads state only when Prometheus scrapes: failed volumes,
capacity, replicas per block pool. Every metric carries the label ``node`` (the
DataNode id the NameNodes know it by); per block pool ones carry
``nameservice`` too. No label holds a path or a user name.

Imports: prometheus_client, ``hafs_api.metrics`` and ``datanode.storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from datanode.storage import Storage
from hafs_api.metrics import LATENCY_BUCKETS, RpcMetrics, new_registry


class DataNodeMetrics:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.registry = new_registry()
        registry = self.registry
        self.read_bytes = Counter(
            "hafs_datanode_read_bytes",
            "Replica data sent to clients and to other DataNodes (replication).",
            ["node"],
            registry=registry,
        ).labels(node_id)
        self.written_bytes = Counter(
            "hafs_datanode_written_bytes",
            "Replica data stored: client writes, pipelines and replication copies.",
            ["node"],
            registry=registry,
        ).labels(node_id)
        self.checksum_failures = Counter(
            "hafs_datanode_checksum_failures",
            "Data that failed its CRC32C: writes refused on arrival, and corrupt "
            "replicas the block scanner found.",
            ["node"],
            registry=registry,
        ).labels(node_id)
        self._heartbeat = Histogram(
            "hafs_datanode_heartbeat_seconds",
            "Latency of heartbeat calls to a nameservice's leader that succeeded.",
            ["node", "nameservice"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.rpc = RpcMetrics(registry, {"node": node_id})

    # -- storage.IoObserver (I/O threads; prometheus_client's counters are thread-safe) --

    def read(self, n: int) -> None:
        self.read_bytes.inc(n)

    def written(self, n: int) -> None:
        self.written_bytes.inc(n)

    def checksum_failed(self) -> None:
        self.checksum_failures.inc()

    # -- the rest ----------------------------------------------------------------------

    def heartbeat(self, nameservice: str) -> Callable[[float], None]:
        return self._heartbeat.labels(self.node_id, nameservice).observe

    def watch(self, storage: Storage, info: dict[str, str] | None = None) -> None:
        """Register the collector of the storage's state."""
        self.registry.register(DataNodeCollector(self.node_id, storage, info or {}))


class DataNodeCollector(Collector):
    def __init__(self, node_id: str, storage: Storage, info: dict[str, str]) -> None:
        self._node = node_id
        self._storage = storage
        self._info = info

    def describe(self) -> list[Metric]:
        return []  # state is read at collect time only

    def collect(self) -> Iterator[Metric]:
        node = self._node
        if self._info:
            info = GaugeMetricFamily(
                "hafs_datanode_info",
                "This DataNode's software version, data transfer address and rack (always 1).",
                labels=["node", *self._info],
            )
            info.add_metric([node, *self._info.values()], 1)
            yield info
        volumes = self._storage.usage()
        failed = GaugeMetricFamily(
            "hafs_datanode_failed_volumes",
            "Storage directories that failed (their replicas are dropped).",
            labels=["node"],
        )
        failed.add_metric([node], sum(v.failed for v in volumes))
        yield failed
        capacity = GaugeMetricFamily(
            "hafs_datanode_capacity_bytes",
            "Space of the storage directories that have not failed.",
            labels=["node", "kind"],
        )
        healthy = [v for v in volumes if not v.failed]
        for kind in ("capacity", "used", "remaining"):
            label = "total" if kind == "capacity" else kind
            capacity.add_metric([node, label], sum(getattr(v, kind) for v in healthy))
        yield capacity
        blocks = GaugeMetricFamily(
            "hafs_datanode_blocks",
            "Replicas held in each block pool (one per nameservice), those being written included.",
            labels=["node", "nameservice"],
        )
        for name in self._storage.pools():
            blocks.add_metric([node, name], self._storage.pool(name).count())
        yield blocks
