"""The mount table: which nameservice owns a path. Shared by NameNodes and clients.

A mount maps a path prefix to a nameservice. The owner of a path is the
nameservice of its **deepest mount by whole components** (``/user/a`` owns
``/user/a`` and ``/user/a/x``, not ``/user/a1``); a path no mount matches
belongs to the table's default nameservice. The table is versioned: every
change makes a new version, and a NameNode or client holding an older one
refreshes it (``WrongNamespace`` carries the server's version).

Pure and standard-library only (the proto conversion takes the generated
message but imports nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hafs_api import paths
from hafs_api.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Mount:
    path: str
    nameservice: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class MountTable:
    version: int = 0  # 0: no table: everything belongs to the default nameservice
    default: str = ""
    mounts: tuple[Mount, ...] = field(default_factory=tuple)  # sorted by path

    def mount_of(self, path: str) -> Mount | None:
        """The deepest mount at or above ``path``, or None (the default owns it)."""
        best: Mount | None = None
        for mount in self.mounts:
            if covers(mount.path, path) and (best is None or len(mount.path) > len(best.path)):
                best = mount
        return best

    def owner(self, path: str) -> str:
        mount = self.mount_of(path)
        return mount.nameservice if mount is not None else self.default

    def read_only(self, path: str) -> bool:
        mount = self.mount_of(path)
        return mount is not None and mount.read_only

    def mounts_below(self, path: str) -> list[Mount]:
        """Mounts strictly under ``path`` (its subtree spans them)."""
        return [m for m in self.mounts if m.path != path and covers(path, m.path)]

    def children_mounts(self, path: str) -> list[str]:
        """Names of the entries of directory ``path`` that lead to a mount below it
        (``ls /`` shows ``user`` for a mount at ``/user/a``)."""
        names = set()
        for mount in self.mounts_below(path):
            rest = mount.path[len(path.rstrip("/")) + 1 :]
            names.add(rest.split("/", 1)[0])
        return sorted(names)

    def with_mount(self, mount: Mount) -> MountTable:
        check(mount.path)
        kept = [m for m in self.mounts if m.path != mount.path]
        return MountTable(self.version + 1, self.default, _sorted([*kept, mount]))

    def without(self, path: str) -> MountTable:
        if not any(m.path == path for m in self.mounts):
            raise InvalidArgument(f"no mount at {path}", path)
        kept = [m for m in self.mounts if m.path != path]
        return MountTable(self.version + 1, self.default, _sorted(kept))


def covers(prefix: str, path: str) -> bool:
    """``path`` is ``prefix`` or under it, by whole components."""
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


def check(path: str) -> str:
    """A valid mount point: an absolute, normalized path other than ``/``."""
    paths.validate(path)
    if path == "/" or path.endswith("/"):
        raise InvalidArgument("a mount point is an absolute path other than /", path)
    return path


def _sorted(mounts: Iterable[Mount]) -> tuple[Mount, ...]:
    return tuple(sorted(mounts, key=lambda m: m.path))


def to_proto(table: MountTable, message_type):
    """``table`` as a ``common_pb2.MountTable`` (the class is passed in)."""
    msg = message_type(version=table.version, default_nameservice=table.default)
    for m in table.mounts:
        msg.entries.add(path=m.path, nameservice=m.nameservice, read_only=m.read_only)
    return msg


def from_proto(msg) -> MountTable:
    mounts = (Mount(e.path, e.nameservice, e.read_only) for e in msg.entries)
    return MountTable(msg.version, msg.default_nameservice, _sorted(mounts))
