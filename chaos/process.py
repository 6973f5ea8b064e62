"""One node's process: start it, signal it, and find it again by pid.

``NodeProcess`` is a node of a ``LocalCluster`` (``chaos.cluster``): a NameNode
or DataNode run as ``python -m ha_namenode|datanode --config FILE`` in its own
session, appending to its log. It was either started here (``process``) or
reattached to by ``pid`` from ``cluster.json``; a reattached pid counts only
while ``os_process`` shows it running this node's config, so a recycled pid is
never signalled. ``to_dict``/``from_dict`` are its record in ``cluster.json``;
a DataNode's ``nameservice`` there lists every nameservice it serves,
comma-separated; ``metrics_address`` is where it serves /metrics (null in
records from before metrics, and for a node without). ``launcher`` is an argv
prefix the command runs under, e.g. ``ip netns exec NS`` (``chaos.netns``),
which execs the node: the pid is still the node's own, so signals reach it.

Imports: the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODULES = {"namenode": "ha_namenode", "datanode": "datanode"}


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
    launcher: list[str] = field(default_factory=list)
    metrics_address: str | None = None  # host:port of its Prometheus /metrics

    @property
    def command(self) -> list[str]:
        node = [sys.executable, "-m", MODULES[self.kind], "--config", str(self.config_path)]
        return [*self.launcher, *node]

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
        extra = {"launcher": self.launcher} if self.launcher else {}
        return {
            "name": self.node_id,
            "kind": self.kind,
            "nameservice": self.nameservice,
            "pid": self.pid if self.running else None,
            "rpc_address": self.address,
            "raft_address": self.raft_address,
            "metrics_address": self.metrics_address,
            "config": str(self.config_path),
            "log": str(self.log_path),
            **extra,
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
            launcher=list(d.get("launcher", [])),
            metrics_address=d.get("metrics_address"),
        )
