"""Attribute changes: permission, owner, replication, times, quotas; and Format.

Pure, like every namespace module.
"""

from __future__ import annotations

import re

from ha_namenode.namespace import permission as perm
from ha_namenode.namespace import quota
from ha_namenode.namespace.commands import (
    Format,
    SetOwner,
    SetPermission,
    SetQuota,
    SetReplication,
    SetTimes,
)
from ha_namenode.namespace.model import NO_QUOTA, ROOT_ID, Done, Inode, Kind
from ha_namenode.namespace.resolve import Resolved, resolve
from ha_namenode.namespace.store import NEXT_BLOCK, NEXT_GEN_STAMP, NEXT_INODE
from ha_namenode.namespace.tree import Ctx
from hafs_api.errors import AccessDenied, InvalidArgument

# User and group names: no separators, whitespace or control characters.
_NAME = re.compile(r"[^\s:/\x00-\x1f\x7f]{1,256}")
FIRST_INODE_ID = 1000  # ids below are reserved
FIRST_BLOCK_ID = 1 << 30  # as HDFS, leaving room for a legacy id range
FIRST_GEN_STAMP = 1001


def valid_principal(name: str) -> bool:
    if not _NAME.fullmatch(name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def format_namespace(ctx: Ctx, cmd: Format) -> Done:
    if ctx.txn.inode(ROOT_ID) is not None:
        return Done(False)
    ctx.txn.put_inode(
        Inode(
            id=ROOT_ID,
            parent=0,
            name="",
            kind=Kind.DIR,
            perm=0o755,
            owner=cmd.superuser,
            group=cmd.supergroup,
            mtime=ctx.now,
            atime=ctx.now,
        )
    )
    ctx.txn.set_meta(NEXT_INODE, FIRST_INODE_ID)
    ctx.txn.set_meta(NEXT_BLOCK, FIRST_BLOCK_ID)
    ctx.txn.set_meta(NEXT_GEN_STAMP, FIRST_GEN_STAMP)
    return Done()


def _target(ctx: Ctx, path: str) -> tuple[Resolved, Inode]:
    res = resolve(ctx.txn, path)
    perm.check_traverse(ctx.caller, res)
    return res, res.require()


def set_permission(ctx: Ctx, cmd: SetPermission) -> Done:
    if cmd.perm < 0 or cmd.perm > 0o1777:
        raise InvalidArgument(f"permission {cmd.perm:o} is outside 0..1777 (octal)", cmd.path)
    _, node = _target(ctx, cmd.path)
    perm.check_owner(ctx.caller, node, cmd.path)
    ctx.txn.update_inode(node.id, {"perm": cmd.perm})
    return Done()


def set_owner(ctx: Ctx, cmd: SetOwner) -> Done:
    if not cmd.owner and not cmd.group:
        raise InvalidArgument("give an owner, a group or both", cmd.path)
    for name in (cmd.owner, cmd.group):
        if name and not valid_principal(name):
            raise InvalidArgument(f"invalid user or group name {name!r}", cmd.path)
    _, node = _target(ctx, cmd.path)
    perm.check_owner(ctx.caller, node, cmd.path)
    caller = ctx.caller
    if not caller.superuser:
        if cmd.owner and cmd.owner != node.owner:
            raise AccessDenied("Non-super user cannot change owner", cmd.path)
        if cmd.group and cmd.group not in caller.groups:  # even the current group, as HDFS
            raise AccessDenied(f"User {caller.user} does not belong to {cmd.group}", cmd.path)
    changes = {}
    if cmd.owner:
        changes["owner"] = cmd.owner
    if cmd.group:
        changes["group"] = cmd.group
    ctx.txn.update_inode(node.id, changes)
    return Done()


def set_replication(ctx: Ctx, cmd: SetReplication) -> Done:
    if cmd.replication < 1:
        raise InvalidArgument(f"replication must be at least 1, got {cmd.replication}", cmd.path)
    res, node = _target(ctx, cmd.path)
    perm.check(ctx.caller, node, perm.WRITE, cmd.path)
    if node.is_dir:
        return Done(False)
    if node.replication != cmd.replication:
        per_replica = quota.file_space(ctx.txn, node) // node.replication
        quota.charge(
            ctx.txn,
            quota.quota_dirs(res.inodes[:-1]),
            0,
            per_replica * (cmd.replication - node.replication),
        )
        ctx.txn.update_inode(node.id, {"replication": cmd.replication})
    return Done()


def set_times(ctx: Ctx, cmd: SetTimes) -> Done:
    if cmd.mtime < -1 or cmd.atime < -1:
        raise InvalidArgument("times must be -1 (unchanged) or milliseconds since 1970", cmd.path)
    _, node = _target(ctx, cmd.path)
    perm.check(ctx.caller, node, perm.WRITE, cmd.path)
    changes = {}
    if cmd.mtime != -1:
        changes["mtime"] = cmd.mtime
    if cmd.atime != -1:
        changes["atime"] = cmd.atime
    if changes:
        ctx.txn.update_inode(node.id, changes)
    return Done()


def set_quota(ctx: Ctx, cmd: SetQuota) -> Done:
    perm.check_superuser(ctx.caller, "set quotas")
    if cmd.ns_quota is not None and cmd.ns_quota != NO_QUOTA and cmd.ns_quota < 1:
        raise InvalidArgument(
            f"namespace quota must be positive or -1, got {cmd.ns_quota}", cmd.path
        )
    if cmd.ds_quota is not None and cmd.ds_quota != NO_QUOTA and cmd.ds_quota < 0:
        raise InvalidArgument(
            f"space quota must be non-negative or -1, got {cmd.ds_quota}", cmd.path
        )
    _, node = _target(ctx, cmd.path)
    if not node.is_dir:
        raise InvalidArgument("Cannot set a quota on a file", cmd.path)
    ns_quota = node.ns_quota if cmd.ns_quota is None else cmd.ns_quota
    ds_quota = node.ds_quota if cmd.ds_quota is None else cmd.ds_quota
    changes: dict[str, object] = {"ns_quota": ns_quota, "ds_quota": ds_quota}
    if ns_quota == NO_QUOTA and ds_quota == NO_QUOTA:
        changes.update(ns_used=0, ds_used=0)
    elif not node.has_quota:
        ns, ds = quota.usage(ctx.txn, node)
        changes.update(ns_used=ns, ds_used=ds)
    ctx.txn.update_inode(node.id, changes)
    return Done()
