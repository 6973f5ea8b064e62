"""The process harness: start, stop and reattach to a real hafs cluster on 127.0.0.1.

One harness serves the integration tests, ``hactl dev`` (``make run``) and the
chaos suite. Each node runs as its own process (``python -m ha_namenode`` or
``python -m datanode``) in its own session, with a generated TOML config and a log file under the
cluster's base directory. ``stop()`` terminates every process, escalating to
SIGKILL, and ``logs()`` returns their output for a failing test to print.

Every ``start()`` records the cluster in ``<base>/cluster.json`` (format
``STATE_VERSION``): for each node its name, kind, nameservice, pid, addresses,
config and log. ``LocalCluster.load(base)`` reattaches to those processes by
pid from another process (``hactl dev status|kill|start|down``); a pid counts
only while ``/proc`` (or ``ps``) shows it running this node's config, so a
recycled pid is never signalled. Restarting a node reuses its config, so its
ports and data survive. Linux or any system with ``ps``.

Imports: the standard library, grpc and ``hafs_api`` (never ``client``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

MODULES = {"namenode": "ha_namenode", "datanode": "datanode"}

HOST = "127.0.0.1"
STATE_VERSION = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))


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


# Short timeouts for a laptop or CI (docs/design.md explains the production ones).
DEV_RAFT: dict[str, Any] = {
    "min_timeout_s": 0.3,
    "max_timeout_s": 0.6,
    "append_entries_period_s": 0.05,
    "leader_fallback_timeout_s": 2.0,
}

# A dead DataNode is noticed in seconds, not HDFS's 10.5 minutes (the default is 30 s).
DEV_BLOCKS: dict[str, Any] = {
    "stale_after_s": 3.0,
    "dead_after_s": 5.0,
    "monitor_interval_s": 0.5,
    "replication_timeout_s": 15.0,
}
DEV_DATANODE: dict[str, Any] = {
    "heartbeat_interval_s": 0.5,
    "full_report_interval_s": 600.0,
    "scan_period_s": 600.0,
}

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


def os_process(pid: int) -> tuple[str, str] | None:
    """``(state letter, command line)`` of a process, or None when there is none.

    The state is ``ps``'s: ``R``/``S``/``D`` running, ``T`` stopped, ``Z`` a zombie.
    """
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            return None
        return stat.rsplit(")", 1)[1].split()[0], cmdline
    out = subprocess.run(
        ["ps", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True, timeout=5
    ).stdout.strip()
    if not out:
        return None
    state, _, cmdline = out.partition(" ")
    return state[:1], cmdline.strip()


@dataclass
class NodeProcess:
    """One node's process: started here (``process``) or reattached to by ``pid``."""

    node_id: str
    config_path: Path
    log_path: Path
    address: str
    process: subprocess.Popen | None = None
    raft_address: str | None = None
    nameservice: str = "ns1"
    kind: str = "namenode"
    pid: int | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", MODULES[self.kind], "--config", str(self.config_path)]

    @property
    def state(self) -> str:
        """``running``, ``paused`` (SIGSTOP) or ``exited`` (no process, or a zombie)."""
        if self.pid is None or (self.process is not None and self.process.poll() is not None):
            return "exited"
        found = os_process(self.pid)
        if found is None or found[0] in ("Z", "X", ""):
            return "exited"
        if self.process is None and not (
            MODULES[self.kind] in found[1] and str(self.config_path) in found[1]
        ):
            return "exited"  # the pid was recycled by another program
        return "paused" if found[0] in ("T", "t") else "running"

    @property
    def running(self) -> bool:
        """A process exists, paused or not."""
        return self.state != "exited"

    @property
    def alive(self) -> bool:
        """Running and not paused."""
        return self.state == "running"

    def start(self) -> None:
        """Start the node from its config, appending to its log."""
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # no terminal: survives the shell that started it
            )
        self.pid = self.process.pid

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the process to go; whether it did."""
        if self.process is not None:
            try:
                self.process.wait(max(timeout, 0.0))
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self.running:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def wait_state(self, wanted: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.state != wanted:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL and wait for the process to go."""
        self.signal(signal.SIGKILL)
        return self.wait_exit(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGCONT + SIGTERM, then SIGKILL after ``timeout`` s; the exit code if known."""
        if self.running:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            if not self.wait_exit(timeout):
                self.kill(timeout)
        return self.process.returncode if self.process is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.node_id,
            "kind": self.kind,
            "nameservice": self.nameservice,
            "pid": self.pid if self.running else None,
            "rpc_address": self.address,
            "raft_address": self.raft_address,
            "config": str(self.config_path),
            "log": str(self.log_path),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeProcess:
        return cls(
            node_id=d["name"],
            config_path=Path(d["config"]),
            log_path=Path(d["log"]),
            address=d["rpc_address"],
            raft_address=d.get("raft_address"),
            nameservice=d["nameservice"],
            kind=d["kind"],
            pid=d.get("pid"),
        )


@dataclass
class LocalCluster:
    """A cluster of NameNode and DataNode processes under ``base_dir``.

    ``namespace``, ``users`` and ``blocks`` go into every NameNode's config (see
    ``ha_namenode.config``), e.g. ``namespace={"trash_interval_s": 0}``;
    ``datanode`` into every DataNode's ``[datanode]`` (see ``datanode.config``).
    DataNodes alternate between racks ``/rack1`` and ``/rack2``.
    """

    base_dir: Path
    namenodes: int = 1
    nameservice: str = "ns1"
    namespace: dict[str, Any] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[NodeProcess] = field(default_factory=list)

    raft: dict[str, Any] = field(default_factory=dict)
    datanodes: int = 0
    blocks: dict[str, Any] = field(default_factory=dict)
    datanode: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        if self.namenodes < 1:
            raise ValueError("a nameservice needs at least one NameNode")

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
        namenodes = sum(n.kind == "namenode" for n in nodes)
        datanodes = sum(n.kind == "datanode" for n in nodes)
        return cls(
            base,
            namenodes=namenodes,
            nameservice=nodes[0].nameservice,
            nodes=nodes,
            datanodes=datanodes,
        )

    def start(self, timeout: float = 60.0) -> LocalCluster:
        """Start every node not running, wait for an active, formatted leader (bounded)."""
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
            self.wait_leader(max(deadline - time.monotonic(), 0.1))
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
        ids = [f"nn{i + 1}" for i in range(self.namenodes)]
        rpc = {i: f"{HOST}:{free_port()}" for i in ids}
        members: dict[str, dict[str, Any]] = {}
        raft: dict[str, Any] = {}
        if self.namenodes > 1:
            members = {
                i: {"rpc_address": rpc[i], "raft_address": f"{HOST}:{free_port()}"} for i in ids
            }
            raft = {"password": secrets.token_hex(16), **DEV_RAFT, **self.raft}
        token_secret = secrets.token_hex(16)
        nodes = []
        for node_id in ids:
            config = self.base_dir / f"{node_id}.toml"
            sections: dict[str, dict[str, Any]] = {
                "namenode": {
                    "id": node_id,
                    "nameservice": self.nameservice,
                    "rpc_address": rpc[node_id],
                    "data_dir": str(self.base_dir / node_id),
                },
                "namespace": dict(self.namespace),
                "blocks": {"token_secret": token_secret, **DEV_BLOCKS, **self.blocks},
            }
            if self.users:
                sections["users"] = dict(self.users)
            if members:
                sections["raft"] = raft
                sections.update({f"members.{i}": m for i, m in members.items()})
            write_toml(config, sections)
            nodes.append(
                NodeProcess(
                    node_id,
                    config,
                    self.base_dir / f"{node_id}.log",
                    rpc[node_id],
                    raft_address=members.get(node_id, {}).get("raft_address"),
                    nameservice=self.nameservice,
                )
            )
        for i in range(1, self.datanodes + 1):
            nodes.append(self._configure_datanode(f"dn{i}", list(rpc.values()), token_secret))
        return nodes

    def _configure_datanode(self, name: str, namenodes: list[str], secret: str) -> NodeProcess:
        address = f"{HOST}:{free_port()}"
        config = self.base_dir / f"{name}.toml"
        rack = f"/rack{2 - int(name[2:]) % 2}"
        write_toml(
            config,
            {
                "datanode": {
                    "rpc_address": address,
                    "data_dirs": [str(self.base_dir / name)],
                    "rack": rack,
                    **DEV_DATANODE,
                    **self.datanode,
                },
                f"nameservices.{self.nameservice}": {
                    "namenodes": namenodes,
                    "block_token_secret": secret,
                },
            },
        )
        return NodeProcess(
            name,
            config,
            self.base_dir / f"{name}.log",
            address,
            nameservice=self.nameservice,
            kind="datanode",
        )

    @property
    def namenode_nodes(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.kind == "namenode"]

    @property
    def datanode_nodes(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.kind == "datanode"]

    def datanode_report(self, timeout: float = 2.0) -> list[admin_pb2.DatanodeReport]:
        """The leader's view of the DataNodes (empty when no leader answers)."""
        for node in self.namenode_nodes:
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
        """Until the leader sees ``count`` live DataNodes that have sent it a full report."""

        def ready() -> bool:
            report = self.datanode_report()
            return sum(d.liveness == admin_pb2.LIVE and d.reported for d in report) >= count

        wait_until(ready, timeout, f"{count} live DataNodes", poll=0.1)

    def wait_leader(self, timeout: float = 30.0) -> NodeProcess:
        """The node that is active and has formatted the namespace."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.namenode_nodes:
                if node.alive and _is_active_and_formatted(node.address):
                    return node
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader among {self.addresses} after {timeout:.0f} s")
            time.sleep(0.05)

    def node(self, name: str) -> NodeProcess:
        for node in self.nodes:
            if node.node_id == name:
                return node
        known = ", ".join(n.node_id for n in self.nodes)
        raise KeyError(f"unknown node {name!r} (known: {known})")

    @property
    def addresses(self) -> list[str]:
        """The NameNodes' client RPC addresses."""
        return [n.address for n in self.namenode_nodes]

    @property
    def client_conf(self) -> Path:
        return self.base_dir / "cluster.toml"

    @property
    def state_file(self) -> Path:
        return self.base_dir / "cluster.json"

    def write_client_conf(self, user: str | None = None) -> Path:
        sections: dict[str, dict[str, Any]] = {
            f"nameservices.{self.nameservice}": {"namenodes": self.addresses}
        }
        if user:
            sections["client"] = {"user": user}
        write_toml(self.client_conf, sections)
        text = f"default_nameservice = {toml_value(self.nameservice)}\n\n"
        self.client_conf.write_text(text + self.client_conf.read_text())
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
            )
        )
    return nodes
