"""Directory-tree operations: mkdir, rename, delete, and the helpers they share.

Pure: every function takes a ``Ctx`` (the write transaction, the caller and
the leader's time) and raises ``HafsError`` subclasses; the applier runs each
command in a savepoint, so a raise undoes every partial change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ha_namenode.namespace import permission as perm
from ha_namenode.namespace import quota
from ha_namenode.namespace.commands import Mkdir, Rename
from ha_namenode.namespace.model import Caller, Inode, Kind
from ha_namenode.namespace.resolve import Resolved, resolve
from ha_namenode.namespace.store import NEXT_INODE, StoreTxn, walk
from hafs_api import paths
from hafs_api.errors import (
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    InvalidPath,
    IsADirectory,
    ParentNotDirectory,
)


@dataclass(frozen=True, slots=True)
class Ctx:
    txn: StoreTxn
    caller: Caller
    now: int


def next_id(txn: StoreTxn, counter: str) -> int:
    value = txn.meta(counter)
    txn.set_meta(counter, value + 1)
    return value


def touch_parent(txn: StoreTxn, parent_id: int, child_delta: int, now: int) -> None:
    node = txn.inode(parent_id)
    assert node is not None
    txn.update_inode(parent_id, {"children": node.children + child_delta, "mtime": now})


def dir_perm_for(file_perm: int) -> int:
    """Permission for directories made implicitly for a file: add x where r, and u+wx."""
    return (file_perm | ((file_perm & 0o444) >> 2) | 0o300) & 0o777


def make_dirs(ctx: Ctx, res: Resolved, perm_bits: int, *, through_last: bool) -> Inode:
    """Create the missing directories of ``res`` (all, or all but the last component).

    The caller needs WRITE|EXECUTE on the deepest existing directory. Implicit
    parents get ``perm_bits | u+wx``; the last created directory gets ``perm_bits``
    when ``through_last``. New directories take their group from the parent
    they are made in (HDFS and BSD semantics). Returns the deepest directory.
    """
    end = len(res.names) if through_last else len(res.names) - 1
    k = res.depth_found
    top = res.inodes[k]
    assert top is not None
    if not top.is_dir:
        raise ParentNotDirectory("Parent path is not a directory", res.prefix(k))
    if k >= end:
        return top
    perm.check_traverse(ctx.caller, res, k)
    perm.check(ctx.caller, top, perm.WRITE | perm.EXECUTE, res.prefix(k))
    quota.charge(ctx.txn, quota.quota_dirs(res.inodes[: k + 1]), end - k, 0)
    touch_parent(ctx.txn, top.id, 1, ctx.now)
    parent = top
    for i in range(k, end):
        last = i == end - 1
        node = Inode(
            id=next_id(ctx.txn, NEXT_INODE),
            parent=parent.id,
            name=res.names[i],
            kind=Kind.DIR,
            perm=perm_bits if (last and through_last) else (perm_bits | 0o300),
            owner=ctx.caller.user,
            group=top.group,
            mtime=ctx.now,
            atime=ctx.now,
            children=0 if last else 1,
        )
        ctx.txn.put_inode(node)
        res.inodes[i + 1] = node
        parent = node
    return parent


def mkdir(ctx: Ctx, cmd: Mkdir) -> Inode:
    res = resolve(ctx.txn, cmd.path)
    perm.check_traverse(ctx.caller, res)  # before saying what exists (as HDFS mkdirs)
    existing = res.last
    if existing is not None:
        if existing.is_dir and cmd.exist_ok:
            return existing
        what = "File exists" if existing.is_dir else "Path is not a directory"
        raise FileAlreadyExists(what, cmd.path)
    if res.depth_found < len(res.names) - 1:
        top = res.inodes[res.depth_found]
        assert top is not None
        if top.is_dir and not cmd.parents:
            raise FileNotFound("Parent directory doesn't exist", res.prefix(len(res.names) - 1))
    return make_dirs(ctx, res, cmd.perm & 0o1777, through_last=True)


def remove_subtree(ctx: Ctx, root: Inode) -> tuple[int, int]:
    """Delete ``root`` and everything under it; return its (ns, ds) usage."""
    txn = ctx.txn
    ns = ds = 0
    doomed = list(walk(txn, root))
    holders: set[str] = set()
    for node in doomed:
        ns += 1
        if node.is_file:
            ds += quota.file_space(txn, node)
            for block in txn.blocks(node.id):
                txn.delete_block(block.id)
            if node.holder:
                holders.add(node.holder)
    for node in reversed(doomed):
        txn.delete_inode(node.id)
    for holder in sorted(holders):
        if not txn.files_held_by(holder):
            txn.delete_lease(holder)
    return ns, ds


def check_subtree_access(ctx: Ctx, root: Inode, path: str, action: int) -> None:
    """``action`` on every non-empty directory of the subtree (HDFS subAccess)."""
    if ctx.caller.superuser:
        return
    for node in walk(ctx.txn, root):
        if node.is_dir and node.children and not perm.allowed(ctx.caller, node, action):
            perm.check(ctx.caller, node, action, path if node.id == root.id else f"{path}/...")


def delete_permanently(ctx: Ctx, res: Resolved, recursive: bool) -> None:
    node = res.require()
    parent = res.parent
    assert parent is not None
    if node.is_dir and node.children and not recursive:
        raise DirectoryNotEmpty("Directory is not empty", res.path)
    if node.is_dir and recursive:
        check_subtree_access(ctx, node, res.path, perm.ALL)
    ns, ds = remove_subtree(ctx, node)
    quota.charge(ctx.txn, quota.quota_dirs(res.inodes[:-1]), -ns, -ds)
    touch_parent(ctx.txn, parent.id, -1, ctx.now)


def check_delete_access(ctx: Ctx, res: Resolved) -> Inode:
    """Checks shared by delete and rename's source: exists, traverse, WRITE on parent, sticky."""
    if res.is_root:
        raise InvalidPath("The root directory cannot be deleted or renamed", "/")
    perm.check_traverse(ctx.caller, res)
    node = res.require()
    parent = res.parent
    assert parent is not None
    perm.check(ctx.caller, parent, perm.WRITE | perm.EXECUTE, res.prefix(len(res.names) - 1))
    perm.check_sticky(ctx.caller, parent, node, res.path)
    return node


