"""Protobuf <-> domain values for the NameNode servicers."""

from __future__ import annotations

from collections.abc import Sequence

from ha_namenode.blocks.registry import NodeView
from ha_namenode.namespace.commands import BlockRef
from ha_namenode.namespace.model import ContentSummary, FileStatus, Kind, LocatedBlock
from ha_namenode.namesystem import Header
from hafs_api.v1 import common_pb2

_KIND = {Kind.DIR: common_pb2.DIRECTORY, Kind.FILE: common_pb2.FILE}


def header(msg: common_pb2.RequestHeader) -> Header:
    return Header(
        client_id=msg.client_id, call_id=msg.call_id, user=msg.user, mount_version=msg.mount_version
    )


def file_status(status: FileStatus) -> common_pb2.FileStatus:
    return common_pb2.FileStatus(
        path=status.path,
        kind=_KIND[status.kind],
        length=status.length,
        replication=status.replication,
        block_size=status.block_size,
        mtime_ms=status.mtime,
        atime_ms=status.atime,
        permission=status.perm,
        owner=status.owner,
        group=status.group,
        inode_id=status.inode_id,
        children=status.children,
        under_construction=status.under_construction,
    )


def datanode_info(node: NodeView) -> common_pb2.DatanodeInfo:
    return common_pb2.DatanodeInfo(datanode_id=node.id, address=node.address, rack=node.rack)


def located_block(
    block: LocatedBlock,
    nodes: Sequence[NodeView] | None = None,
    term: int = 0,
    token: bytes = b"",
    block_pool: str = "",
) -> common_pb2.LocatedBlock:
    """``nodes`` are the locations in order; without them, bare ids from ``block.targets``."""
    if nodes is None:
        locations = [common_pb2.DatanodeInfo(datanode_id=t) for t in block.targets]
    else:
        locations = [datanode_info(n) for n in nodes]
    return common_pb2.LocatedBlock(
        block=common_pb2.Block(
            block_id=block.block_id, gen_stamp=block.gen_stamp, num_bytes=block.num_bytes
        ),
        offset=block.offset,
        under_construction=block.under_construction,
        term=term,
        access_token=token,
        block_pool=block_pool,
        locations=locations,
    )


def peer_host(peer: str) -> str:
    """The host of a gRPC peer string: ``ipv4:127.0.0.1:5000`` -> ``127.0.0.1``."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return ""


def block_ref(msg: common_pb2.Block, present: bool) -> BlockRef | None:
    if not present:
        return None
    return BlockRef(block_id=msg.block_id, gen_stamp=msg.gen_stamp, num_bytes=msg.num_bytes)


def content_summary(summary: ContentSummary) -> common_pb2.ContentSummary:
    return common_pb2.ContentSummary(
        length=summary.length,
        file_count=summary.file_count,
        directory_count=summary.directory_count,
        ns_quota=summary.ns_quota,
        ns_used=summary.ns_used,
        ds_quota=summary.ds_quota,
        space_consumed=summary.space_consumed,
    )
