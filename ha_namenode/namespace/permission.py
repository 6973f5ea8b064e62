"""POSIX permission checks in HDFS's shape (FSPermissionChecker). Pure.

A superuser passes every check. Otherwise the owner class, else the group
class (any of the caller's groups), else the other class decides. Traversing a
path needs EXECUTE on every directory above the target; the sticky bit on a
directory limits deleting and renaming its entries to their owners, the
directory's owner and the superuser.
"""

from __future__ import annotations

from ha_namenode.namespace.model import Caller, Inode, Kind
from ha_namenode.namespace.resolve import Resolved
from hafs_api.errors import AccessDenied

READ, WRITE, EXECUTE = 4, 2, 1
ALL = READ | WRITE | EXECUTE
STICKY = 0o1000
_ACTION_NAMES = {
    READ: "READ",
    WRITE: "WRITE",
    EXECUTE: "EXECUTE",
    READ | EXECUTE: "READ_EXECUTE",
    WRITE | EXECUTE: "WRITE_EXECUTE",
    ALL: "ALL",
    READ | WRITE: "READ_WRITE",
}


def mode_string(kind: Kind, perm: int) -> str:
    """``drwxr-xr-t`` style, as ``ls -l`` and ``hdfs dfs -ls`` print it."""
    out = ["d" if kind is Kind.DIR else "-"]
    for shift in (6, 3, 0):
        bits = (perm >> shift) & 7
        out += ["r" if bits & 4 else "-", "w" if bits & 2 else "-", "x" if bits & 1 else "-"]
    if perm & STICKY:
        out[9] = "t" if out[9] == "x" else "T"
    return "".join(out)


def allowed(caller: Caller, inode: Inode, action: int) -> bool:
    if caller.superuser:
        return True
    if inode.owner == caller.user:
        bits = inode.perm >> 6
    elif inode.group in caller.groups:
        bits = inode.perm >> 3
    else:
        bits = inode.perm
    return (bits & action) == action


def check(caller: Caller, inode: Inode, action: int, path: str) -> None:
    if not allowed(caller, inode, action):
        raise AccessDenied(
            f"Permission denied: user={caller.user}, access={_ACTION_NAMES[action]}, "
            f'inode="{path}":{inode.owner}:{inode.group}:{mode_string(inode.kind, inode.perm)}'
        )


def check_traverse(caller: Caller, res: Resolved, upto: int | None = None) -> None:
    """EXECUTE on every existing directory among ``res.inodes[:upto]`` (default: all but last)."""
    if caller.superuser:
        return
    end = len(res.inodes) - 1 if upto is None else upto
    for i in range(end):
        node = res.inodes[i]
        if node is None or not node.is_dir:
            return
        check(caller, node, EXECUTE, res.prefix(i))


def check_owner(caller: Caller, inode: Inode, path: str) -> None:
    if not caller.superuser and inode.owner != caller.user:
        raise AccessDenied(
            f"Permission denied. user={caller.user} is not the owner of inode={path}"
        )


def check_sticky(caller: Caller, parent: Inode, child: Inode, path: str) -> None:
    if caller.superuser or not parent.perm & STICKY:
        return
    if caller.user in (parent.owner, child.owner):
        return
    raise AccessDenied(
        f'Permission denied by sticky bit: user={caller.user}, path="{path}":'
        f"{child.owner}:{child.group}:{mode_string(child.kind, child.perm)}, "
        f"parent owner={parent.owner}"
    )


def check_superuser(caller: Caller, what: str) -> None:
    if not caller.superuser:
        raise AccessDenied(
            f"Access denied for user {caller.user}. Superuser privilege is required to {what}"
        )
