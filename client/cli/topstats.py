"""``hactl top``'s numbers: from two polls of every NameNode to one ``Snapshot``.

Pure: ``snapshot(previous, current)`` reads two ``Poll`` values (what
``HaAdmin.GetStatus`` said, per nameservice, and when) and computes

* the leader of each nameservice: the active NameNode of the highest term (an
  isolated old leader still calls itself active for a moment, in a lower term);
* per NameNode its state, applied index and lag behind the leader's commit
  index, and the client RPCs it answered per second;
* per nameservice, rates from the deltas between the polls: client RPCs and
  errors per second on the leader (None when the leader was not polled both
  times, or restarted), and writes per second: log entries applied, from the
  highest applied index seen (a group-commit batch of writes is one entry);
* the namespace's size (the leader's, else the most advanced NameNode's), and the
  leader's block health and DataNodes (None without a leader);
* ``problems``: what ``hactl top`` highlights.

Imports: ``client.types`` and ``hafs_api.readiness`` (the lag bound).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from client.types import NodeStatus
from hafs_api.readiness import DEFAULT_MAX_APPLY_LAG

BEHIND = DEFAULT_MAX_APPLY_LAG  # a NameNode further behind than this is shown as behind


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll of every NameNode of every nameservice, in config order.

    ``at`` is a monotonic time (seconds) and ``wall`` the wall-clock time of the
    poll; ``errors`` names the nameservices that could not be polled at all.
    """

    at: float
    wall: float
    nameservices: Mapping[str, Sequence[NodeStatus]]
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeRow:
    node_id: str
    address: str
    state: str  # active, standby, candidate, unknown or unreachable
    term: int
    commit_index: int
    applied_index: int
    lag: int | None  # behind the leader's commit index; None: no leader, or unreachable
    client_rpcs_per_s: float | None
    error: str = ""

    @property
    def reachable(self) -> bool:
        return self.state != "unreachable"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reachable": self.reachable}


