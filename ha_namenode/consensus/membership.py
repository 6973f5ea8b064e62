"""Who is in a Raft group and how to reach them: the member directory and the quorum rule.

pysyncobj knows a member only by its Raft address. Clients need a NameNode's id
and client RPC address, so every replica keeps a ``Directory``: Raft address ->
``Peer``, filled from its config's ``[members]``, from membership log entries
(``RaftConsensus.add_member`` puts ``node_id`` and ``rpc_address`` on the
pysyncobj node it proposes, so every replica that applies the entry, or replays
it from the journal, learns them) and from snapshots (the dump records the
directory entry of every member). An entry outlives the member's removal: the
directory names nodes, pysyncobj's cluster says which of them are members.

Pure and thread-safe; imports nothing from pysyncobj (``raft`` alone does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ha_namenode.consensus.raft import Peer


class Directory:
    """Every NameNode this replica has heard of, by Raft address; the latest word wins."""

    def __init__(self, peers: Iterable[Peer]) -> None:
        self._lock = threading.Lock()
        self._by_raft: dict[str, Peer] = {p.raft_address: p for p in peers}

    def learn(self, peer: Peer) -> None:
        with self._lock:
            self._by_raft[peer.raft_address] = peer

    def by_raft(self, raft_address: str) -> Peer | None:
        with self._lock:
            return self._by_raft.get(raft_address)

    def by_id(self, node_id: str) -> Peer | None:
        with self._lock:
            found = [p for p in self._by_raft.values() if p.node_id == node_id]
        return found[-1] if found else None


def quorum(size: int) -> int:
    return size // 2 + 1


def quorum_problem(verb: str, node_id: str, size_after: int, reachable_after: int) -> str:
    """Why a change would leave the group unable to commit ("" when it would not).

    ``reachable_after`` counts the members after the change that the leader
    reaches now (itself included; a NameNode being added counts as unreachable,
    since the leader cannot know yet). Like etcd's strict reconfiguration check:
    a change that leaves fewer reachable members than a quorum would stall every
    write, the change itself included, until enough of them come back.
    """
    need = quorum(size_after)
    if reachable_after >= need:
        return ""
    return (
        f"refusing to {verb} {node_id}: afterwards {reachable_after} of {size_after} "
        f"members would be reachable, fewer than the quorum of {need}; "
        "bring the unreachable NameNodes back first"
    )


def dump_entries(peers: Iterable[Peer]) -> dict[str, list[str]]:
    """The directory entries of a snapshot's members, as JSON: raft -> [id, rpc]."""
    return {p.raft_address: [p.node_id, p.rpc_address] for p in peers if p.node_id}


def load_entries(plain: object) -> dict[str, tuple[str, str]]:
    """``dump_entries`` read back (raft -> (id, rpc)); a dump without them gives {}."""
    if not isinstance(plain, dict):
        return {}
    out: dict[str, tuple[str, str]] = {}
    for raft_address, entry in plain.items():
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, str) for v in entry):
            out[raft_address] = (entry[0], entry[1])
    return out
