"""Wiring: ``NameNode.from_config(cfg).start()`` — the same call in ``__main__``,
tests, chaos and the dev cluster.

Layout of ``data_dir``::

    in_use.lock        held while a NameNode runs here (a second one refuses to start)
    namespace.db       the live SQLite state (disposable: rebuilt from an image)
    image/             images: consistent copies of the state, named by applied index
    raft.journal       the Raft log (the edit log), with [members] only
    raft-states.log    every Raft role change of this replica, fsynced (chaos checkers)
    raft.dump          the Raft snapshot: a self-contained image, with [members] only

Readiness: a ``ReadinessLoop`` sets the health service ``hafs.ready`` from
``ha_namenode.readiness.verdict`` (a leader known and connected, and caught up
within ``[namenode] ready_max_lag`` entries) every half second, from ``start``.

With ``[metrics] address`` set, ``/metrics`` is served there from ``start`` to
``stop`` (``ha_namenode.metrics``); the port is bound in ``from_config``, so a
port in use fails start-up with an ``OSError`` naming ``metrics.address``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ha_namenode.blocks.dispatcher import Dispatcher
from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.config import NameNodeConfig
from ha_namenode.consensus.base import Consensus
from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.consensus.raft import Peer, RaftConsensus
from ha_namenode.duties import Duties
from ha_namenode.federation.cache import MountCache
from ha_namenode.federation.service import Federation
from ha_namenode.federation.sync import MountSync
from ha_namenode.identity import GroupMapping
from ha_namenode.metrics import NameNodeMetrics
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine, log_position
from ha_namenode.namesystem import Namesystem
from ha_namenode.overview import OverviewSource
from ha_namenode.persistence import SqlStore, latest_image, restore_image, write_image
from ha_namenode.readiness import verdict
from ha_namenode.rpc.admin_service import AdminService
from ha_namenode.rpc.client_service import ClientService
from ha_namenode.rpc.datanode_client import GrpcReplicaClient
from ha_namenode.rpc.datanode_service import DatanodeService
from ha_namenode.rpc.federation_client import GrpcPeers
from ha_namenode.rpc.server import CLIENT_SERVICE, RpcServer
from hafs_api.metrics import MetricsServer
from hafs_api.readiness import ReadinessLoop

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class DataDirInUse(RuntimeError):
    pass


def lock_data_dir(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / "in_use.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(f"{path} is in use by another NameNode") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def make_consensus(
    config: NameNodeConfig,
    machine: StateMachine,
    store: SqlStore,
    on_proposal: Callable[[float], None] | None = None,
) -> Consensus:
    """A Raft replica when ``[members]`` lists a group, else a one-member group."""
    node = config.namenode
    if not config.replicated:
        return LocalConsensus(machine, node.id, node.rpc_address, on_proposal=on_proposal)
    peers = [Peer(i, m.raft_address, m.rpc_address) for i, m in sorted(config.members.items())]
    me = next(p for p in peers if p.node_id == node.id)
    return RaftConsensus(
        machine,
        store,
        me,
        peers,
        config.data_path,
        config.raft,
        nameservice=node.nameservice,
        on_proposal=on_proposal,
    )


def make_federation(config: NameNodeConfig, machine: StateMachine, namesystem: Namesystem):
    """The mount table's cache (invalidated by apply), the federation service and its loop."""
    fed, node = config.federation, config.namenode
    cache = MountCache(machine.store, fed.default_nameservice or node.nameservice)
    machine.watch((c.AddMount, c.RemoveMount, c.InstallMountTable), cache.invalidate)
    peers = GrpcPeers(
        {name: ns.namenodes for name, ns in fed.nameservices.items()},
        fed.rpc_timeout_s,
        f"federation-{node.nameservice}-{node.id}-{secrets.token_hex(4)}",  # unique per process
    )
    federation = Federation(namesystem, cache, peers)
    return federation, MountSync(federation, fed.push_interval_s)