@dataclass(frozen=True, slots=True)
class NameserviceStats:
    name: str
    nodes: tuple[NodeRow, ...]
    leader: NodeRow | None
    client_rpcs_per_s: float | None = None
    errors_per_s: float | None = None
    writes_per_s: float | None = None
    files: int | None = None
    directories: int | None = None
    blocks: int | None = None
    under_replicated: int | None = None
    missing: int | None = None
    corrupt: int | None = None
    pending_replication: int | None = None
    live_datanodes: int | None = None
    stale_datanodes: int | None = None
    dead_datanodes: int | None = None
    error: str = ""  # why the nameservice could not be polled at all

    @property
    def answered(self) -> bool:
        """Some NameNode of it answered."""
        return any(node.reachable for node in self.nodes)

    @property
    def problems(self) -> list[str]:
        found = []
        if not self.answered:
            found.append("no NameNode answers")
        elif self.leader is None:
            found.append("no leader")
        for node in self.nodes:
            if not node.reachable:
                found.append(f"{node.node_id or node.address} unreachable")
            elif node.lag is not None and node.lag > BEHIND:
                found.append(f"{node.node_id or node.address} {node.lag} entries behind")
        for count, what in (
            (self.missing, "missing block"),
            (self.corrupt, "corrupt block"),
            (self.dead_datanodes, "dead DataNode"),
        ):
            if count:
                found.append(f"{count} {what}{'s' if count > 1 else ''}")
        return found

    def to_dict(self) -> dict[str, Any]:
        leader = self.leader
        return {
            "nameservice": self.name,
            "leader": None
            if leader is None
            else {"node_id": leader.node_id, "address": leader.address, "term": leader.term},
            "rates": {
                "client_rpcs_per_s": self.client_rpcs_per_s,
                "errors_per_s": self.errors_per_s,
                "writes_per_s": self.writes_per_s,
            },
            "namespace": {
                "files": self.files,
                "directories": self.directories,
                "blocks": self.blocks,
            },
            "blocks": {
                "under_replicated": self.under_replicated,
                "missing": self.missing,
                "corrupt": self.corrupt,
                "pending_replication": self.pending_replication,
            },
            "datanodes": {
                "live": self.live_datanodes,
                "stale": self.stale_datanodes,
                "dead": self.dead_datanodes,
            },
            "namenodes": [node.to_dict() for node in self.nodes],
            "problems": self.problems,
            "error": self.error or None,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    wall: float  # when the last poll ran (wall clock, seconds)
    interval_s: float | None  # between the two polls; None: a single poll, no rates
    nameservices: tuple[NameserviceStats, ...]

    @property
    def all_answered(self) -> bool:
        """Some NameNode of every nameservice answered."""
        return all(ns.answered for ns in self.nameservices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.wall,
            "interval_s": self.interval_s,
            "nameservices": [ns.to_dict() for ns in self.nameservices],
        }


def snapshot(previous: Poll | None, current: Poll) -> Snapshot:
    """The snapshot of ``current``, with rates against ``previous`` (None: no rates)."""
    dt = current.at - previous.at if previous is not None else None
    if dt is not None and dt <= 0:
        dt = None
    stats = []
    for name, nodes in current.nameservices.items():
        before = previous.nameservices.get(name, ()) if previous is not None else ()
        stats.append(_nameservice(name, nodes, before, dt, current.errors.get(name, "")))
    for name, error in current.errors.items():
        if name not in current.nameservices:
            stats.append(NameserviceStats(name, (), None, error=error))
    return Snapshot(current.wall, dt, tuple(stats))


def leader_of(nodes: Sequence[NodeStatus]) -> NodeStatus | None:
    """The active NameNode of the highest term, if any."""
    active = [n for n in nodes if n.state == "active"]
    return max(active, key=lambda n: n.term) if active else None


def rate(before: int, after: int, dt: float | None) -> float | None:
    """``(after - before) / dt``; None without an interval or when the counter went back
    (a restarted process)."""
    if dt is None or after < before:
        return None
    return (after - before) / dt


def _nameservice(
    name: str,
    nodes: Sequence[NodeStatus],
    before: Sequence[NodeStatus],
    dt: float | None,
    error: str,
) -> NameserviceStats:
    earlier = {_key(n): n for n in before if n.reachable}
    leader = leader_of(nodes)
    rows = tuple(_row(n, leader, earlier.get(_key(n)), dt) for n in nodes)
    leader_row = next((r for r, n in zip(rows, nodes, strict=True) if n is leader), None)
    reachable = [n for n in nodes if n.reachable]
    source = leader or max(reachable, key=lambda n: n.applied_index, default=None)
    writes = None
    if reachable and earlier:
        writes = rate(
            max(n.applied_index for n in earlier.values()),
            max(n.applied_index for n in reachable),
            dt,
        )
    calls = errors = None
    if leader is not None:
        was = earlier.get(_key(leader))
        if was is not None and leader.uptime_ms >= was.uptime_ms:
            calls = rate(was.client_calls, leader.client_calls, dt)
            errors = rate(was.client_errors, leader.client_errors, dt)
    return NameserviceStats(
        name,
        rows,
        leader_row,
        client_rpcs_per_s=calls,
        errors_per_s=errors,
        writes_per_s=writes,
        files=source.files if source else None,
        directories=source.directories if source else None,
        blocks=source.blocks if source else None,
        under_replicated=leader.under_replicated_blocks if leader else None,
        missing=leader.missing_blocks if leader else None,
        corrupt=leader.corrupt_blocks if leader else None,
        pending_replication=leader.pending_replication if leader else None,
        live_datanodes=leader.live_datanodes if leader else None,
        stale_datanodes=leader.stale_datanodes if leader else None,
        dead_datanodes=leader.dead_datanodes if leader else None,
        error=error,
    )


def _key(node: NodeStatus) -> str:
    return node.node_id or node.address


def _row(
    node: NodeStatus, leader: NodeStatus | None, was: NodeStatus | None, dt: float | None
) -> NodeRow:
    reachable = node.reachable
    calls = None
    if reachable and was is not None and node.uptime_ms >= was.uptime_ms:
        calls = rate(was.client_calls, node.client_calls, dt)
    lag = None
    if reachable and leader is not None:
        lag = max(leader.commit_index - node.applied_index, 0)
    return NodeRow(
        node_id=node.node_id,
        address=node.address,
        state=node.state,
        term=node.term if reachable else 0,
        commit_index=node.commit_index if reachable else 0,
        applied_index=node.applied_index if reachable else 0,
        lag=lag,
        client_rpcs_per_s=calls,
        error=node.error,
    )
