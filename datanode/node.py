"""Wiring: ``DataNode.from_config(cfg).start()`` — the same call in ``__main__`` and tests.

One DataNode serves every configured nameservice, with one block pool (named
after the nameservice) and one ``Actor`` thread per nameservice. What feeds
what::

    DataTransfer server ── finalized / recovered replica ──► actor of that pool
    BlockScanner ───────── corrupt replica ────────────────► actor (state CORRUPT)
    actor ── replicate commands ──► Replicator ── WriteBlock REPLICATION ──► other DataNodes
    actor ── delete commands ─────► the block pool

Readiness: the health service ``hafs.ready`` is SERVING while every actor is
registered with its nameservice's leader (``hafs_api.readiness``, checked every
half second by a ``ReadinessLoop``).

Threads: the gRPC server's workers (one per data transfer call, plus a pump
or two per WriteBlock), one actor per nameservice, up to ``max_transfers``
replication copies, the scanner, the readiness loop, and with ``[metrics] address`` the metrics
endpoint (``datanode.metrics``; its port is bound when the DataNode is built).

Imports: every ``datanode`` module, grpc and ``hafs_api``.
"""

from __future__ import annotations

import logging
from typing import Any

from datanode.actor import Actor
from datanode.config import DataNodeConfig
from datanode.metrics import DataNodeMetrics
from datanode.replicator import Replicator
from datanode.scanner import BlockScanner
from datanode.storage import Storage
from datanode.transfer import DataTransferService, PoolAccess, TransferServer, message_options
from hafs_api.metrics import MetricsServer
from hafs_api.readiness import ReadinessLoop, datanode_verdict
from hafs_api.v1 import datanode_pb2

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class DataNode:
    def __init__(self, config: DataNodeConfig, storage: Storage) -> None:
        node = config.datanode
        self.config = config
        self.storage = storage
        self.metrics = DataNodeMetrics(storage.datanode_id)
        storage.observer = self.metrics
        self.pools = {
            name: PoolAccess(name, ns.token_key, storage.pool(name))
            for name, ns in config.nameservices.items()
        }
        self.replicator = Replicator(
            {name: access.pool for name, access in self.pools.items()},
            storage.datanode_id,
            node.max_transfers,
            node.packet_bytes,
            message_options(node.packet_bytes),
        )
        service = DataTransferService(self.pools, self._received, node.packet_bytes)
        self.server = TransferServer(
            node.rpc_address,
            node.rpc_workers,
            service,
            node.packet_bytes,
            interceptors=[self.metrics.rpc],
        )
        self.actors = {
            name: Actor(
                name,
                ns.namenodes,
                self.pools[name].pool,
                lambda name=name: self._registration(name),
                self._heartbeat_fields,
                self.replicator.submit,
                heartbeat_interval_s=node.heartbeat_interval_s,
                full_report_interval_s=node.full_report_interval_s,
                on_heartbeat=self.metrics.heartbeat(name),
            )
            for name, ns in config.nameservices.items()
        }
        self.readiness = ReadinessLoop(
            lambda: datanode_verdict(
                {name: actor.registered_with for name, actor in self.actors.items()}
            ),
            self.server.set_ready,
        )
        self.scanner = BlockScanner(
            storage,
            self._corrupt,
            period_s=node.scan_period_s,
            bytes_per_second=node.scan_bytes_per_s,
        )
        self.metrics.watch(
            storage, {"version": VERSION, "address": self.address, "rack": node.rack}
        )
        self.metrics_server = (
            MetricsServer(config.metrics.address, self.metrics.registry)
            if config.metrics.address
            else None
        )

    @classmethod
    def from_config(cls, config: DataNodeConfig) -> DataNode:
        node = config.datanode
        storage = Storage(list(node.data_dirs), node.capacity_bytes, node.reserved_bytes)
        try:
            return cls(config, storage)
        except BaseException:
            storage.close()
            raise

    @property
    def address(self) -> str:
        """The bound data transfer address (what the NameNodes are told)."""
        return self.server.address

    @property
    def datanode_id(self) -> str:
        return self.storage.datanode_id

    @property
    def metrics_address(self) -> str:
        """Where ``/metrics`` is served ("" without ``[metrics] address``)."""
        return self.metrics_server.address if self.metrics_server is not None else ""

    def start(self) -> DataNode:
        if self.metrics_server is not None:
            self.metrics_server.start()
        self.server.start()
        for actor in self.actors.values():
            actor.start()
        self.scanner.start()
        self.readiness.start()
        log.info(
            "DataNode %s serving %s on %s",
            self.datanode_id,
            ", ".join(sorted(self.pools)),
            self.address,
        )
        return self

    def stop(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.stop()
        self.readiness.stop()
        for actor in self.actors.values():
            actor.stop()
        self.scanner.stop()
        self.replicator.stop()
        self.server.stop()
        self.storage.close()
        log.info("DataNode %s stopped", self.datanode_id)

    # -- callbacks ----------------------------------------------------------------------

    def _received(self, pool: str, info: Any) -> None:
        actor = self.actors.get(pool)
        if actor is not None:
            actor.received(info)

    def _corrupt(self, pool: str, info: Any, reason: str) -> None:
        self.metrics.checksum_failed()
        actor = self.actors.get(pool)
        if actor is not None:
            actor.received(info, corrupt=True)

    def _registration(self, pool: str) -> datanode_pb2.DatanodeRegistration:
        return datanode_pb2.DatanodeRegistration(
            datanode_id=self.datanode_id,
            address=self.address,
            rack=self.config.datanode.rack,
            block_pool=pool,
            capacity_bytes=sum(v.capacity for v in self.storage.usage() if not v.failed),
            software_version=VERSION,
        )

    def _heartbeat_fields(self) -> dict[str, Any]:
        storages = [
            datanode_pb2.StorageReport(
                storage_id=v.path,
                capacity_bytes=v.capacity,
                used_bytes=v.used,
                remaining_bytes=v.remaining,
                failed=v.failed,
            )
            for v in self.storage.usage()
        ]
        return {
            "storages": storages,
            "active_transfers": self.replicator.active(),
            "failed_volumes": self.storage.failed_volumes(),
        }
