"""A 3-member etcd cluster on 127.0.0.1 for the benchmarks: processes, status, leader.

``EtcdCluster(binary, base_dir, timing)`` plans the members (names ``m1..mN``, client
and peer ports from ``chaos.configs.free_port``, a data directory and a log file each
under ``base_dir``); as a context manager it starts them, waits until they agree on a
leader and a linearizable read through it succeeds, and stops every process on the
way out whatever happened (SIGTERM, then SIGKILL after a few seconds). ``kill`` and
``start_member`` are for the failover benchmark; a restarted member keeps its data
directory and rejoins as itself.

``Timing`` is etcd's ``--heartbeat-interval`` and ``--election-timeout``: ``DEFAULT``
is etcd's own (100 ms, 1000 ms), ``TUNED`` the fast one the failover comparison uses.
Everything else is etcd's default (3.4: no pre-vote, WAL fsynced before every
acknowledgement, snapshot every 100,000 entries).

The leader comes from the Maintenance ``Status`` RPC, answered locally by each member:
the member whose own id (``header.member_id``) is the leader id it reports.

Imports: the standard library, grpc, ``chaos.configs`` and the generated etcd stubs.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.peers.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from chaos.configs import HOST, free_port

MISSING = "etcd-server not installed (benchmarks/install_peers.sh)"
STOP_TIMEOUT_S = 5.0

# As the hafs client's channels: a restarted member is reachable again within a second
# or two, not after gRPC's default reconnect backoff of up to 120 s.
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class EtcdError(RuntimeError):
    """An etcd member did not start, or the cluster did not become ready."""


@dataclass(frozen=True)
class Timing:
    heartbeat_ms: int
    election_ms: int

    def flags(self) -> list[str]:
        return [
            f"--heartbeat-interval={self.heartbeat_ms}",
            f"--election-timeout={self.election_ms}",
        ]


DEFAULT = Timing(100, 1000)
TUNED = Timing(20, 200)


def find_binary() -> str | None:
    """The ``etcd`` server binary: on PATH, or Debian's ``/usr/bin/etcd``; None if absent."""
    found = shutil.which("etcd")
    if found:
        return found
    return "/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None


def version(binary: str) -> str:
    """``3.4.23`` from ``etcd --version``."""
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    found = re.search(r"etcd Version:\s*(\S+)", out)
    return found.group(1) if found else out.strip().splitlines()[0] if out.strip() else "?"


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{HOST}:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class EtcdCluster:
    def __init__(self, binary: str, base_dir: Path, timing: Timing = DEFAULT, size: int = 3):
        self.binary = binary
        self.base_dir = Path(base_dir)
        self.timing = timing
        self.token = f"hafs-bench-{secrets.token_hex(4)}"
        self.members = [
            Member(
                f"m{i}",
                free_port(),
                free_port(),
                self.base_dir / f"m{i}.etcd",
                self.base_dir / f"m{i}.log",
            )
            for i in range(1, size + 1)
        ]
        self._channels: dict[str, grpc.Channel] = {}  # by address; shared by threads
        self._lock = threading.Lock()

    # ---- processes -----------------------------------------------------------------

    def flags(self, member: Member) -> list[str]:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        client_url = f"http://{member.address}"
        return [
            f"--name={member.name}",
            f"--data-dir={member.data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={member.peer_url}",
            f"--initial-advertise-peer-urls={member.peer_url}",
            f"--initial-cluster={initial}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={self.token}",
            *self.timing.flags(),
            "--logger=zap",
            "--log-outputs=stderr",
        ]

    def start_member(self, member: Member) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with open(member.log_path, "ab") as log:
            member.process = subprocess.Popen(
                [self.binary, *self.flags(member)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C reaches us, and we stop it
            )

    def kill(self, member: Member) -> None:
        """SIGKILL ``member`` and reap it."""
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(signal.SIGKILL)
            member.process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Stop every member, one after the other: SIGTERM, then SIGKILL after a while.

        One at a time, because a leader that stops hands its leadership to a live
        member first; stopped all at once, the leader waits seconds for a transfer
        that cannot happen."""
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()
        for m in self.members:
            if m.process is None or m.process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                m.process.terminate()
            try:
                m.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                m.process.kill()
                m.process.wait(STOP_TIMEOUT_S)

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        try:
            for m in self.members:
                self.start_member(m)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, member: Member, lines: int = 20) -> str:
        try:
            return "\n".join(member.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---- status --------------------------------------------------------------------

    def channel(self, member: Member) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(member.address)
            if channel is None:
                channel = grpc.insecure_channel(member.address, options=CHANNEL_OPTIONS)
                self._channels[member.address] = channel
            return channel

    def status(self, member: Member, timeout: float = 0.5) -> rpc_pb2.StatusResponse | None:
        """``member``'s own view (leader id, term, raft indexes); None if it does not answer."""
        if not member.running:
            return None
        try:
            return rpc_pb2_grpc.MaintenanceStub(self.channel(member)).Status(
                rpc_pb2.StatusRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return None

    def leader(
        self, among: Iterable[Member] | None = None
    ) -> tuple[Member, rpc_pb2.StatusResponse] | None:
        """The member that reports itself leader (the highest term if several), with its status."""
        found = []
        for m in among if among is not None else self.members:
            st = self.status(m)
            if st is not None and st.leader and st.leader == st.header.member_id:
                found.append((st.raftTerm, m.name, m, st))
        if not found:
            return None
        _, _, member, st = max(found, key=lambda f: (f[0], f[1]))
        return member, st

    def wait_ready(self, timeout: float) -> Member:
        """Until every running member follows one leader and a linearizable read through
        it succeeds; the leader."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.members:
                if m.process is not None and m.process.poll() is not None:
                    raise EtcdError(
                        f"etcd {m.name} exited {m.process.returncode}:\n{self.log_tail(m)}"
                    )
            found = self.leader()
            if found is not None:
                leader, st = found
                views = [self.status(m) for m in self.members if m.running]
                if all(v is not None and v.leader == st.leader for v in views) and self._reads(
                    leader
                ):
                    return leader
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {m.name}\n{self.log_tail(m)}" for m in self.members)
                raise EtcdError(f"etcd cluster not ready after {timeout:.0f} s\n{tails}")
            time.sleep(0.05)

    def _reads(self, member: Member) -> bool:
        try:
            rpc_pb2_grpc.KVStub(self.channel(member)).Range(
                rpc_pb2.RangeRequest(key=b"/ready"), timeout=1.0
            )
            return True
        except grpc.RpcError:
            return False

    def pids(self, leader: Member) -> dict[str, int]:
        """Process ids by role, for CPU accounting: ``leader``, ``follower-m2``, ..."""
        return {
            ("leader" if m is leader else f"follower-{m.name}"): m.process.pid
            for m in self.members
            if m.process is not None
        }
