"""The process harness: start and stop a real hafs cluster on 127.0.0.1.

One harness serves the integration tests, ``hactl dev up`` (``make run``) and the
chaos suite. Each node runs as its own process (``python -m ha_namenode``)
with a generated TOML config and a log file under the cluster's base
directory; ``stop()`` terminates every process it started, escalating to
SIGKILL, and ``logs()`` returns their output for a failing test to print.
"""

from __future__ import annotations

import getpass
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

HOST = "127.0.0.1"


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


def wait_serving(address: str, timeout: float) -> None:
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
class NodeProcess:
    node_id: str
    config_path: Path
    log_path: Path
    address: str
    process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ha_namenode", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            os.kill(self.process.pid, signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


@dataclass
class LocalCluster:
    """A cluster of NameNode processes under ``base_dir``.

    ``namespace`` and ``users`` go into every NameNode's config (see
    ``ha_namenode.config``), e.g. ``namespace={"trash_interval_s": 0}``.
    """

    base_dir: Path
    namenodes: int = 1
    nameservice: str = "ns1"
    namespace: dict[str, Any] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[NodeProcess] = field(default_factory=list)

    raft: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)
        if self.namenodes < 1:
            raise ValueError("a nameservice needs at least one NameNode")

    def start(self, timeout: float = 30.0) -> LocalCluster:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if not self.nodes:
            self.nodes = self._configure_all()
        try:
            for node in self.nodes:
                if not node.running:
                    node.start()
            for node in self.nodes:
                wait_serving(node.address, timeout)
            self.wait_leader(timeout)
        except BaseException:
            self.stop()
            raise
        self.write_client_conf()
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
            }
            if self.users:
                sections["users"] = dict(self.users)
            if members:
                sections["raft"] = raft
                sections.update({f"members.{i}": m for i, m in members.items()})
            write_toml(config, sections)
            nodes.append(
                NodeProcess(node_id, config, self.base_dir / f"{node_id}.log", rpc[node_id])
            )
        return nodes

    def wait_leader(self, timeout: float = 30.0) -> NodeProcess:
        """The node that is active and has formatted the namespace."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.running and _is_active_and_formatted(node.address):
                    return node
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader among {self.addresses} after {timeout:.0f} s")
            time.sleep(0.05)

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.nodes]

    @property
    def client_conf(self) -> Path:
        return self.base_dir / "client.toml"

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

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

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