def rename(ctx: Ctx, cmd: Rename) -> None:
    move(ctx, resolve(ctx.txn, cmd.src), resolve(ctx.txn, cmd.dst), overwrite=cmd.overwrite)


def move(ctx: Ctx, src: Resolved, dst: Resolved, *, overwrite: bool) -> None:
    """Atomic rename with HDFS rename2 semantics (OVERWRITE optional)."""
    node = check_delete_access(ctx, src)
    if dst.path == src.path:
        raise FileAlreadyExists("The source and destination are the same", src.path)
    if paths.is_ancestor(src.path, dst.path):
        raise InvalidArgument(f"Cannot rename {src.path} to its own subdirectory", dst.path)
    if dst.is_root:
        raise FileAlreadyExists("The destination is the root directory", "/")
    perm.check_traverse(ctx.caller, dst)
    dst_parent = dst.require_parent_dir()
    perm.check(ctx.caller, dst_parent, perm.WRITE | perm.EXECUTE, dst.prefix(len(dst.names) - 1))
    target = dst.last
    replaced = (0, 0)
    if target is not None:
        if not overwrite:
            raise FileAlreadyExists("Rename destination exists", dst.path)
        if node.is_file and target.is_dir:
            raise IsADirectory("Rename destination is a directory", dst.path)
        if node.is_dir and target.is_file:
            raise ParentNotDirectory("Rename destination is not a directory", dst.path)
        if target.is_dir and target.children:
            raise DirectoryNotEmpty("Rename destination directory is not empty", dst.path)
        perm.check_sticky(ctx.caller, dst_parent, target, dst.path)
    src_dirs = quota.quota_dirs(src.inodes[:-1])
    dst_dirs = quota.quota_dirs(dst.inodes[:-1])
    common = set(src_dirs) & set(dst_dirs)
    src_only = [d for d in src_dirs if d not in common]
    dst_only = [d for d in dst_dirs if d not in common]
    if target is not None:
        replaced = remove_subtree(ctx, target)
        quota.charge(ctx.txn, dst_dirs, -replaced[0], -replaced[1])
    if src_only or dst_only:
        ns, ds = quota.usage(ctx.txn, node)
        quota.charge(ctx.txn, dst_only, ns, ds)
        quota.charge(ctx.txn, src_only, -ns, -ds)
    src_parent = src.parent
    assert src_parent is not None
    touch_parent(ctx.txn, src_parent.id, -1, ctx.now)
    touch_parent(ctx.txn, dst_parent.id, 0 if target is not None else 1, ctx.now)
    ctx.txn.update_inode(node.id, {"parent": dst_parent.id, "name": dst.names[-1]})
