"""DataNode and block administration: the ``dfsadmin -report``, decommissioning and
``fsck`` calls of ``Client`` (a mixin over its leader-following connection).

Value types are frozen dataclasses, so scripts and ``--json`` output get plain data.
Imports: ``hafs_api`` and its generated messages (not grpc: ``hactl`` imports this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hafs_api import paths
from hafs_api.errors import InvalidArgument
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.rpc import NamenodeConnection

HA_ADMIN = "HaAdmin"  # client.rpc.HA_ADMIN; importing client.rpc here would load grpc

_LIVENESS = {admin_pb2.LIVE: "live", admin_pb2.STALE: "stale", admin_pb2.DEAD: "dead"}
_ADMIN = {
    admin_pb2.IN_SERVICE: "in service",
    admin_pb2.DECOMMISSIONING: "decommissioning",
    admin_pb2.DECOMMISSIONED: "decommissioned",
}


@dataclass(frozen=True)
class DatanodeReport:
    datanode_id: str
    address: str
    rack: str
    liveness: str  # live, stale or dead
    admin_state: str  # in service, decommissioning or decommissioned
    capacity: int
    used: int
    remaining: int
    replicas: int
    active_transfers: int
    last_heartbeat_s: float | None  # None: no heartbeat to this leader yet
    failed_volumes: int
    reported: bool


@dataclass(frozen=True)
class BlockHealth:
    block_id: int
    gen_stamp: int
    length: int
    expected: int
    live: int
    corrupt: int
    decommissioning: int
    locations: tuple[str, ...]  # data transfer addresses of the good replicas
    under_construction: bool


@dataclass(frozen=True)
class FileHealth:
    path: str
    length: int
    replication: int
    blocks: tuple[BlockHealth, ...]
    open_for_write: bool


@dataclass(frozen=True)
class FsckReport:
    path: str
    files: int
    directories: int
    total_bytes: int
    blocks: int
    replicas: int
    under_replicated: int
    missing: int
    corrupt: int
    over_replicated: int
    open_for_write: int
    datanodes: int
    healthy: bool
    entries: tuple[FileHealth, ...] = ()


def datanode_report(msg: admin_pb2.DatanodeReport) -> DatanodeReport:
    return DatanodeReport(
        datanode_id=msg.datanode_id,
        address=msg.address,
        rack=msg.rack,
        liveness=_LIVENESS.get(msg.liveness, "unknown"),
        admin_state=_ADMIN.get(msg.admin_state, "unknown"),
        capacity=msg.capacity_bytes,
        used=msg.used_bytes,
        remaining=msg.remaining_bytes,
        replicas=msg.replicas,
        active_transfers=msg.active_transfers,
        last_heartbeat_s=msg.last_heartbeat_ms / 1000 if msg.last_heartbeat_ms >= 0 else None,
        failed_volumes=msg.failed_volumes,
        reported=msg.reported,
    )


def fsck_report(path: str, msg: admin_pb2.FsckResponse) -> FsckReport:
    entries = tuple(
        FileHealth(
            f.path,
            f.length,
            f.replication,
            tuple(
                BlockHealth(
                    b.block.block_id,
                    b.block.gen_stamp,
                    b.block.num_bytes,
                    b.expected,
                    b.live,
                    b.corrupt,
                    b.decommissioning,
                    tuple(loc.address or loc.datanode_id for loc in b.locations),
                    b.under_construction,
                )
                for b in f.blocks
            ),
            f.open_for_write,
        )
        for f in msg.entries
    )
    return FsckReport(
        path=path,
        files=msg.files,
        directories=msg.directories,
        total_bytes=msg.total_bytes,
        blocks=msg.blocks,
        replicas=msg.replicas,
        under_replicated=msg.under_replicated,
        missing=msg.missing,
        corrupt=msg.corrupt,
        over_replicated=msg.over_replicated,
        open_for_write=msg.open_for_write,
        datanodes=msg.datanodes,
        healthy=msg.healthy,
        entries=entries,
    )


class DatanodeAdmin:
    """Mixed into ``Client``: calls that run on the nameservice's leader."""

    connection: NamenodeConnection
    user: str

    def datanodes(self) -> list[DatanodeReport]:
        """Every registered DataNode as the leader sees it (``dfsadmin -report``)."""
        reply = self.connection.call(
            "GetDatanodeReport",
            admin_pb2.GetDatanodeReportRequest(),
            mutation=False,
            service=HA_ADMIN,
        )
        return [datanode_report(d) for d in reply.datanodes]

    def decommission(self, datanode: str) -> DatanodeReport:
        """Start draining a DataNode (id or address): its replicas are copied elsewhere,
        then it is DECOMMISSIONED and can be stopped safely."""
        return self._set_admin(datanode, admin_pb2.DECOMMISSIONING)

    def recommission(self, datanode: str) -> DatanodeReport:
        """Put a decommissioning or decommissioned DataNode back in service."""
        return self._set_admin(datanode, admin_pb2.IN_SERVICE)

    def _set_admin(self, datanode: str, state: int) -> DatanodeReport:
        if not datanode:
            raise InvalidArgument("name a DataNode by its id or address")
        reply = self.connection.call(
            "SetDatanodeAdminState",
            admin_pb2.SetDatanodeAdminStateRequest(datanode_id=datanode, admin_state=state),
            mutation=True,
            service=HA_ADMIN,
        )
        return datanode_report(reply.datanode)

    def fsck(self, path: str = "/", *, list_files: bool = False) -> FsckReport:
        """Block health under ``path``: files, blocks, replicas, under-replicated,
        missing and corrupt counts; with ``list_files``, every file's blocks and locations."""
        path = paths.validate(path.rstrip("/") or "/")
        reply = self.connection.call(
            "Fsck",
            admin_pb2.FsckRequest(path=path, list_files=list_files, user=self.user),
            mutation=False,
            service=HA_ADMIN,
        )
        return fsck_report(path, reply)
