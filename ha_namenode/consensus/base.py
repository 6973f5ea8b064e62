"""The interface between the NameNode service and whatever orders its commands."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from ha_namenode.namespace.commands import Envelope


@dataclass(frozen=True)
class RaftSettings:
    """The ``[raft]`` config section: the group's secret, timeouts and batching.

    docs/design.md gives the reason for each value.
    """

    password: str = ""  # shared by the group; pysyncobj unpickles traffic without it
    min_timeout_s: float = 0.3
    max_timeout_s: float = 0.6
    append_entries_period_s: float = 0.05
    leader_fallback_timeout_s: float = 2.5
    connection_timeout_s: float = 3.0
    connection_retry_time_s: float = 0.5
    compaction_min_entries: int = 20_000
    compaction_min_time_s: float = 600.0
    max_batch: int = 512
    max_inflight: int = 2  # few, larger entries: each costs the leader CPU (docs/performance.md)


@dataclass(frozen=True, slots=True)
class Member:
    node_id: str
    address: str  # client RPC address
    reachable: bool
    match_index: int = 0
    raft_address: str = ""  # "" without Raft


@dataclass(frozen=True, slots=True)
class ConsensusStatus:
    node_id: str
    state: str  # "active", "standby" or "candidate"
    term: int
    commit_index: int
    applied_index: int
    leader_id: str
    leader_address: str
    members: tuple[Member, ...] = field(default_factory=tuple)
    leader_changes: int = 0  # times this node became leader since it started
    # The leader's commit index as this node last heard it (its own on the leader; 0:
    # not heard yet). A follower still receiving the log has a commit index of its
    # own no higher than its log: this one says how far it has to go.
    leader_commit_index: int = 0


class Consensus(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def is_leader(self) -> bool: ...

    @property
    def term(self) -> int:
        """The current term: stamps the leader's DataNode commands and block tokens."""
        ...

    def leader_address(self) -> str:
        """Client RPC address of the current leader, or "" when unknown."""
        ...

    def propose(self, envelope: Envelope) -> Future:
        """Order ``envelope``; the future resolves to its apply result.

        The future fails with a ``HafsError`` when the outcome is unknown
        (``Unavailable``) or the entry was not applied (``StorageFull``).
        """
        ...

    def read_barrier(self, timeout: float) -> None:
        """Return once every write acknowledged before the call is visible to reads here,
        and this node was still the leader after the call began; raise NotLeader or
        Unavailable otherwise."""
        ...

    def status(self) -> ConsensusStatus: ...

    def transfer_leadership(self, node_id: str) -> None:
        """On the leader: hand leadership to ``node_id`` and return once it leads.

        Raises NotLeader elsewhere, InvalidArgument for a node that is not a member,
        Unavailable when the transfer did not complete, Unsupported without Raft.
        """
        ...

    def add_member(self, node_id: str, rpc_address: str, raft_address: str) -> bool:
        """On the leader: add a NameNode to the group; return once the change is committed.

        One change at a time. False when it is a member already with these
        addresses. Raises NotLeader on a follower, InvalidArgument for a clash with
        a member or a change that would leave the group without a reachable quorum,
        Unavailable while another change is in progress or when the outcome is
        unknown (retry), Unsupported without Raft.
        """
        ...

    def remove_member(self, node_id: str) -> bool:
        """On the leader: remove a NameNode from the group; return once committed.

        False when ``node_id`` was a member but is not any more. Raises
        InvalidArgument for an id never seen, for the leader itself (transfer
        leadership first) or a change that would lose the reachable quorum; the
        rest as ``add_member``.
        """
        ...