class NameNode:
    def __init__(
        self,
        config: NameNodeConfig,
        lock_fd: int,
        store: SqlStore,
        consensus: LocalConsensus,
        namesystem: Namesystem,
        server: RpcServer,
        duties: Duties,
        monitor: BlockMonitor,
        replica_client: GrpcReplicaClient,
        federation: Federation,
        mount_sync: MountSync,
        metrics: NameNodeMetrics,
        metrics_server: MetricsServer | None = None,
    ) -> None:
        self.metrics = metrics
        self.metrics_server = metrics_server
        self.federation = federation
        self.mount_sync = mount_sync
        self.monitor = monitor
        self.replica_client = replica_client
        self.config = config
        self._lock_fd = lock_fd
        self.store = store
        self.consensus = consensus
        self.namesystem = namesystem
        self.server = server
        self.duties = duties
        self.readiness = ReadinessLoop(
            lambda: verdict(consensus.status(), config.namenode.ready_max_lag),
            server.set_ready,
        )
        self._started = False

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def metrics_address(self) -> str:
        """Where ``/metrics`` is served ("" without ``[metrics] address``)."""
        return self.metrics_server.address if self.metrics_server is not None else ""

    @classmethod
    def from_config(cls, config: NameNodeConfig) -> NameNode:
        data = config.data_path
        lock_fd = lock_data_dir(data)
        node_cfg = config.namenode
        metrics = NameNodeMetrics(node_cfg.nameservice, node_cfg.id)
        metrics_server = None
        try:
            if config.metrics.address:
                metrics_server = MetricsServer(config.metrics.address, metrics.registry)
            live = data / "namespace.db"
            image = latest_image(data / "image")
            if not live.exists() and image is not None:
                log.info("restoring the namespace from %s", image)
                restore_image(image, live)
            store = SqlStore(
                live,
                synchronous=config.namenode.sqlite_synchronous,
                readers=config.namenode.rpc_workers,
            )
            ns_cfg = config.namespace
            machine = StateMachine(store, retry_ttl_ms=int(ns_cfg.retry_cache_ttl_s * 1000))
            consensus = make_consensus(config, machine, store, metrics.proposal.observe)
            groups = GroupMapping(
                config.users,
                ns_cfg.effective_superuser,
                ns_cfg.supergroup,
                ns_cfg.allow_unknown_users,
            )
            namesystem = Namesystem(config, store, consensus, groups)
            federation, mount_sync = make_federation(config, machine, namesystem)

            def checkpoint() -> tuple[str, int, int]:
                if isinstance(consensus, RaftConsensus):  # also compact the Raft journal
                    consensus.force_compaction()
                info = write_image(store, data / "image")
                return str(info.path), info.applied_index, info.size_bytes

            blocks = BlockManager(namesystem, config.blocks)
            replica_client = GrpcReplicaClient(node_cfg.nameservice)
            balancer = Dispatcher(blocks)
            monitor = BlockMonitor(blocks, replica_client, balancer)
            admin = AdminService(
                consensus,
                node_cfg.nameservice,
                node_cfg.rpc_address,
                VERSION,
                checkpoint,
                blocks,
                federation,
                lambda: namesystem.view(log_position),
                OverviewSource(
                    metrics.rpc.totals(CLIENT_SERVICE.rpartition(".")[2]),
                    lambda: namesystem.view(lambda v: v.counts()),
                    blocks,
                    monitor,
                ),
                balancer,
            )
            server = RpcServer(
                node_cfg.rpc_address,
                node_cfg.rpc_workers,
                node_cfg.max_message_bytes,
                ClientService(namesystem, blocks, monitor, federation),
                admin,
                DatanodeService(blocks),
                interceptors=[metrics.rpc],
            )
            admin.address = server.address
            if isinstance(consensus, LocalConsensus):
                consensus.advertise(server.address)
            metrics.watch(
                consensus,
                namesystem.view,
                blocks,
                monitor,
                {"version": VERSION, "address": server.address},
                balancer,
            )
        except BaseException:
            if metrics_server is not None:
                metrics_server.stop()
            os.close(lock_fd)
            raise
        return cls(
            config,
            lock_fd,
            store,
            consensus,
            namesystem,
            server,
            Duties(namesystem),
            monitor,
            replica_client,
            federation,
            mount_sync,
            metrics,
            metrics_server,
        )

    def start(self) -> NameNode:
        if self.metrics_server is not None:
            self.metrics_server.start()
        self.consensus.start()
        self.duties.run_once()  # formats a new namespace before the first client call
        self.duties.start()
        self.monitor.start()
        self.server.start()
        self.mount_sync.start()
        self.server.set_serving(True)
        self.readiness.start()
        self._started = True
        log.info(
            "NameNode %s of %s is active at %s",
            self.config.namenode.id,
            self.config.namenode.nameservice,
            self.address,
        )
        return self

    def stop(self) -> None:
        log.info("NameNode %s stopping", self.config.namenode.id)
        if self.metrics_server is not None:
            self.metrics_server.stop()
        if self._started:
            self.readiness.stop()
            self.server.set_serving(False)
            self.server.stop()
            self.monitor.stop()
            self.duties.stop()
            self.mount_sync.stop()
            self.federation.close()
            self.replica_client.close()
        self.consensus.stop()
        self.store.close()
        os.close(self._lock_fd)
        self._started = False
