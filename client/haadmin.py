"""NameNode HA administration of ``Client`` (a mixin): status of every NameNode of
one nameservice, leadership transfer, Raft membership and checkpoints.

These calls concern the client's own nameservice (``Client.nameservice``: the
bound one, or the default one of a routing client); ``hactl ha`` makes a bound
client per nameservice to cover them all. ``ha_status`` asks every node in
parallel and never raises for an unreachable one (it is listed as such).

Imports: ``client.convert``, ``client.types``, ``client.rpc`` and ``hafs_api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from client import convert
from client.rpc import HA_ADMIN
from client.types import CheckpointInfo, NodeStatus
from hafs_api.errors import HafsError, InvalidArgument, Unavailable
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.config import ClientConfig
    from client.rpc import NamenodeConnection

STATUS_TIMEOUT = 2.0
_Answer = tuple[NodeStatus, list[admin_pb2.MemberStatus]]


class HaAdmin:
    """Mixed into ``Client``."""

    config: ClientConfig
    connection: NamenodeConnection
    nameservice: str

    def ha_status(self, timeout: float = STATUS_TIMEOUT) -> list[NodeStatus]:
        """``GetStatus`` of every NameNode of the nameservice, in parallel.

        The configured addresses come first, in config order, then members the
        NameNodes report that the config does not list (added since). When a node
        is active, its membership decides: a configured NameNode it does not count
        as a member (removed since) is left out.
        """
        answers = self._statuses(self.connection.addresses, timeout)
        active = next((a for a in answers if a[0].state == "active"), None)
        reported = active[1] if active else [m for _, members in answers for m in members]
        seen = {n.address for n, _ in answers} | {n.node_id for n, _ in answers if n.node_id}
        extra = [m.address for m in reported if m.address and not {m.address, m.node_id} & seen]
        answers += self._statuses(list(dict.fromkeys(extra)), timeout)
        if active is not None and active[1]:  # a server that lists no members decides nothing
            names = {m.node_id for m in active[1]} | {m.address for m in active[1]}
            answers = [a for a in answers if (a[0].node_id or a[0].address) in names]
        found = [node for node, _ in answers]
        active = next((node for node in found if node.state == "active"), None)
        if active is None:
            return found
        return [
            node if not node.reachable else _with_lag(node, active.commit_index) for node in found
        ]

    def transfer_leadership(self, to: str) -> None:
        """Ask the active NameNode to hand leadership to node ``to`` (id or address)."""
        nodes = self.ha_status()
        target = next((n for n in nodes if to in (n.node_id, n.address) and n.node_id), None)
        if target is None:
            known = ", ".join(n.node_id for n in nodes if n.node_id) or "none reachable"
            raise InvalidArgument(f"unknown NameNode {to!r} (known: {known})")
        leader = self._active(nodes)
        self.connection.call_at(
            leader.address,
            "TransferLeadership",
            admin_pb2.TransferLeadershipRequest(to_node_id=target.node_id),
            timeout=self.config.client.attempt_timeout_s,
        )

    def add_replica(self, node_id: str, rpc_address: str, raft_address: str) -> bool:
        """Add a NameNode to the Raft group (at the leader); False if it was a member.

        Start the new NameNode with ``[members]`` listing the group and itself. It
        catches up from the leader; ``ha_status`` shows its applied index.
        """
        request = admin_pb2.AddReplicaRequest(
            node_id=node_id, rpc_address=rpc_address, raft_address=raft_address
        )
        return self.connection.call("AddReplica", request, mutation=True, service=HA_ADMIN).changed

    def remove_replica(self, node_id: str) -> bool:
        """Remove a NameNode from the Raft group (at the leader); False if it was not a
        member any more. Stop the removed NameNode afterwards; the leader itself cannot
        be removed (transfer leadership first)."""
        request = admin_pb2.RemoveReplicaRequest(node_id=node_id)
        return self.connection.call(
            "RemoveReplica", request, mutation=True, service=HA_ADMIN
        ).changed

    def checkpoint(self, address: str | None = None) -> CheckpointInfo:
        """Have a NameNode (default: the active one) write an image now."""
        if address is None:
            address = self._active(self.ha_status()).address
        resp = self.connection.call_at(
            address,
            "Checkpoint",
            admin_pb2.CheckpointRequest(),
            timeout=self.config.client.deadline_s,
        )
        return convert.checkpoint_info(address, resp)

    def _statuses(self, addresses: Sequence[str], timeout: float) -> list[_Answer]:
        if not addresses:
            return []
        with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
            return list(pool.map(lambda a: self._node_status(a, timeout), addresses))

    def _node_status(self, address: str, timeout: float) -> _Answer:
        """The node's status and the members it reports (none when unreachable)."""
        try:
            resp = self.connection.call_at(
                address, "GetStatus", admin_pb2.GetStatusRequest(), timeout=timeout
            )
        except HafsError as err:
            unreachable = NodeStatus(
                address=address, state="unreachable", nameservice=self.nameservice, error=str(err)
            )
            return unreachable, []
        node = convert.node_status(address, resp)
        if not node.nameservice:
            node = replace(node, nameservice=self.nameservice)
        return node, list(resp.members)

    def _active(self, nodes: list[NodeStatus]) -> NodeStatus:
        for node in nodes:
            if node.state == "active":
                return node
        raise Unavailable(f"no active NameNode in nameservice {self.nameservice}")


def _with_lag(node: NodeStatus, commit_index: int) -> NodeStatus:
    return replace(node, lag=max(commit_index - node.applied_index, 0))


__all__ = ["STATUS_TIMEOUT", "HaAdmin"]
