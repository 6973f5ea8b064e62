"""DataNode and block administration: the ``dfsadmin -report``, decommissioning,
maintenance and ``fsck`` calls of ``Client`` (a mixin over its leader-following
connections).

DataNodes serve every nameservice, so ``datanodes()`` asks the client's own
(or default) nameservice. A routing client (``client.router``) decommissions,
puts in maintenance and recommissions in every configured nameservice, since
each keeps its own block pool to drain. ``fsck`` goes to the owner of its path and adds the
reports of the mounts below it (``add_fsck``).

Value types are frozen dataclasses, so scripts and ``--json`` output get plain data.
Imports: ``hafs_api`` and its generated messages (not grpc: ``hactl`` imports this).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hafs_api import paths
from hafs_api.errors import HafsError, InvalidArgument
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.config import ClientConfig
    from client.router import Router
    from client.rpc import NamenodeConnection
    from hafs_api.mounts import MountTable

HA_ADMIN = "HaAdmin"  # client.rpc.HA_ADMIN; importing client.rpc here would load grpc

_LIVENESS = {admin_pb2.LIVE: "live", admin_pb2.STALE: "stale", admin_pb2.DEAD: "dead"}
_ADMIN = {
    admin_pb2.IN_SERVICE: "in service",
    admin_pb2.DECOMMISSIONING: "decommissioning",
    admin_pb2.DECOMMISSIONED: "decommissioned",
    admin_pb2.ENTERING_MAINTENANCE: "entering maintenance",
    admin_pb2.IN_MAINTENANCE: "in maintenance",
}


@dataclass(frozen=True)
class DatanodeReport:
    datanode_id: str
    address: str
    rack: str
    liveness: str  # live, stale or dead
    admin_state: str  # in service, decommissioning, decommissioned, or entering or in maintenance
    capacity: int
    used: int
    remaining: int
    replicas: int
    active_transfers: int
    last_heartbeat_s: float | None  # None: no heartbeat to this leader yet
    failed_volumes: int
    reported: bool
    maintenance_expiry_ms: int = 0  # wall clock; 0: none (or not in maintenance)


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
    maintenance: int = 0  # replicas on nodes entering or in maintenance, up or down


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
        maintenance_expiry_ms=msg.maintenance_expiry_ms,
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
                    b.maintenance,
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


_FSCK_SUMS = (
    "files",
    "directories",
    "total_bytes",
    "blocks",
    "replicas",
    "under_replicated",
    "missing",
    "corrupt",
    "over_replicated",
    "open_for_write",
)


def add_fsck(own: FsckReport, below: Iterable[FsckReport]) -> FsckReport:
    """``own`` plus the reports of the mounts below: counts summed, healthy only if all
    are, files listed by path, DataNodes the most any nameservice saw."""
    total = own
    for part in below:
        sums = {name: getattr(total, name) + getattr(part, name) for name in _FSCK_SUMS}
        total = dataclasses.replace(
            total,
            **sums,
            datanodes=max(total.datanodes, part.datanodes),
            healthy=total.healthy and part.healthy,
            entries=tuple(sorted((*total.entries, *part.entries), key=lambda f: f.path)),
        )
    return total


class DatanodeAdmin:
    """Mixed into ``Client``: calls that run on the nameservices' leaders."""

    config: ClientConfig
    connection: NamenodeConnection
    nameservice: str
    router: Router
    routing: bool
    user: str
    if TYPE_CHECKING:

        def _mounts_below(self, path: str) -> MountTable | None: ...

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
        """Put a decommissioning, decommissioned or maintenance DataNode back in service."""
        return self._set_admin(datanode, admin_pb2.IN_SERVICE)

    def maintenance(self, datanode: str, duration_s: float | None = None) -> DatanodeReport:
        """Put a DataNode in maintenance (HDFS's): blocks that would keep fewer than the
        NameNodes' ``maintenance_min_replicas`` live replicas elsewhere are copied, then
        it is IN_MAINTENANCE and may be stopped without its blocks being re-replicated.
        It returns to service after ``duration_s`` seconds (None: when recommissioned).
        Asked again, only the expiry changes."""
        if duration_s is not None and not duration_s > 0:
            raise InvalidArgument(f"maintenance duration {duration_s} s is not positive")
        expiry = int((time.time() + duration_s) * 1000) if duration_s is not None else 0
        return self._set_admin(datanode, admin_pb2.ENTERING_MAINTENANCE, expiry)

    def _set_admin(self, datanode: str, state: int, expiry_ms: int = 0) -> DatanodeReport:
        """Set the state in this client's nameservice, or in every configured one for a
        routing client (all are tried; the first error is raised); returns the
        first nameservice's report."""
        if not datanode:
            raise InvalidArgument("name a DataNode by its id or address")
        reports: list[DatanodeReport] = []
        failure: HafsError | None = None
        names = [self.nameservice]
        if self.routing:
            names += [ns.name for ns in self.config.nameservices if ns.name != self.nameservice]
        for name in names:
            try:
                reply = self.router.connection(name).call(
                    "SetDatanodeAdminState",
                    admin_pb2.SetDatanodeAdminStateRequest(
                        datanode_id=datanode, admin_state=state, maintenance_expiry_ms=expiry_ms
                    ),
                    mutation=True,
                    service=HA_ADMIN,
                )
            except HafsError as err:
                failure = failure or err
                continue
            reports.append(datanode_report(reply.datanode))
        if failure is not None:
            raise failure
        return reports[0]

    def fsck(self, path: str = "/", *, list_files: bool = False) -> FsckReport:
        """Block health under ``path``: files, blocks, replicas, under-replicated,
        missing and corrupt counts; with ``list_files``, every file's blocks and locations."""
        path = paths.validate(path.rstrip("/") or "/")
        table = self._mounts_below(path)
        if table is None:
            return self._fsck(path, list_files)
        try:
            own = self._fsck(path, list_files)
        except FileNotFoundError:
            own = FsckReport(path, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, True)
        below = []
        for mount in table.mounts_below(path):
            try:
                below.append(self._fsck(mount.path, list_files))
            except FileNotFoundError:
                continue
        return dataclasses.replace(add_fsck(own, below), path=path)

    def _fsck(self, path: str, list_files: bool) -> FsckReport:
        request = admin_pb2.FsckRequest(path=path, list_files=list_files, user=self.user)
        reply = self.router.call(path, "Fsck", request, mutation=False, service=HA_ADMIN)
        return fsck_report(path, reply)
