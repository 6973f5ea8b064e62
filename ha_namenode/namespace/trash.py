"""Delete, and trash in HDFS's layout: ``/user/<user>/.Trash/Current`` and dated checkpoints.

A delete that may go to trash moves the path to ``.Trash/Current/<path>``
(adding the time when that name is taken). The leader's emptier proposes
``ExpungeTrash`` every checkpoint interval: it deletes checkpoints older than the
trash interval, then renames ``Current`` to a checkpoint named ``yyMMddHHmmss``
after the leader's time. Pure: the time comes from the envelope.
"""

from __future__ import annotations

import calendar
import time

from ha_namenode.namespace.commands import Delete, ExpungeTrash
from ha_namenode.namespace.model import Caller, DeleteResult, ExpungeResult
from ha_namenode.namespace.resolve import Resolved, resolve
from ha_namenode.namespace.tree import (
    Ctx,
    check_delete_access,
    delete_permanently,
    make_dirs,
    move,
)
from hafs_api import paths
from hafs_api.errors import DirectoryNotEmpty, InvalidArgument

HOME_PREFIX = "/user"
TRASH = ".Trash"
CURRENT = "Current"
_CHECKPOINT_FORMAT = "%y%m%d%H%M%S"


def trash_root(user: str) -> str:
    return f"{HOME_PREFIX}/{user}/{TRASH}"


def in_trash(caller: Caller, path: str) -> bool:
    return paths.is_ancestor(trash_root(caller.user), path)


def checkpoint_name(now_ms: int) -> str:
    return time.strftime(_CHECKPOINT_FORMAT, time.gmtime(now_ms // 1000))


def checkpoint_time(name: str) -> int | None:
    """Milliseconds of a checkpoint name (``yyMMddHHmmss`` or with ``-N``), else None."""
    stem = name.split("-", 1)[0]
    if len(stem) != 12 or not stem.isdigit():
        return None
    try:
        return calendar.timegm(time.strptime(stem, _CHECKPOINT_FORMAT)) * 1000
    except ValueError:
        return None


def move_to_trash(ctx: Ctx, res: Resolved) -> str:
    """Move ``res`` into the caller's trash; return where it went."""
    root = trash_root(ctx.caller.user)
    if paths.is_ancestor(res.path, root):
        raise InvalidArgument(
            "Cannot move the path to trash, as it contains the trash; delete it with skip_trash",
            res.path,
        )
    parent = paths.parent(res.path)
    trash_parent = f"{root}/{CURRENT}" + ("" if parent == "/" else parent)
    pres = resolve(ctx.txn, trash_parent)
    blocker = pres.inodes[pres.depth_found]
    if blocker is not None and not blocker.is_dir:  # a file is in the way: add the time to it
        names = list(pres.names)
        names[pres.depth_found - 1] += str(ctx.now)
        trash_parent = paths.join(names)
        pres = resolve(ctx.txn, trash_parent)
    make_dirs(ctx, pres, 0o700, through_last=True)
    target = paths.child(trash_parent, paths.basename(res.path))
    suffix = 0
    while resolve(ctx.txn, target if not suffix else f"{target}{suffix}").last is not None:
        suffix = ctx.now if not suffix else suffix + 1
    if suffix:
        target = f"{target}{suffix}"
    move(ctx, res, resolve(ctx.txn, target), overwrite=False)
    return target


def expunge(ctx: Ctx, cmd: ExpungeTrash) -> ExpungeResult:
    if cmd.user:
        users = [cmd.user]
    else:
        home = resolve(ctx.txn, HOME_PREFIX).last
        users = (
            [] if home is None or not home.is_dir else [c.name for c in ctx.txn.children(home.id)]
        )
    made: list[str] = []
    removed: list[str] = []
    for user in users:
        trash = resolve(ctx.txn, trash_root(user)).last
        if trash is None or not trash.is_dir:
            continue
        for entry in ctx.txn.children(trash.id):
            stamp = checkpoint_time(entry.name)
            if entry.name == CURRENT or stamp is None:
                continue
            if cmd.immediate or ctx.now - stamp >= cmd.interval:
                path = f"{trash_root(user)}/{entry.name}"
                delete_permanently(ctx, resolve(ctx.txn, path), recursive=True)
                removed.append(path)
        current = f"{trash_root(user)}/{CURRENT}"
        cres = resolve(ctx.txn, current)
        if cres.last is None:
            continue
        if cmd.immediate:
            delete_permanently(ctx, cres, recursive=True)
            removed.append(current)
            continue
        base = f"{trash_root(user)}/{checkpoint_name(ctx.now)}"
        target, attempt = base, 0
        while resolve(ctx.txn, target).last is not None:
            attempt += 1
            target = f"{base}-{attempt}"
        move(ctx, cres, resolve(ctx.txn, target), overwrite=False)
        made.append(target)
    return ExpungeResult(checkpoints=tuple(made), removed=tuple(removed))


def delete(ctx: Ctx, cmd: Delete) -> DeleteResult:
    res = resolve(ctx.txn, cmd.path)
    node = check_delete_access(ctx, res)
    if node.is_dir and node.children and not cmd.recursive:
        raise DirectoryNotEmpty("Directory is not empty", cmd.path)
    if cmd.trash_interval > 0 and not cmd.skip_trash and not in_trash(ctx.caller, cmd.path):
        return DeleteResult(trash_path=move_to_trash(ctx, res))
    delete_permanently(ctx, res, cmd.recursive)
    return DeleteResult()
