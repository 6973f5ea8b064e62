"""The interface between the NameNode service and whatever orders its commands."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from ha_namenode.namespace.commands import Envelope


@dataclass(frozen=True, slots=True)
class Member:
    node_id: str
    address: str  # client RPC address
    reachable: bool
    match_index: int = 0


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


class Consensus(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def is_leader(self) -> bool: ...

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

    def transfer_leadership(self, node_id: str) -> None: ...
