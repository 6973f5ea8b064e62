"""The HaAdmin servicer: status, leadership transfer, membership and checkpoints;
DataNode reports, decommissioning, maintenance and fsck; the balancer
(``balancer_service``); the federation's mount table; safe mode and metasave.

Every NameNode answers status (with its store's applied index and log digest,
read from one view, the counters of ``ha_namenode.overview`` and its
replicated safe-mode flag) and GetMountTable (its replicated copy);
transfer, membership changes, the DataNode and block calls, safe mode,
metasave and mount changes run on the leader (others raise NotLeader with
its address). Mount changes go to the default nameservice's leader;
InstallMountTable to any other nameservice's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from ha_namenode.blocks import metasave
from ha_namenode.blocks.dispatcher import Dispatcher
from ha_namenode.blocks.fsck import FsckReport, fsck
from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.registry import Liveness, NodeView
from ha_namenode.consensus.base import Consensus, Member
from ha_namenode.federation.service import Federation
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import AdminState, SafeMode
from ha_namenode.namespace.permission import check_superuser
from ha_namenode.namespace.store import StoreFailure
from ha_namenode.namesystem import BARRIER_TIMEOUT_S, Header
from ha_namenode.overview import Overview, OverviewSource
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
_SAFE_MODE_ACTIONS = {pb.SAFE_MODE_ENTER: True, pb.SAFE_MODE_LEAVE: False}
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
        overview: OverviewSource | None = None,
        balancer: Dispatcher | None = None,
    ) -> None:
        self.overview = overview
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
        overview = (
            self.overview.read(st.state == "active", state_index)
            if self.overview is not None
            else Overview()
        )
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
            **dataclasses.asdict(overview),
            safe_mode=self._safe_mode_on(),
        )

    def _safe_mode_on(self) -> bool:
        """This replica's flag (followers too: it is replicated); False if unreadable now."""
        if self.blocks is None:
            return False
        try:
            return self.blocks.ns.view(lambda v: v.safe_mode().on)
        except StoreFailure:  # a snapshot install reopens the store: the next call sees it
            return False

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
        return pb.GetDatanodeReportResponse(datanodes=_reports(self._blocks()))

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

    # ---- safe mode and metasave -----------------------------------------------------

    @rpc
    def GetSafeMode(self, request, context):
        ns = self._blocks().ns
        ns.consensus.read_barrier(BARRIER_TIMEOUT_S)  # a new leader answers what is committed
        return _safe_mode(ns.view(lambda v: v.safe_mode()))

    @rpc
    def SetSafeMode(self, request, context):
        ns = self._blocks().ns
        on = _SAFE_MODE_ACTIONS.get(request.action)
        if on is None:
            raise InvalidArgument("the action must be SAFE_MODE_ENTER or SAFE_MODE_LEAVE")
        header = Header(_client_id(request.client_id), request.call_id, request.user)
        return _safe_mode(ns.mutate(header, c.SetSafeMode(on, request.reason)))

    @rpc
    def MetaSave(self, request, context):
        blocks = self._blocks()
        check_superuser(blocks.ns.groups.caller(request.user), "metasave")
        nodes = blocks.views()
        copies = blocks.registry.copies()
        deleting = blocks.registry.deletions()
        now = time.monotonic()  # the registry's clock: copy deadlines are on it
        dump = blocks.ns.view(
            lambda v: metasave.collect(
                v,
                nodes,
                copies,
                deleting,
                limit=request.limit or metasave.DEFAULT_LIMIT,
                budget=blocks.settings.blocks_per_pass,
                now=now,
                maintenance_min=blocks.settings.maintenance_min_replicas,
            )
        )
        st = self.consensus.status()
        return pb.MetaSaveResponse(
            node_id=st.node_id,
            term=st.term,
            applied_index=st.applied_index,
            files=dump.counts.files,
            directories=dump.counts.directories,
            blocks=dump.counts.blocks,
            safe_mode=_safe_mode(dump.safe_mode),
            under_replicated=[_meta_block(b) for b in dump.under_replicated],
            missing=[_meta_block(b) for b in dump.missing],
            corrupt=[_meta_block(b) for b in dump.corrupt],
            replicating=[
                pb.MetaCopy(
                    block=_block(x.block_id, x.gen_stamp, x.num_bytes),
                    source=x.source,
                    targets=x.targets,
                    timeout_ms=int(x.timeout_s * 1000),
                )
                for x in dump.replicating
            ],
            pending_deletion=[
                pb.MetaDeletion(block=_block(x.block_id, x.gen_stamp, 0), datanode=x.datanode)
                for x in dump.pending_deletion
            ],
            leases=[
                pb.MetaLease(holder=x.holder, renewed_ms=x.renewed, paths=x.paths)
                for x in dump.leases
            ],
            datanodes=_reports(blocks),
            truncated=dump.truncated,
            scanned_ms=int(time.time() * 1000),
        )

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


def _client_id(raw: bytes) -> str:
    """The retry-cache key of a request carrying its client id as bytes: the text the
    client's other calls carry (hex if it is not UTF-8)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def _safe_mode(mode: SafeMode) -> pb.SafeModeStatus:
    return pb.SafeModeStatus(
        on=mode.on, reason=mode.reason, set_by=mode.set_by, since_ms=mode.since
    )


def _block(block_id: int, gen_stamp: int, num_bytes: int) -> common_pb2.Block:
    return common_pb2.Block(block_id=block_id, gen_stamp=gen_stamp, num_bytes=num_bytes)


def _meta_block(b: metasave.BlockEntry) -> pb.MetaBlock:
    return pb.MetaBlock(
        block=_block(b.block_id, b.gen_stamp, b.num_bytes),
        path=b.path,
        expected=b.expected,
        live=b.live,
        decommissioning=b.decommissioning,
        maintenance=b.maintenance,
        corrupt=b.corrupt,
        locations=b.locations,
    )


def _reports(blocks: BlockManager) -> list[pb.DatanodeReport]:
    """Every DataNode the leader tracks, by id, with its replica count."""
    counts = blocks.ns.view(lambda v: {d.id: len(v.replicas_on(d.id)) for d in v.datanodes()})
    views = sorted(blocks.views().values(), key=lambda n: n.id)
    return [_report(n, counts.get(n.id, 0)) for n in views]


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
