"""``Client.metasave`` (a mixin): the leader's block-management state in one answer
(HDFS ``dfsadmin -metasave``).

A ``MetaSaveReport`` holds the namespace counts, safe mode, the blocks waiting
for replication, missing and with corrupt replicas (each with its file's path
and the DataNodes holding it), the copies in flight, the deletions not yet
confirmed, the leases and the DataNodes. Each list holds at most ``limit``
entries, and the leader scans at most one block-monitor pass of blocks;
``truncated`` says something was left out.

It concerns the client's own nameservice, like the calls of ``client.haadmin``.
Imports: ``client.admin``, ``client.safemode`` and ``hafs_api`` (not grpc).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from client.admin import HA_ADMIN, DatanodeReport, datanode_report
from client.safemode import SafeModeStatus, safe_mode_status
from hafs_api.errors import InvalidArgument
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.rpc import NamenodeConnection


@dataclass(frozen=True)
class MetaBlock:
    block_id: int
    gen_stamp: int
    length: int
    path: str  # "" when the leader could not resolve the file
    expected: int
    live: int
    decommissioning: int
    maintenance: int
    corrupt: int
    locations: tuple[str, ...]  # DataNode ids holding any replica


@dataclass(frozen=True)
class MetaCopy:
    block_id: int
    gen_stamp: int
    length: int
    source: str
    targets: tuple[str, ...]
    timeout_s: float  # until the leader gives up on it


@dataclass(frozen=True)
class MetaDeletion:
    block_id: int
    gen_stamp: int
    datanode: str


@dataclass(frozen=True)
class MetaLease:
    holder: str
    renewed: int  # ms since the epoch
    paths: tuple[str, ...]


@dataclass(frozen=True)
class MetaSaveReport:
    nameservice: str
    node_id: str  # the leader that answered
    term: int
    applied_index: int
    files: int
    directories: int
    blocks: int
    safe_mode: SafeModeStatus
    under_replicated: tuple[MetaBlock, ...]
    missing: tuple[MetaBlock, ...]
    corrupt: tuple[MetaBlock, ...]
    replicating: tuple[MetaCopy, ...]
    pending_deletion: tuple[MetaDeletion, ...]
    leases: tuple[MetaLease, ...]
    datanodes: tuple[DatanodeReport, ...]
    truncated: bool
    scanned: int  # ms since the epoch of the leader's block scan


def _block(msg: admin_pb2.MetaBlock) -> MetaBlock:
    return MetaBlock(
        msg.block.block_id,
        msg.block.gen_stamp,
        msg.block.num_bytes,
        msg.path,
        msg.expected,
        msg.live,
        msg.decommissioning,
        msg.maintenance,
        msg.corrupt,
        tuple(msg.locations),
    )


def metasave_report(nameservice: str, msg: admin_pb2.MetaSaveResponse) -> MetaSaveReport:
    return MetaSaveReport(
        nameservice=nameservice,
        node_id=msg.node_id,
        term=msg.term,
        applied_index=msg.applied_index,
        files=msg.files,
        directories=msg.directories,
        blocks=msg.blocks,
        safe_mode=safe_mode_status(nameservice, msg.safe_mode),
        under_replicated=tuple(_block(b) for b in msg.under_replicated),
        missing=tuple(_block(b) for b in msg.missing),
        corrupt=tuple(_block(b) for b in msg.corrupt),
        replicating=tuple(
            MetaCopy(
                c.block.block_id,
                c.block.gen_stamp,
                c.block.num_bytes,
                c.source,
                tuple(c.targets),
                c.timeout_ms / 1000,
            )
            for c in msg.replicating
        ),
        pending_deletion=tuple(
            MetaDeletion(d.block.block_id, d.block.gen_stamp, d.datanode)
            for d in msg.pending_deletion
        ),
        leases=tuple(MetaLease(x.holder, x.renewed_ms, tuple(x.paths)) for x in msg.leases),
        datanodes=tuple(datanode_report(d) for d in msg.datanodes),
        truncated=msg.truncated,
        scanned=msg.scanned_ms,
    )


class MetaSaveAdmin:
    """Mixed into ``Client``."""

    connection: NamenodeConnection
    nameservice: str

    def metasave(self, limit: int = 0) -> MetaSaveReport:
        """The leader's block management now: at most ``limit`` entries per list
        (0: the leader's default, 10,000). The superuser only, as in HDFS."""
        if not isinstance(limit, int) or not 0 <= limit < 2**32:
            raise InvalidArgument(f"limit must be an integer in 0..{2**32 - 1}, got {limit!r}")
        reply = self.connection.call(
            "MetaSave",
            admin_pb2.MetaSaveRequest(limit=limit, user=self.user),
            mutation=False,
            service=HA_ADMIN,
        )
        return metasave_report(self.nameservice, reply)


__all__ = ["MetaSaveAdmin", "MetaSaveReport"]
