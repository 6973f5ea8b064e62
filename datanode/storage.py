"""The DataNode's on-disk block storage: volumes, block pools and their replicas.

``Storage`` opens (and locks) every storage directory, checks they belong to
the same DataNode, scans them, and owns the one lock that guards every block
pool's replica map and the space accounting. The pieces live in:

- ``datanode.volume``: one storage directory, its lock, VERSION and layout;
- ``datanode.meta``: the ``.meta`` checksum file format;
- ``datanode.inventory``: the start-up scan and crash repair;
- ``datanode.pool``: ``BlockPool``, the replicas of one nameservice;
- ``datanode.replica``: ``ReplicaInfo``, ``ReplicaWriter``, ``ReplicaReader``.

``Storage.observer`` hears of the bytes replicas serve and take and of data
that fails its checksum on the way in (the DataNode's metrics): ``read(n)``
for data a reader returns (not the block scanner's), ``written(n)`` for data
a writer stored, ``checksum_failed()`` for a write refused over a mismatch.
Counting is the observer's business; calls come from I/O threads, no lock held.

Errors: ``StorageFull`` when no volume has room (or the disk says ENOSPC);
``InternalError`` when a volume's I/O fails (EIO, EROFS): the volume is then
marked failed, its replicas dropped, and the others keep serving.

Imports: the standard library, ``hafs_api.errors`` and the modules above.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, Protocol

from datanode import inventory, meta
from datanode.pool import BlockPool
from datanode.replica import ReplicaInfo, ReplicaReader, ReplicaWriter
from datanode.volume import FAILURE_ERRNOS, FULL_ERRNOS, Volume, VolumeUsage, check_pool_name
from hafs_api.errors import HafsError, InternalError, InvalidArgument, ReplicaNotFound, StorageFull

__all__ = [
    "BlockPool",
    "IoObserver",
    "ReplicaInfo",
    "ReplicaReader",
    "ReplicaWriter",
    "Storage",
    "VolumeUsage",
]

log = logging.getLogger(__name__)


class IoObserver(Protocol):
    def read(self, n: int) -> None: ...

    def written(self, n: int) -> None: ...

    def checksum_failed(self) -> None: ...


class Unobserved:
    """The observer nobody asked for: counts nothing."""

    def read(self, n: int) -> None:
        pass

    def written(self, n: int) -> None:
        pass

    def checksum_failed(self) -> None:
        pass


class Storage:
    def __init__(
        self, dirs: Sequence[str | Path], capacity_bytes: int = 0, reserved_bytes: int = 0
    ) -> None:
        roots = list(dict.fromkeys(Path(d).resolve() for d in dirs))
        if not roots:
            raise InvalidArgument("the DataNode needs at least one storage directory")
        if capacity_bytes < 0 or reserved_bytes < 0:
            raise InvalidArgument("capacity_bytes and reserved_bytes must not be negative")
        self._lock = threading.Lock()
        self.observer: IoObserver = Unobserved()
        self._volumes = [Volume(root) for root in roots]
        self._reserved = reserved_bytes
        self._next = 0  # round-robin position
        self._pools: dict[str, BlockPool] = {}
        if capacity_bytes:
            share, extra = divmod(capacity_bytes, len(roots))
            for i, volume in enumerate(self._volumes):
                volume.capacity = share + (i < extra)
        try:
            for volume in self._volumes:
                volume.lock()
            self._datanode_id = self._check_versions()
            for volume in self._volumes:
                self._scan(volume)
            if all(v.failed for v in self._volumes):
                raise InternalError("every storage directory failed at start-up")
        except BaseException:
            self.close()
            raise

    @property
    def datanode_id(self) -> str:
        return self._datanode_id

    def pool(self, block_pool: str) -> BlockPool:
        with self._lock:
            found = self._pools.get(block_pool)
            if found is not None:
                return found
            found = self._pools[check_pool_name(block_pool)] = BlockPool(self, block_pool)
            volumes = [v for v in self._volumes if not v.failed]
        for volume in volumes:
            try:
                volume.ensure_pool(block_pool)
            except OSError as exc:
                self._note_failure(volume, exc)
        return found

    def pools(self) -> list[str]:
        with self._lock:
            return sorted(self._pools)

    def usage(self) -> list[VolumeUsage]:
        with self._lock:
            return [self._usage(v) for v in self._volumes]

    def failed_volumes(self) -> int:
        with self._lock:
            return sum(v.failed for v in self._volumes)

    def close(self) -> None:
        for volume in self._volumes:
            volume.unlock()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- start-up --------------------------------------------------------------------
    def _check_versions(self) -> str:
        found = {v.root: v.read_version() for v in self._volumes}
        ids = {f["datanode_id"] for f in found.values() if f is not None}
        if len(ids) > 1:
            listing = ", ".join(
                f"{root}: {f['datanode_id'] if f else 'none'}" for root, f in found.items()
            )
            raise InvalidArgument(f"storage directories belong to different DataNodes ({listing})")
        datanode_id = ids.pop() if ids else uuid.uuid4().hex
        for volume in self._volumes:
            if found[volume.root] is None:
                if volume.pools_on_disk():
                    raise InvalidArgument(f"{volume.root} holds block pools but no VERSION file")
                volume.write_version(datanode_id)
        return datanode_id

    def _scan(self, volume: Volume) -> None:
        counts: Counter = Counter()
        names = volume.pools_on_disk()
        try:
            for name in names:
                pool = self._pools.get(name) or self._pools.setdefault(name, BlockPool(self, name))
                for rec in inventory.scan(volume, name, counts):
                    volume.used += rec.disk_bytes
                    pool._adopt(rec)
        except OSError as exc:
            if exc.errno not in FAILURE_ERRNOS:
                raise
            self._note_failure(volume, exc)
            return
        log.info(
            "volume %s: %d pools, %d finalized, %d rbw (%d truncated), %d tmp discarded, "
            "%d orphan files removed, %d moves finished, %d bytes used",
            volume.root, len(names), counts["finalized"], counts["rbw"],
            counts["rbw truncated"], counts["tmp discarded"], counts["orphans removed"],
            counts["moves finished"], volume.used,
        )  # fmt: skip

    # -- space and failures (called by the block pools) -----------------------------
    def _usage(self, volume: Volume) -> VolumeUsage:
        try:
            return volume.usage(self._reserved)
        except OSError as exc:
            self._fail_locked(volume, exc)
            return volume.usage(self._reserved)

    def _choose_volume(self) -> Volume:
        """The next volume, round robin, with room for a new replica (lock held)."""
        count = len(self._volumes)
        for i in range(count):
            volume = self._volumes[(self._next + i) % count]
            if not volume.failed and self._usage(volume).remaining > meta.HEADER_SIZE:
                self._next = (self._next + i + 1) % count
                return volume
        failed = sum(v.failed for v in self._volumes)
        raise StorageFull(f"no storage directory has room ({failed} of {count} failed)")

    def _reserve(self, volume: Volume, growth: int) -> None:
        """Count ``growth`` bytes as used on ``volume``, or StorageFull (lock held)."""
        if volume.failed:
            raise ReplicaNotFound(f"storage directory {volume.root} has failed")
        remaining = self._usage(volume).remaining
        if growth > remaining:
            raise StorageFull(
                f"storage directory {volume.root} has {remaining} bytes left, {growth} needed"
            )
        volume.used += growth

    def _raise(self, volume: Volume, exc: OSError, what: str) -> NoReturn:
        """Re-raise an I/O error as the hafs error it means, failing the volume on EIO."""
        if isinstance(exc, HafsError):
            raise exc
        if exc.errno in FULL_ERRNOS:
            raise StorageFull(f"{what}: {volume.root} is full ({exc.strerror})") from exc
        if exc.errno in FAILURE_ERRNOS:
            self._note_failure(volume, exc)
            raise InternalError(f"{what}: storage directory {volume.root} failed: {exc}") from exc
        if isinstance(exc, FileNotFoundError):
            raise ReplicaNotFound(f"{what}: {exc}") from exc
        raise exc

    def _note_failure(self, volume: Volume, exc: OSError) -> None:
        if exc.errno in FAILURE_ERRNOS:
            with self._lock:
                self._fail_locked(volume, exc)

    def _fail_locked(self, volume: Volume, exc: OSError) -> None:
        if volume.failed:
            return
        volume.failed = True
        dropped = 0
        for pool in self._pools.values():
            for rec in [r for r in pool._map.values() if r.volume is volume]:
                pool._detach(rec, keep_bytes=True)
                dropped += 1
        log.error(
            "volume %s failed (%s): %d replicas dropped, %d of %d volumes failed",
            volume.root, exc, dropped, sum(v.failed for v in self._volumes), len(self._volumes),
        )  # fmt: skip
