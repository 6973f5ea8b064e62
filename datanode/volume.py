"""One storage directory (a volume): its lock, its VERSION file and its layout.

Layout of a volume::

    <dir>/in_use.lock                      flock'ed while a DataNode has it open
    <dir>/VERSION                          JSON: datanode_id, layout_version
    <dir>/current/<pool>/finalized/subdirNN/blk_<id>_<gs>[.meta]
    <dir>/current/<pool>/rbw/blk_<id>_<gs>[.meta]     replicas being written
    <dir>/current/<pool>/tmp/blk_<id>_<gs>[.meta]     replication copies in progress

The ``Storage`` lock guards ``used`` and ``failed``; this module does no locking.

Imports: the standard library and ``hafs_api.errors``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hafs_api.errors import InvalidArgument, LeaseConflict

LAYOUT_VERSION = 1
SUBDIRS = 64
POOL_PARTS = ("finalized", "rbw", "tmp")
# OSError numbers that mean the disk, not the request, is at fault.
FAILURE_ERRNOS = frozenset({errno.EIO, errno.EROFS, errno.ENODEV, errno.ENXIO})
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True)
class VolumeUsage:
    path: str
    capacity: int
    used: int
    remaining: int
    failed: bool


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_pool_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise InvalidArgument(f"bad block pool name {name!r}")
    return name


class Volume:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.current = root / "current"
        self.failed = False
        self.used = 0  # block + meta bytes of the replicas on this volume
        self.capacity: int | None = None  # its share of Storage's capacity_bytes; None: its disk
        self._size = 0  # the file system's size when last asked
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"Volume({str(self.root)!r})"

    # -- the exclusive lock -------------------------------------------------
    def lock(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "in_use.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LeaseConflict(
                f"storage directory {self.root} is in use by another DataNode "
                f"(pid {holder} holds {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- VERSION --------------------------------------------------------------
    def read_version(self) -> dict | None:
        path = self.root / "VERSION"
        try:
            found = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"unreadable VERSION file {path}: {exc}") from None
        if not isinstance(found, dict) or not isinstance(found.get("datanode_id"), str):
            raise InvalidArgument(f"VERSION file {path} has no datanode_id")
        if found.get("layout_version") != LAYOUT_VERSION:
            raise InvalidArgument(
                f"VERSION file {path} has layout version {found.get('layout_version')}, "
                f"this DataNode uses {LAYOUT_VERSION}"
            )
        return found

    def write_version(self, datanode_id: str) -> None:
        path = self.root / "VERSION"
        tmp = path.with_suffix(".tmp")
        body = {"datanode_id": datanode_id, "layout_version": LAYOUT_VERSION}
        with open(tmp, "w") as f:
            json.dump(body, f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(self.root)

    # -- layout ---------------------------------------------------------------
    def pool_dir(self, pool: str, part: str) -> Path:
        return self.current / pool / part

    def finalized_dir(self, pool: str, block_id: int) -> Path:
        return self.current / pool / "finalized" / f"subdir{(block_id >> 8) % SUBDIRS:02d}"

    def ensure_pool(self, pool: str) -> None:
        for part in POOL_PARTS:
            self.pool_dir(pool, part).mkdir(parents=True, exist_ok=True)

    def pools_on_disk(self) -> list[str]:
        if not self.current.is_dir():
            return []
        return sorted(p.name for p in self.current.iterdir() if p.is_dir())

    # -- space ----------------------------------------------------------------
    def disk(self) -> tuple[int, int]:
        """``(size, free)`` of the file system holding this volume."""
        st = os.statvfs(self.root)
        self._size = st.f_blocks * st.f_frsize
        return self._size, st.f_bavail * st.f_frsize

    def usage(self, reserved: int) -> VolumeUsage:
        if self.failed:
            size, free = self._size, 0
        else:
            size, free = self.disk()
        capacity = size if self.capacity is None else self.capacity
        if self.failed:
            return VolumeUsage(str(self.root), capacity, self.used, 0, True)
        remaining = max(0, min(capacity - self.used, free - reserved))
        return VolumeUsage(str(self.root), capacity, self.used, remaining, False)
