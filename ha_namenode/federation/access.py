"""What a client call may do under a mount table: the ownership check's rules.

``access_of(command)`` says which paths a ClientNamenode mutation names and how
(a write; a move or removal of a subtree; a rename). ``decide(table, me, access)``
raises the error that refuses it, or returns: the call goes on here.

In order:

1. a rename whose source and destination have different owners is
   ``CrossNamespace`` (EXDEV), whoever is asked;
2. a path this nameservice does not own is ``WrongNamespace``, carrying the
   table's version so the client refreshes to at least that one;
3. a write under a read-only mount is ``ReadOnlyMount`` (EROFS);
4. deleting or renaming a mount point, or a directory with mount points under
   it, is ``InvalidArgument`` naming them: the mounts would point into nothing
   (a mounted directory is busy, as ``rmdir`` of a mount point is on Unix).

Pure: the standard library, the commands and ``hafs_api``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ha_namenode.namespace import commands as c
from hafs_api.errors import CrossNamespace, InvalidArgument, ReadOnlyMount, WrongNamespace
from hafs_api.mounts import MountTable, covers


@dataclass(frozen=True, slots=True)
class Access:
    paths: tuple[str, ...]
    write: bool = False
    moves: bool = False  # delete or rename: the subtrees leave their place
    rename: bool = False  # paths are (src, dst)


def reading(path: str) -> Access:
    return Access((path,))


# ClientNamenode mutations that name one path, in the field ``path``.
_ONE_PATH: tuple[type, ...] = (
    c.Mkdir,
    c.Create,
    c.AddBlock,
    c.AbandonBlock,
    c.Complete,
    c.Append,
    c.RecoverLease,
    c.UpdatePipeline,
    c.SetPermission,
    c.SetOwner,
    c.SetReplication,
    c.SetTimes,
    c.SetQuota,
    c.SetXAttr,
    c.RemoveXAttr,
)


def access_of(command: object) -> Access | None:
    """The paths a client mutation names, or None for one that names none (RenewLease)."""
    if isinstance(command, c.Rename):
        return Access((command.src, command.dst), write=True, moves=True, rename=True)
    if isinstance(command, c.Delete):
        return Access((command.path,), write=True, moves=True)
    if isinstance(command, _ONE_PATH):
        return Access((command.path,), write=True)  # type: ignore[attr-defined]
    return None


def decide(table: MountTable, me: str, access: Access) -> None:
    """Raise why nameservice ``me`` must refuse ``access`` under ``table``, or return.

    One scan of the table per path (``mount_of`` is linear in the mounts).
    """
    found = [table.mount_of(path) for path in access.paths]
    owners = [m.nameservice if m is not None else table.default for m in found]
    if access.rename and owners[0] != owners[1]:
        src, dst = access.paths
        raise CrossNamespace(
            f"cannot rename across nameservices: {src} is in {owners[0]}, "
            f"{dst} in {owners[1]} (copy and delete instead)",
            src,
        )
    for path, owner in zip(access.paths, owners, strict=True):
        if owner != me:
            raise WrongNamespace(
                f"{path} belongs to nameservice {owner}, not {me} (mount table version "
                f"{table.version})",
                path,
                mount_version=table.version,
            )
    if access.write:
        for path, mount in zip(access.paths, found, strict=True):
            if mount is not None and mount.read_only:
                raise ReadOnlyMount(f"read-only mount {mount.path}", path)
    if access.moves:
        for path in access.paths:
            spanned = [m.path for m in table.mounts if covers(path, m.path)]
            if spanned:
                raise InvalidArgument(
                    f"cannot delete or rename a mount point or a directory holding one "
                    f"({', '.join(spanned)}); remove the mount first",
                    path,
                )
