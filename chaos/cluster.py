"""The process harness: start, stop and reattach to a real hafs cluster on 127.0.0.1.

One harness serves the integration tests, ``hactl dev`` (``make run``) and the
chaos suite. Each node runs as its own process (``python -m ha_namenode`` or
``python -m datanode``) in its own session, with a generated TOML config and a log file under the
cluster's base directory. ``stop()`` terminates every process, escalating to
SIGKILL, and ``logs()`` returns their output for a failing test to print.

A cluster has one or several nameservices (``nameservices=K``: ``ns1..nsK``),
each a group of ``namenodes`` NameNodes with its own Raft password and block
token secret, and one set of DataNodes shared by all of them (one block pool
per nameservice). Node naming and what each config says are in
``chaos.configs``; one node's process is a ``chaos.process.NodeProcess``.

Every ``start()`` records the cluster in ``<base>/cluster.json`` (format
``STATE_VERSION``): for each node its name, kind, nameservice, pid, addresses
(client RPC, Raft, Prometheus metrics), config and log.
``LocalCluster.load(base)`` reattaches to those processes by pid from another
process (``hactl dev status|kill|start|down``); a pid counts only while
``/proc`` (or ``ps``) shows it running this node's config, so a recycled pid is
never signalled. Restarting a node reuses its config, so its
ports and data survive. Linux or any system with ``ps``.

With ``network=`` (a ``chaos.netns.Network``) every node gets a network
namespace of its own: it listens on that namespace's address and is started
through ``ip netns exec``, so the chaos suite can cut its links; the caller
(the test process, in the host namespace) reaches it through the network's
router, and closes the network itself after ``stop()``.

Imports: the standard library, grpc, ``hafs_api``, ``chaos.configs``,
``chaos.netns`` and ``chaos.process`` (never ``client``).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos import configs
from chaos.configs import (
    DEV_BLOCKS,
    DEV_DATANODE,
    DEV_RAFT,
    HOST,
    free_port,
    toml_value,
    write_toml,
)
from chaos.netns import Network
from chaos.process import NodeProcess, os_process
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

# Also here for the harness's users: chaos.configs's DEV_*, HOST, free_port, toml_value
# and write_toml, and chaos.process's NodeProcess and os_process.
__all__ = [
    "DEV_BLOCKS",
    "DEV_DATANODE",
    "DEV_RAFT",
    "HOST",
    "LocalCluster",
    "NodeProcess",
    "free_port",
    "is_serving",
    "node_role",
    "os_process",
    "toml_value",
    "wait_serving",
    "wait_until",
    "write_atomically",
    "write_toml",
]

STATE_VERSION = 1


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.02):
    """Poll ``predicate`` until it returns something truthy (and return that), or fail
    with AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def wait_serving(address: str, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Wait until ``address`` reports SERVING; fail early once ``alive()`` is false."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if alive is not None and not alive():
                raise RuntimeError(f"the process for {address} exited before serving")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address} not serving after {timeout:.0f} s")
            time.sleep(0.05)


ROLES = {admin_pb2.ACTIVE: "active", admin_pb2.STANDBY: "standby", admin_pb2.CANDIDATE: "candidate"}


def node_role(address: str, timeout: float = 1.0) -> str:
    """``active``, ``standby`` or ``candidate`` from HaAdmin.GetStatus, else ``unreachable``."""
    with grpc.insecure_channel(address) as channel:
        try:
            status = admin_pb2_grpc.HaAdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return "unreachable"
    return ROLES.get(status.state, "unknown")


