"""Namespace and space quotas (HDFS DirectoryWithQuotaFeature). Pure.

Only directories with a quota keep usage: ``ns_used`` counts the inodes of the
subtree including the directory itself; ``ds_used`` counts bytes times
replication, with a block under construction charged a whole block size.
Every change of usage goes through ``charge``, which checks before it writes.
"""

from __future__ import annotations

from ha_namenode.namespace.model import NO_QUOTA, Inode
from ha_namenode.namespace.resolve import path_of
from ha_namenode.namespace.store import StoreTxn, StoreView, walk
from hafs_api.errors import DsQuotaExceeded, NsQuotaExceeded


def file_space(view: StoreView, inode: Inode) -> int:
    """Bytes the file is charged with, all replicas counted."""
    length = inode.length
    if inode.uc_block:
        blocks = view.blocks(inode.id)
        length += inode.block_size - (blocks[-1].num_bytes if blocks else 0)
    return length * inode.replication


def usage(view: StoreView, inode: Inode) -> tuple[int, int]:
    """(inodes, bytes with replicas) of the subtree at ``inode``, the inode included."""
    if inode.is_file:
        return 1, file_space(view, inode)
    if inode.has_quota:
        return inode.ns_used, inode.ds_used
    ns = ds = 0
    for node in walk(view, inode):
        if node.is_file:
            ns += 1
            ds += file_space(view, node)
        else:
            ns += 1
    return ns, ds


def quota_dirs(inodes: list[Inode | None]) -> list[int]:
    return [n.id for n in inodes if n is not None and n.is_dir and n.has_quota]


def charge(txn: StoreTxn, dir_ids: list[int], ns_delta: int, ds_delta: int) -> None:
    """Add usage to the given quota directories, refusing an increase over a quota."""
    if not dir_ids or (ns_delta == 0 and ds_delta == 0):
        return
    for dir_id in dir_ids:
        node = txn.inode(dir_id)
        assert node is not None
        if ns_delta > 0 and node.ns_quota != NO_QUOTA and node.ns_used + ns_delta > node.ns_quota:
            raise NsQuotaExceeded(
                f"The NameSpace quota (directories and files) of directory "
                f"{path_of(txn, node)} is exceeded: quota={node.ns_quota} "
                f"file count={node.ns_used + ns_delta}"
            )
        if ds_delta > 0 and node.ds_quota != NO_QUOTA and node.ds_used + ds_delta > node.ds_quota:
            raise DsQuotaExceeded(
                f"The DiskSpace quota of {path_of(txn, node)} is exceeded: "
                f"quota = {node.ds_quota} B but diskspace consumed = "
                f"{node.ds_used + ds_delta} B"
            )
    txn.adjust_usage(dir_ids, ns_delta, ds_delta)
