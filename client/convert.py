"""Protobuf messages to client value types: the one place that reads wire fields.

Imports the generated messages (protobuf, not gRPC) and ``client.types``.
"""

from __future__ import annotations

from client.types import (
    DIRECTORY,
    FILE,
    BlockLocation,
    CheckpointInfo,
    ContentSummary,
    ExpungeResult,
    FileStatus,
    NodeStatus,
    ServerDefaults,
)
from hafs_api import paths
from hafs_api.v1 import admin_pb2, common_pb2, namenode_pb2

_KINDS = {common_pb2.DIRECTORY: DIRECTORY, common_pb2.FILE: FILE}
_STATES = {
    admin_pb2.ACTIVE: "active",
    admin_pb2.STANDBY: "standby",
    admin_pb2.CANDIDATE: "candidate",
}


def file_status(msg: common_pb2.FileStatus, parent: str | None = None) -> FileStatus:
    """Convert one status; a bare name (no leading ``/``) is joined to ``parent``."""
    path = msg.path
    if parent is not None and not path.startswith("/"):
        path = paths.child(parent, path)
    return FileStatus(
        path=path,
        kind=_KINDS.get(msg.kind, FILE),
        length=msg.length,
        replication=msg.replication,
        block_size=msg.block_size,
        mtime=msg.mtime_ms,
        atime=msg.atime_ms,
        permission=msg.permission,
        owner=msg.owner,
        group=msg.group,
        inode_id=msg.inode_id,
        children=msg.children,
        under_construction=msg.under_construction,
    )


def content_summary(path: str, msg: common_pb2.ContentSummary) -> ContentSummary:
    return ContentSummary(
        path=path,
        length=msg.length,
        file_count=msg.file_count,
        directory_count=msg.directory_count,
        ns_quota=msg.ns_quota,
        ns_used=msg.ns_used,
        ds_quota=msg.ds_quota,
        space_consumed=msg.space_consumed,
    )


def node_status(address: str, msg: admin_pb2.GetStatusResponse) -> NodeStatus:
    return NodeStatus(
        address=address,
        state=_STATES.get(msg.state, "unknown"),
        node_id=msg.node_id,
        nameservice=msg.nameservice,
        term=msg.term,
        commit_index=msg.commit_index,
        applied_index=msg.applied_index,
        leader_id=msg.leader_id,
        leader_address=msg.leader_address,
        uptime_ms=msg.uptime_ms,
        software_version=msg.software_version,
        state_index=msg.state_index,
        log_digest=msg.log_digest,
        client_calls=msg.client_calls,
        client_errors=msg.client_errors,
        files=msg.files,
        directories=msg.directories,
        blocks=msg.blocks,
        under_replicated_blocks=msg.under_replicated_blocks,
        missing_blocks=msg.missing_blocks,
        corrupt_blocks=msg.corrupt_blocks,
        pending_replication=msg.pending_replication,
        live_datanodes=msg.live_datanodes,
        stale_datanodes=msg.stale_datanodes,
        dead_datanodes=msg.dead_datanodes,
    )


def server_defaults(msg: namenode_pb2.GetServerDefaultsResponse) -> ServerDefaults:
    return ServerDefaults(
        block_size=msg.block_size,
        replication=msg.replication,
        bytes_per_checksum=msg.bytes_per_checksum,
        trash_interval_ms=msg.trash_interval_ms,
        listing_limit=msg.listing_limit,
    )


def expunge_result(msg: namenode_pb2.ExpungeTrashResponse) -> ExpungeResult:
    return ExpungeResult(checkpoint=msg.checkpoint or None, removed=tuple(msg.removed))


def checkpoint_info(address: str, msg: admin_pb2.CheckpointResponse) -> CheckpointInfo:
    return CheckpointInfo(
        address=address,
        image_path=msg.image_path,
        applied_index=msg.applied_index,
        size_bytes=msg.size_bytes,
    )


def block_location(msg: common_pb2.LocatedBlock) -> BlockLocation:
    return BlockLocation(
        block_id=msg.block.block_id,
        gen_stamp=msg.block.gen_stamp,
        offset=msg.offset,
        length=msg.block.num_bytes,
        hosts=tuple(node.address for node in msg.locations),
        datanode_ids=tuple(node.datanode_id for node in msg.locations),
        under_construction=msg.under_construction,
    )
