"""Read-only namespace queries: stat, listing, content summary, block locations.

Pure functions of a StoreView and a caller. They run on RPC threads against a
consistent read view, never on the apply thread.
"""

from __future__ import annotations

from ha_namenode.namespace import permission as perm
from ha_namenode.namespace import quota, replicas
from ha_namenode.namespace.model import (
    NO_QUOTA,
    BlockLocations,
    Caller,
    ContentSummary,
    FileStatus,
    Inode,
    Listing,
)
from ha_namenode.namespace.resolve import resolve
from ha_namenode.namespace.store import StoreView, walk
from hafs_api import paths
from hafs_api.errors import FileNotFound, InvalidArgument, IsADirectory

LISTING_LIMIT = 1000  # entries per page at most (HDFS dfs.ls.limit)


def file_status(path: str, node: Inode) -> FileStatus:
    return FileStatus(
        path=path,
        kind=node.kind,
        length=node.length,
        replication=node.replication,
        block_size=node.block_size,
        mtime=node.mtime,
        atime=node.atime,
        perm=node.perm,
        owner=node.owner,
        group=node.group,
        inode_id=node.id,
        children=node.children,
        under_construction=bool(node.holder),
    )


def stat(view: StoreView, caller: Caller, path: str) -> FileStatus:
    res = resolve(view, path)
    perm.check_traverse(caller, res)
    return file_status(path, res.require())


def listing(
    view: StoreView, caller: Caller, path: str, after: str = "", limit: int = LISTING_LIMIT
) -> Listing:
    if limit < 0:
        raise InvalidArgument(f"listing limit must not be negative, got {limit}")
    limit = min(limit or LISTING_LIMIT, LISTING_LIMIT)
    res = resolve(view, path)
    perm.check_traverse(caller, res)
    node = res.require()
    if node.is_file:
        return Listing((file_status(path, node),), 0)
    perm.check(caller, node, perm.READ | perm.EXECUTE, path)
    children = view.children(node.id, after, limit)
    entries = tuple(file_status(paths.child(path, c.name), c) for c in children)
    remaining = view.count_children_after(node.id, children[-1].name) if children else 0
    return Listing(entries, remaining)


def content_summary(view: StoreView, caller: Caller, path: str) -> ContentSummary:
    res = resolve(view, path)
    perm.check_traverse(caller, res)
    root = res.require()
    length = files = dirs = space = 0
    for node in walk(view, root):
        if node.is_file:
            files += 1
            length += node.length
            space += quota.file_space(view, node)
        else:
            dirs += 1
            if node.children and not perm.allowed(caller, node, perm.READ | perm.EXECUTE):
                perm.check(
                    caller,
                    node,
                    perm.READ | perm.EXECUTE,
                    path if node.id == root.id else f"{path}/...",
                )
    return ContentSummary(
        length=length,
        file_count=files,
        directory_count=dirs,
        ns_quota=root.ns_quota if root.is_dir else NO_QUOTA,
        ns_used=files + dirs,
        ds_quota=root.ds_quota if root.is_dir else NO_QUOTA,
        space_consumed=space,
    )


def block_locations(
    view: StoreView, caller: Caller, path: str, offset: int = 0, length: int = 0
) -> BlockLocations:
    """The blocks overlapping ``[offset, offset + length)`` (to the end when length is 0)."""
    if offset < 0 or length < 0:
        raise InvalidArgument("offset and length must not be negative", path)
    res = resolve(view, path)
    perm.check_traverse(caller, res)
    node = res.last
    if node is None:
        raise FileNotFound("File does not exist", path)
    if node.is_dir:
        raise IsADirectory("Cannot open a directory", path)
    perm.check(caller, node, perm.READ, path)
    end = offset + length if length else None
    located = []
    position = 0
    blocks = view.blocks(node.id)
    for i, block in enumerate(blocks):
        start, stop = position, position + block.num_bytes
        position = stop
        open_block = node.uc_block and i == len(blocks) - 1
        if stop <= offset and not open_block:
            continue
        if end is not None and start >= end:
            break
        located.append(replicas.located(view, block, start, open_block))
    return BlockLocations(file_status(path, node), tuple(located))