def is_serving(address: str, timeout: float = 1.0) -> bool:
    """Whether ``address`` answers the gRPC health check with SERVING."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _is_active_and_formatted(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            status = admin_pb2_grpc.HaAdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=1.0
            )
            if status.state != admin_pb2.ACTIVE:
                return False
            header = common_pb2.RequestHeader(user=getpass.getuser())
            namenode_pb2_grpc.ClientNamenodeStub(channel).GetFileInfo(
                namenode_pb2.GetFileInfoRequest(header=header, path="/"), timeout=1.0
            )
            return True
        except grpc.RpcError:
            return False


@dataclass
class LocalCluster:
    """A cluster of NameNode and DataNode processes under ``base_dir``.

    ``nameservices=K`` runs K nameservices ``ns1..nsK`` of ``namenodes``
    NameNodes each (one nameservice is named ``nameservice``), sharing the
    ``datanodes`` DataNodes. Where a method takes ``nameservice``, None means
    the default one, ``ns1`` (``nameservice`` when K is 1), and ``addresses``
    are the default nameservice's NameNodes.

    ``namespace``, ``users`` and ``blocks`` go into every NameNode's config (see
    ``ha_namenode.config``), e.g. ``namespace={"trash_interval_s": 0}``;
    ``datanode`` into every DataNode's ``[datanode]`` (see ``datanode.config``).
    DataNodes alternate between racks ``/rack1`` and ``/rack2``.

    ``network``: run every node in its own namespace of that network, on its
    address there (see the module docstring); None: all on 127.0.0.1.
    """

    base_dir: Path
    namenodes: int = 1  # per nameservice
    nameservice: str = "ns1"
    namespace: dict[str, Any] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[NodeProcess] = field(default_factory=list)

    raft: dict[str, Any] = field(default_factory=dict)
    datanodes: int = 0
    blocks: dict[str, Any] = field(default_factory=dict)
    datanode: dict[str, Any] = field(default_factory=dict)
    nameservices: int = 1
    network: Network | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        if self.namenodes < 1:
            raise ValueError("a nameservice needs at least one NameNode")
        if self.nameservices < 1:
            raise ValueError("a cluster needs at least one nameservice")
        if self.nameservices > 1 and self.nameservice != "ns1":
            raise ValueError(
                f"nameservice={self.nameservice!r} names a lone nameservice; "
                f"{self.nameservices} nameservices are ns1..ns{self.nameservices}"
            )

    @classmethod
    def load(cls, base_dir: Path | str) -> LocalCluster:
        """Reattach to the cluster recorded in ``base_dir`` (FileNotFoundError: none)."""
        base = Path(base_dir).resolve()
        path = base / "cluster.json"
        if path.exists():
            try:
                state = json.loads(path.read_text())
                if state.get("version") != STATE_VERSION:
                    raise ValueError(f"version {state.get('version')!r}, not {STATE_VERSION}")
                nodes = [NodeProcess.from_dict(d) for d in state["nodes"]]
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}: not a hafs dev cluster state file: {e}") from None
        else:
            nodes = _nodes_from_configs(base)  # a directory from before cluster.json
        if not nodes:
            raise FileNotFoundError(f"no hafs dev cluster in {base} (no cluster.json)")
        groups: dict[str, int] = {}  # nameservice -> NameNodes, in the recorded order
        for node in nodes:
            if node.kind == "namenode":
                groups[node.nameservice] = groups.get(node.nameservice, 0) + 1
        names = list(groups)
        if not names:
            raise ValueError(f"{path}: records no NameNode")
        if len(names) > 1 and names != [f"ns{k}" for k in range(1, len(names) + 1)]:
            raise ValueError(f"{path}: nameservices {', '.join(names)}, not ns1..ns{len(names)}")
        return cls(
            base,
            namenodes=groups[names[0]],
            nameservice=names[0],
            nodes=nodes,
            datanodes=sum(n.kind == "datanode" for n in nodes),
            nameservices=len(names),
        )

    def start(self, timeout: float = 60.0) -> LocalCluster:
        """Start every node not running; wait (bounded) for an active, formatted leader in
        every nameservice and for each to see the running DataNodes."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if not self.nodes:
            self.nodes = self._configure_all()
        deadline = time.monotonic() + timeout
        try:
            for node in self.nodes:
                if not node.running:
                    node.start()
            self.save_state()
            for node in self.nodes:
                left = max(deadline - time.monotonic(), 0.1)
                try:
                    wait_serving(node.address, left, alive=lambda n=node: n.running)
                except RuntimeError:
                    raise RuntimeError(
                        f"{node.node_id} exited while starting; see {node.log_path}"
                    ) from None
            self.leaders(max(deadline - time.monotonic(), 0.1))
            running = sum(1 for n in self.datanode_nodes if n.alive)
            if running:
                self.wait_datanodes(running, max(deadline - time.monotonic(), 0.1))
        except BaseException:
            self.stop()
            self.save_state()
            raise
        self.write_client_conf()
        self.save_state()
        return self

    def _configure_all(self) -> list[NodeProcess]:
        """Plan the cluster and write every node's config (``chaos.configs``)."""
        hosts = self.network.add if self.network is not None else None
        groups = configs.plan(self.nameservice_ids, self.namenodes, hosts)
        nodes = []
        for ns in groups:
            for node_id, address in ns.rpc.items():
                config = self.base_dir / f"{node_id}.toml"
                sections = configs.namenode_config(
                    ns,
                    node_id,
                    groups,
                    self.base_dir / node_id,
                    namespace=self.namespace,
                    users=self.users,
                    raft=self.raft,
                    blocks=self.blocks,
                )
                write_toml(config, sections)
                log = self.base_dir / f"{node_id}.log"
                raft = ns.raft.get(node_id)
                nodes.append(
                    NodeProcess(
                        node_id,
                        config,
                        log,
                        address,
                        raft_address=raft,
                        nameservice=ns.name,
                        launcher=self._launcher(node_id),
                        metrics_address=ns.metrics.get(node_id),
                    )
                )
        served = ",".join(ns.name for ns in groups)
        for i in range(1, self.datanodes + 1):
            name = f"dn{i}"
            address = configs.node_address(name, "datanode", hosts)
            metrics = configs.node_address(name, "metrics", hosts)
            config = self.base_dir / f"{name}.toml"
            data_dir = self.base_dir / name
            sections = configs.datanode_config(
                i, address, data_dir, groups, self.datanode, metrics_address=metrics
            )
            write_toml(config, sections)
            log = self.base_dir / f"{name}.log"
            nodes.append(
                NodeProcess(
                    name,
                    config,
                    log,
                    address,
                    nameservice=served,
                    kind="datanode",
                    launcher=self._launcher(name),
                    metrics_address=metrics,
                )
            )
        return nodes

    def _launcher(self, node_id: str) -> list[str]:
        return self.network.run_in(node_id) if self.network is not None else []

    # -- nameservices ---------------------------------------------------------------

    @property
    def nameservice_ids(self) -> list[str]:
        """The nameservices, the default first: ``ns1..nsK``, or ``[nameservice]``."""
        if self.nameservices == 1:
            return [self.nameservice]
        return [f"ns{k}" for k in range(1, self.nameservices + 1)]

    def _named(self, nameservice: str | None) -> str:
        ns = nameservice or self.nameservice
        if ns not in self.nameservice_ids:
            known = ", ".join(self.nameservice_ids)
            raise KeyError(f"unknown nameservice {ns!r} (known: {known})")
        return ns

    @property
    def namenode_nodes(self) -> list[NodeProcess]:
        """Every nameservice's NameNodes."""
        return [n for n in self.nodes if n.kind == "namenode"]

    def namenode_nodes_of(self, nameservice: str | None = None) -> list[NodeProcess]:
        ns = self._named(nameservice)
        return [n for n in self.namenode_nodes if n.nameservice == ns]

    @property
    def datanode_nodes(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.kind == "datanode"]

    @property
    def addresses(self) -> list[str]:
        """The default nameservice's NameNodes' client RPC addresses."""
        return self.addresses_of(None)

    def addresses_of(self, nameservice: str | None = None) -> list[str]:
        """A nameservice's NameNodes' client RPC addresses."""
        return [n.address for n in self.namenode_nodes_of(nameservice)]

    def datanode_report(
        self, nameservice: str | None = None, timeout: float = 2.0
    ) -> list[admin_pb2.DatanodeReport]:
        """A nameservice's leader's view of the DataNodes (empty when no leader answers)."""
        for node in self.namenode_nodes_of(nameservice):
            if not node.alive:
                continue
            with grpc.insecure_channel(node.address) as channel:
                try:
                    reply = admin_pb2_grpc.HaAdminStub(channel).GetDatanodeReport(
                        admin_pb2.GetDatanodeReportRequest(), timeout=timeout
                    )
                except grpc.RpcError:
                    continue
            return list(reply.datanodes)
        return []

    def wait_datanodes(self, count: int, timeout: float = 30.0) -> None:
        """Until every nameservice's leader sees ``count`` live DataNodes that have sent it
        a full report."""

        def ready(ns: str) -> bool:
            report = self.datanode_report(ns)
            return sum(d.liveness == admin_pb2.LIVE and d.reported for d in report) >= count

        deadline = time.monotonic() + timeout
        for ns in self.nameservice_ids:
            left = max(deadline - time.monotonic(), 0.0)
            wait_until(lambda ns=ns: ready(ns), left, f"{count} live DataNodes in {ns}", poll=0.1)

    def wait_leader(self, timeout: float = 30.0, nameservice: str | None = None) -> NodeProcess:
        """A nameservice's NameNode that is active and has formatted the namespace."""
        nodes = self.namenode_nodes_of(nameservice)
        deadline = time.monotonic() + timeout
        while True:
            for node in nodes:
                if node.alive and _is_active_and_formatted(node.address):
                    return node
            if time.monotonic() > deadline:
                where = " ".join(n.address for n in nodes)
                ns = self._named(nameservice)
                raise TimeoutError(f"no leader in {ns} among {where} after {timeout:.0f} s")
            time.sleep(0.05)

    def leaders(self, timeout: float = 30.0) -> dict[str, NodeProcess]:
        """Each nameservice's leader, waiting (``timeout`` for them all) where there is none."""
        deadline = time.monotonic() + timeout
        return {
            ns: self.wait_leader(max(deadline - time.monotonic(), 0.0), ns)
            for ns in self.nameservice_ids
        }

    # -- nodes, files and processes ----------------------------------------------------

    def node(self, name: str) -> NodeProcess:
        for node in self.nodes:
            if node.node_id == name:
                return node
        known = ", ".join(n.node_id for n in self.nodes)
        raise KeyError(f"unknown node {name!r} (known: {known})")

    @property
    def client_conf(self) -> Path:
        return self.base_dir / "cluster.toml"

    @property
    def state_file(self) -> Path:
        return self.base_dir / "cluster.json"

    def write_client_conf(self, user: str | None = None) -> Path:
        """``cluster.toml``: every nameservice's NameNodes, the default first."""
        namenodes = {ns: self.addresses_of(ns) for ns in self.nameservice_ids}
        top, sections = configs.client_config(namenodes, user)
        write_toml(self.client_conf, sections, top)
        return self.client_conf

    def save_state(self) -> Path:
        state = {
            "version": STATE_VERSION,
            "client_conf": str(self.client_conf),
            "nodes": [n.to_dict() for n in self.nodes],
        }
        write_atomically(self.state_file, json.dumps(state, indent=2) + "\n")
        return self.state_file

    def stop(self, timeout: float = 10.0) -> None:
        """SIGCONT + SIGTERM to every node at once, SIGKILL whatever is left after ``timeout``."""
        live = [n for n in self.nodes if n.running]
        for node in live:
            node.signal(signal.SIGCONT)
            node.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        left = [n for n in live if not n.wait_exit(deadline - time.monotonic())]
        for node in left:
            node.kill()

    def logs(self) -> str:
        out = []
        for node in self.nodes:
            text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
            out.append(f"===== {node.node_id} ({node.log_path}) =====\n{text[-20000:]}")
        return "\n".join(out)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _nodes_from_configs(base: Path) -> list[NodeProcess]:
    """Nodes from the ``nn*.toml`` configs of a directory written before cluster.json."""
    nodes = []
    for config in sorted(base.glob("nn*.toml")):
        try:
            with open(config, "rb") as f:
                cfg = tomllib.load(f)
            nn = cfg["namenode"]
        except (OSError, tomllib.TOMLDecodeError, KeyError) as e:
            raise ValueError(f"{config}: not a NameNode config: {e}") from None
        member = cfg.get("members", {}).get(nn["id"], {})
        nodes.append(
            NodeProcess(
                nn["id"],
                config,
                base / f"{nn['id']}.log",
                nn["rpc_address"],
                raft_address=member.get("raft_address"),
                nameservice=nn.get("nameservice", "ns1"),
                metrics_address=cfg.get("metrics", {}).get("address") or None,
            )
        )
    return nodes
