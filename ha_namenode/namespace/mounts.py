"""The replicated mount table: which nameservice owns which path prefix.

Every NameNode of every nameservice keeps a copy in its store (the ``mounts``
table and the meta key ``mount_version``). The default nameservice's Raft group
holds the authoritative one: only its leader proposes ``AddMount`` and
``RemoveMount``, each making a new version. Every other nameservice installs
the authority's table whole with ``InstallMountTable``, which is a no-op unless
newer, so a late or repeated push never rolls a copy back.

Handlers return the table after the command as a ``hafs_api.mounts.MountTable``
whose ``default`` is empty: the default nameservice is configuration, and the
service layer fills it in. Changes need the superuser. Pure, like every
namespace module: what the table means for a request (the ownership check) is
the service layer's (``ha_namenode.federation``).
"""

from __future__ import annotations

from ha_namenode.namespace import commands as c
from ha_namenode.namespace import permission as perm
from ha_namenode.namespace.store import MOUNT_VERSION, StoreTxn, StoreView
from ha_namenode.namespace.tree import Ctx
from hafs_api.errors import InvalidArgument
from hafs_api.mounts import Mount, MountTable, check


def table(view: StoreView, default: str = "") -> MountTable:
    """The mount table this replica holds (version 0 and no mounts before any change)."""
    return MountTable(view.meta(MOUNT_VERSION), default, tuple(view.mounts()))


def valid_nameservice(name: str) -> str:
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgument(f"invalid nameservice name {name!r}: letters, digits, '-' or '_'")
    return name


def add_mount(ctx: Ctx, cmd: c.AddMount) -> MountTable:
    perm.check_superuser(ctx.caller, "change the mount table")
    mount = Mount(check(cmd.path), valid_nameservice(cmd.nameservice), cmd.read_only)
    current = table(ctx.txn)
    if mount in current.mounts:
        return current  # the same mount again: no new version
    return _replace(ctx.txn, current, current.with_mount(mount))


def remove_mount(ctx: Ctx, cmd: c.RemoveMount) -> MountTable:
    perm.check_superuser(ctx.caller, "change the mount table")
    current = table(ctx.txn)
    return _replace(ctx.txn, current, current.without(cmd.path))


def install_mount_table(ctx: Ctx, cmd: c.InstallMountTable) -> MountTable:
    perm.check_superuser(ctx.caller, "install a mount table")
    current = table(ctx.txn)
    if cmd.version <= current.version:
        return current  # older or the same: a late or repeated push
    entries: dict[str, Mount] = {}
    for path, nameservice, read_only in cmd.mounts:
        if path in entries:
            raise InvalidArgument("the mount table lists a path twice", path)
        entries[path] = Mount(check(path), valid_nameservice(nameservice), bool(read_only))
    new = MountTable(cmd.version, "", tuple(entries[p] for p in sorted(entries)))
    return _replace(ctx.txn, current, new)


def _replace(txn: StoreTxn, old: MountTable, new: MountTable) -> MountTable:
    """Write the difference between ``old`` and ``new`` and the new version."""
    kept = {m.path: m for m in new.mounts}
    for mount in old.mounts:
        if mount.path not in kept:
            txn.delete_mount(mount.path)
    before = set(old.mounts)
    for mount in new.mounts:
        if mount not in before:
            txn.put_mount(mount)
    txn.set_meta(MOUNT_VERSION, new.version)
    return new
