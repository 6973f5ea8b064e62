"""Helpers shared by the benchmarks: cluster lifetime, node status, memory, percentiles.

Only the public surface of ``chaos.cluster.LocalCluster`` is used (``start``,
``stop``, ``nodes``, ``addresses``, ``wait_leader``; each node's ``node_id``,
``address``, ``signal``, ``start``, ``stop``, ``running``, ``process``), plus
the TOML config each node is started with, to learn its data directory and
Raft address.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from chaos.cluster import LocalCluster, is_serving
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

STATES = {
    admin_pb2.ACTIVE: "active",
    admin_pb2.STANDBY: "standby",
    admin_pb2.CANDIDATE: "candidate",
}


@contextlib.contextmanager
def running(cluster: LocalCluster, timeout: float = 60.0) -> Iterator[LocalCluster]:
    """Start ``cluster`` and stop every process it started, whatever happens."""
    try:
        cluster.start(timeout)
        yield cluster
    finally:
        cluster.stop()


def node_config(cluster: LocalCluster, node: Any) -> dict[str, Any]:
    """The TOML config ``node`` runs with."""
    path = getattr(node, "config_path", None) or Path(cluster.base_dir) / f"{node.node_id}.toml"
    with open(path, "rb") as f:
        return tomllib.load(f)


def raft_settings(cluster: LocalCluster) -> dict[str, Any]:
    """The ``[raft]`` section the nodes run with, without the password."""
    if not cluster.nodes:
        return {}
    raft = dict(node_config(cluster, cluster.nodes[0]).get("raft", {}))
    raft.pop("password", None)
    return raft


# ---- status over gRPC --------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    node_id: str
    address: str
    state: str  # active, standby, candidate, unreachable
    term: int = 0
    commit_index: int = 0
    applied_index: int = 0
    leader_id: str = ""
    members: tuple[tuple[str, bool, int], ...] = ()  # (node id, reachable, match index)


def get_status(address: str, timeout: float = 1.0) -> Status:
    with grpc.insecure_channel(address) as channel:
        try:
            st = admin_pb2_grpc.HaAdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return Status("", address, "unreachable")
    return Status(
        st.node_id,
        address,
        STATES.get(st.state, "standby"),
        st.term,
        st.commit_index,
        st.applied_index,
        st.leader_id,
        tuple((m.node_id, m.reachable, m.match_index) for m in st.members),
    )


def group_status(addresses: Sequence[str], timeout: float = 1.0) -> list[Status]:
    return [get_status(a, timeout) for a in addresses]


def max_term(statuses: Sequence[Status]) -> int:
    return max((s.term for s in statuses), default=0)


def wait_until(what: str, predicate, timeout: float, poll: float = 0.02) -> float:
    """Poll ``predicate`` until true; the monotonic time it became true. Bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(poll)


def stat_answer(address: str, path: str, timeout: float = 2.0) -> str:
    """Ask ``address`` for ``path``: "ok" or the hafs error code ("NOT_LEADER", ...)."""
    header = common_pb2.RequestHeader(user=getpass.getuser())
    with grpc.insecure_channel(address) as channel:
        try:
            namenode_pb2_grpc.ClientNamenodeStub(channel).GetFileInfo(
                namenode_pb2.GetFileInfoRequest(header=header, path=path), timeout=timeout
            )
            return "ok"
        except grpc.RpcError as exc:
            return from_rpc_error(exc).code.value


def healthy_member(cluster: LocalCluster, node: Any, caught_up_to: int) -> bool:
    """``node`` serves, follows a known leader and has applied ``caught_up_to``.

    The leader must also see it as reachable with that index matched: it is a
    full member of the group again.
    """
    if not node.running or not is_serving(node.address):
        return False
    mine = get_status(node.address)
    if mine.state == "unreachable" or not mine.leader_id or mine.applied_index < caught_up_to:
        return False
    if mine.state == "active":
        return True
    leader = next((n for n in cluster.nodes if n.node_id == mine.leader_id), None)
    if leader is None:
        return False
    theirs = get_status(leader.address)
    seen = {m[0]: m for m in theirs.members}.get(node.node_id)
    return theirs.state == "active" and seen is not None and seen[1] and seen[2] >= caught_up_to


def leader_status(addresses: Sequence[str]) -> Status | None:
    """The status of the active node with the highest term, if any answers as active."""
    active = [s for s in group_status(addresses) if s.state == "active"]
    return max(active, key=lambda s: s.term) if active else None


# ---- processes ----------------------------------------------------------------------


def memory(pid: int) -> dict[str, float]:
    """Resident memory of ``pid`` in MiB: VmRSS (now) and VmHWM (peak)."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024  # kB
    except OSError:
        pass
    return {"rss_mib": out.get("VmRSS", 0.0), "peak_rss_mib": out.get("VmHWM", 0.0)}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---- statistics ---------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table's lines; ``align`` as for ``table`` (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join(sep) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain-text table; ``align`` has "l" or "r" per column (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(row, widths, align, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
