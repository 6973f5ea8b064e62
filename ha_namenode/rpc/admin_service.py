"""The HaAdmin servicer: status, leadership transfer, membership and checkpoints;
DataNode reports, decommissioning, maintenance and fsck; the balancer
(``balancer_service``); the federation's mount table.

Every NameNode answers status (with its store's applied index and log digest,
read from one view) and GetMountTable (its replicated copy); transfer,
membership changes, the DataNode and block calls, and mount changes run on the
leader (others raise NotLeader with its address). Mount changes go to the
default nameservice's leader; InstallMountTable to any other nameservice's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ha_namenode.blocks.dispatcher import Dispatcher
from ha_namenode.blocks.fsck import FsckReport, fsck
from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.registry import Liveness, NodeView
from ha_namenode.consensus.base import Consensus, Member
from ha_namenode.federation.service import Federation
from ha_namenode.namespace.model import AdminState
from ha_namenode.namespace.store import StoreFailure
from ha_namenode.rpc.balancer_service import BalancerCalls
from ha_namenode.rpc.errors import rpc
from hafs_api import mounts, paths
from hafs_api.errors import InvalidArgument, Unavailable
from hafs_api.v1 import admin_pb2 as pb
from hafs_api.v1 import admin_pb2_grpc, common_pb2

_LIVENESS = {Liveness.LIVE: pb.LIVE, Liveness.STALE: pb.STALE, Liveness.DEAD: pb.DEAD}
_ADMIN = {
    AdminState.IN_SERVICE: pb.IN_SERVICE,
    AdminState.DECOMMISSIONING: pb.DECOMMISSIONING,
    AdminState.DECOMMISSIONED: pb.DECOMMISSIONED,
    AdminState.ENTERING_MAINTENANCE: pb.ENTERING_MAINTENANCE,
    AdminState.IN_MAINTENANCE: pb.IN_MAINTENANCE,
}
_ASKABLE = (AdminState.IN_SERVICE, AdminState.DECOMMISSIONING, AdminState.ENTERING_MAINTENANCE)

_STATE = {"active": pb.ACTIVE, "standby": pb.STANDBY, "candidate": pb.CANDIDATE}
POSITION_ATTEMPTS = 3  # a snapshot install reopens the store: a reader may fail meanwhile


class AdminService(BalancerCalls, admin_pb2_grpc.HaAdminServicer):
    def __init__(
        self,
        consensus: Consensus,
        nameservice: str,
        address: str,
        version: str,
        checkpoint: Callable[[], tuple[str, int, int]],
        blocks: BlockManager | None = None,
        federation: Federation | None = None,
        log_position: Callable[[], tuple[int, int]] | None = None,
        balancer: Dispatcher | None = None,
    ) -> None:
        self.balancer = balancer
        self.log_position = log_position  # (state index, log digest) from one store view
        self.blocks = blocks
        self.federation = federation
        self.consensus = consensus
        self.nameservice = nameservice
        self.address = address
        self.version = version
        self.checkpoint = checkpoint
        self.started = time.monotonic()

    def _position(self) -> tuple[int, int]:
        if self.log_position is None:
            return 0, 0
        for attempt in range(POSITION_ATTEMPTS):
            try:
                return self.log_position()
            except StoreFailure as e:
                if attempt == POSITION_ATTEMPTS - 1:
                    raise Unavailable(f"the store cannot be read now: {e}") from None
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @rpc
    def GetStatus(self, request, context):
        st = self.consensus.status()
        state_index, log_digest = self._position()
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
            state_index=state_index,
            log_digest=log_digest,
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

    def _blocks(self) -> BlockManager:
        if self.blocks is None:
            raise InvalidArgument("this NameNode manages no blocks")
        self.blocks.ensure_term()
        return self.blocks

    @rpc
    def GetDatanodeReport(self, request, context):
        blocks = self._blocks()
        counts = blocks.ns.view(lambda v: {d.id: len(v.replicas_on(d.id)) for d in v.datanodes()})
        views = sorted(blocks.views().values(), key=lambda n: n.id)
        return pb.GetDatanodeReportResponse(
            datanodes=[_report(n, counts.get(n.id, 0)) for n in views]
        )

    @rpc
    def SetDatanodeAdminState(self, request, context):
        blocks = self._blocks()
        admin = {v: k for k, v in _ADMIN.items()}.get(request.admin_state)
        if admin not in _ASKABLE:
            raise InvalidArgument(
                "admin state must be IN_SERVICE, DECOMMISSIONING or ENTERING_MAINTENANCE"
            )
        if request.maintenance_expiry_ms and admin is not AdminState.ENTERING_MAINTENANCE:
            raise InvalidArgument("a maintenance expiry goes with ENTERING_MAINTENANCE only")
        stored = blocks.set_admin(request.datanode_id, admin, request.maintenance_expiry_ms)
        node = blocks.views()[stored.id]
        count = blocks.ns.view(lambda v: len(v.replicas_on(stored.id)))
        return pb.SetDatanodeAdminStateResponse(datanode=_report(node, count))

    @rpc
    def Fsck(self, request, context):
        blocks = self._blocks()
        path = paths.validate(request.path or "/")
        nodes = blocks.views()
        minimum = blocks.settings.maintenance_min_replicas
        report = blocks.ns.view(lambda v: fsck(v, path, nodes, request.list_files, minimum))
        return _fsck(report, nodes)

    # ---- federation -------------------------------------------------------------------

    def _federation(self) -> Federation:
        if self.federation is None:
            raise InvalidArgument("this NameNode has no mount table")
        return self.federation

    @rpc
    def GetMountTable(self, request, context):
        table = self._federation().table()
        return pb.GetMountTableResponse(table=mounts.to_proto(table, common_pb2.MountTable))

    @rpc
    def AddMount(self, request, context):
        table, pending = self._federation().add_mount(
            request.user,
            request.path,
            request.nameservice,
            request.read_only,
            request.ns_quota if request.HasField("ns_quota") else None,
            request.ds_quota if request.HasField("ds_quota") else None,
        )
        wire = mounts.to_proto(table, common_pb2.MountTable)
        return pb.AddMountResponse(table=wire, pending=pending)

    @rpc
    def RemoveMount(self, request, context):
        table, pending = self._federation().remove_mount(request.user, request.path)
        wire = mounts.to_proto(table, common_pb2.MountTable)
        return pb.RemoveMountResponse(table=wire, pending=pending)

    @rpc
    def InstallMountTable(self, request, context):
        version = self._federation().install_pushed(mounts.from_proto(request.table))
        return pb.InstallMountTableResponse(version=version)


def _report(n: NodeView, replicas: int) -> pb.DatanodeReport:
    return pb.DatanodeReport(
        datanode_id=n.id,
        address=n.address,
        rack=n.rack,
        liveness=_LIVENESS[n.liveness],
        admin_state=_ADMIN[n.admin],
        capacity_bytes=n.stats.capacity,
        used_bytes=n.stats.used,
        remaining_bytes=n.stats.remaining,
        replicas=replicas,
        active_transfers=n.stats.transfers,
        last_heartbeat_ms=int(n.since_heartbeat * 1000) if n.since_heartbeat >= 0 else -1,
        failed_volumes=n.stats.failed_volumes,
        reported=n.reported,
        maintenance_expiry_ms=n.maintenance_expiry,
    )


def _fsck(report: FsckReport, nodes: dict[str, NodeView]) -> pb.FsckResponse:
    def info(dn: str) -> common_pb2.DatanodeInfo:
        n = nodes.get(dn)
        return common_pb2.DatanodeInfo(
            datanode_id=dn, address=n.address if n else "", rack=n.rack if n else ""
        )

    entries = [
        pb.FsckFile(
            path=f.path,
            length=f.length,
            replication=f.replication,
            open_for_write=f.open,
            blocks=[
                pb.FsckBlock(
                    block=common_pb2.Block(
                        block_id=b.block_id, gen_stamp=b.gen_stamp, num_bytes=b.num_bytes
                    ),
                    expected=b.expected,
                    live=b.live,
                    corrupt=b.corrupt,
                    decommissioning=b.decommissioning,
                    locations=[info(dn) for dn in b.locations],
                    under_construction=b.open,
                    maintenance=b.maintenance,
                )
                for b in f.blocks
            ],
        )
        for f in report.entries
    ]
    return pb.FsckResponse(
        files=report.files,
        directories=report.directories,
        total_bytes=report.total_bytes,
        blocks=report.blocks,
        replicas=report.replicas,
        under_replicated=report.under_replicated,
        missing=report.missing,
        corrupt=report.corrupt,
        over_replicated=report.over_replicated,
        open_for_write=report.open_for_write,
        datanodes=report.datanodes,
        entries=entries,
        healthy=report.healthy,
    )


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
