"""The HaAdmin servicer: status, leadership transfer, membership and checkpoints.

Every NameNode answers; transfer and membership changes run on the leader
(``Consensus`` raises NotLeader with its address elsewhere).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ha_namenode.consensus.base import Consensus, Member
from ha_namenode.rpc.errors import rpc
from hafs_api.v1 import admin_pb2 as pb
from hafs_api.v1 import admin_pb2_grpc

_STATE = {"active": pb.ACTIVE, "standby": pb.STANDBY, "candidate": pb.CANDIDATE}


class AdminService(admin_pb2_grpc.HaAdminServicer):
    def __init__(
        self,
        consensus: Consensus,
        nameservice: str,
        address: str,
        version: str,
        checkpoint: Callable[[], tuple[str, int, int]],
    ) -> None:
        self.consensus = consensus
        self.nameservice = nameservice
        self.address = address
        self.version = version
        self.checkpoint = checkpoint
        self.started = time.monotonic()

    @rpc
    def GetStatus(self, request, context):
        st = self.consensus.status()
        return pb.GetStatusResponse(
            node_id=st.node_id,
            nameservice=self.nameservice,
            address=self.address,
            state=_STATE[st.state],
            term=st.term,
            commit_index=st.commit_index,
            applied_index=st.applied_index,
            leader_id=st.leader_id,
            leader_address=st.leader_address,
            members=_wire(st.members),
            uptime_ms=int((time.monotonic() - self.started) * 1000),
            software_version=self.version,
        )

    @rpc
    def TransferLeadership(self, request, context):
        self.consensus.transfer_leadership(request.to_node_id)
        return pb.TransferLeadershipResponse()

    @rpc
    def AddReplica(self, request, context):
        changed = self.consensus.add_member(
            request.node_id, request.rpc_address, request.raft_address
        )
        members = _wire(self.consensus.status().members)
        return pb.AddReplicaResponse(changed=changed, members=members)

    @rpc
    def RemoveReplica(self, request, context):
        changed = self.consensus.remove_member(request.node_id)
        members = _wire(self.consensus.status().members)
        return pb.RemoveReplicaResponse(changed=changed, members=members)

    @rpc
    def Checkpoint(self, request, context):
        path, index, size = self.checkpoint()
        return pb.CheckpointResponse(image_path=path, applied_index=index, size_bytes=size)


def _wire(members: tuple[Member, ...]) -> list[pb.MemberStatus]:
    return [
        pb.MemberStatus(
            node_id=m.node_id,
            address=m.address,
            reachable=m.reachable,
            match_index=m.match_index,
            raft_address=m.raft_address,
        )
        for m in members
    ]
