"""A block pool: the replicas one nameservice keeps on this DataNode, across volumes.

The replica map (block id -> ``Replica``) is guarded by the ``Storage`` lock,
held only for map and accounting changes, never across file I/O. Changing a
replica's files takes its ``io_lock`` first (see ``datanode.replica``). A
replica being replaced, deleted or reopened is detached from the map and marked
stale under the Storage lock; its files are then handled under its ``io_lock``,
which waits for a write in flight to finish.

Imports: the standard library, ``hafs_api`` and ``datanode`` (meta, replica, volume).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from datanode import meta
from datanode.replica import (
    FINALIZED,
    RBW,
    TEMPORARY,
    Replica,
    ReplicaInfo,
    ReplicaReader,
    ReplicaWriter,
    close_fds,
)
from datanode.volume import Volume, fsync_dir
from hafs_api import checksum
from hafs_api.errors import (
    ChecksumMismatch,
    FileAlreadyExists,
    InvalidArgument,
    ReplicaNotFound,
)

if TYPE_CHECKING:
    from datanode.storage import Storage

log = logging.getLogger(__name__)


class BlockPool:
    def __init__(self, storage: Storage, name: str) -> None:
        self.name = name
        self._storage = storage
        self._lock = storage._lock
        self._map: dict[int, Replica] = {}

    def __repr__(self) -> str:
        return f"BlockPool({self.name!r}, {len(self._map)} replicas)"

    # -- the public API ----------------------------------------------------------
    def create(
        self, block_id: int, gen_stamp: int, bytes_per_checksum: int, *, temporary: bool = False
    ) -> ReplicaWriter:
        if bytes_per_checksum <= 0 or block_id < 0 or gen_stamp < 0:
            raise InvalidArgument(
                f"bad replica blk_{block_id}_{gen_stamp} (bytes_per_checksum {bytes_per_checksum})"
            )
        with self._lock:
            old = self._map.get(block_id)
            if old is not None and old.gen_stamp >= gen_stamp:
                raise FileAlreadyExists(
                    f"{self.name}: a {old.state} replica {old.name} exists", f"blk_{block_id}"
                )
            volume = self._storage._choose_volume()
            self._storage._reserve(volume, meta.HEADER_SIZE)
            part = "tmp" if temporary else "rbw"
            rec = Replica(
                block_id,
                gen_stamp,
                TEMPORARY if temporary else RBW,
                0,
                bytes_per_checksum,
                volume,
                volume.pool_dir(self.name, part),
            )
            rec.last_crc = 0
            rec.io_lock.acquire()
            if old is not None:
                self._detach(old)
            self._map[block_id] = rec
            rec.disk_bytes = meta.HEADER_SIZE
        try:
            if old is not None:
                with old.io_lock:
                    self._unlink(old)
            volume.ensure_pool(self.name)
            data_fd, meta_fd = self._new_files(rec)
        except OSError as exc:
            with self._lock:
                self._detach(rec)
            self._raise(volume, exc, f"{self.name} {rec.name}: create")
        finally:
            rec.io_lock.release()
        if old is not None:
            log.info("%s: %s replaced by %s", self.name, old.name, rec.name)
        return ReplicaWriter(self, rec, data_fd, meta_fd, created=True)

    def reopen(
        self,
        block_id: int,
        old_gen_stamp: int,
        new_gen_stamp: int,
        length: int,
        *,
        recovery: bool = False,
    ) -> ReplicaWriter:
        """APPEND (``recovery`` False): a finalized replica holding exactly ``length``
        bytes. PIPELINE_RECOVERY: a replica being written, or one this node finalized
        on the last packet before a node upstream failed, cut back to ``length``."""
        with self._lock:
            old = self._live(block_id)
            what = f"{self.name} {old.name}"
            if old.state == FINALIZED:
                if old_gen_stamp not in (0, old.gen_stamp):
                    raise ReplicaNotFound(
                        f"{what}: finalized with another gen stamp than {old_gen_stamp}"
                    )
                # APPEND: exactly its bytes. PIPELINE_RECOVERY after the last packet
                # (this node finalized, one upstream failed before acking): cut back to
                # what every node acknowledged, like a replica being written.
                cut_back = recovery and old_gen_stamp == old.gen_stamp and old.num_bytes > length
                if old.num_bytes != length and not cut_back:
                    raise InvalidArgument(f"{what}: holds {old.num_bytes} bytes, not {length}")
            else:  # PIPELINE_RECOVERY
                if old.gen_stamp != old_gen_stamp:
                    raise ReplicaNotFound(
                        f"{what}: being written under another gen stamp than {old_gen_stamp}"
                    )
                if old.num_bytes < length:
                    raise InvalidArgument(f"{what}: holds only {old.num_bytes} bytes, not {length}")
            if new_gen_stamp <= old.gen_stamp:
                raise InvalidArgument(f"{what}: new gen stamp {new_gen_stamp} is not newer")
            directory = old.volume.pool_dir(self.name, "rbw")
            rec = self._successor(old, new_gen_stamp, RBW, length, directory)
        data_fd, meta_fd = self._take_over(old, rec)
        log.info("%s: %s reopened as %s at %d bytes", self.name, old.name, rec.name, length)
        return ReplicaWriter(self, rec, data_fd, meta_fd, created=False)

    def recover(
        self, block_id: int, gen_stamp: int, new_gen_stamp: int, length: int
    ) -> ReplicaInfo:
        with self._lock:
            old = self._map.get(block_id)
            done = (FINALIZED, new_gen_stamp, length)
            if old is not None and (old.state, old.gen_stamp, old.num_bytes) == done:
                return old.info()
            old = self._live(block_id)
            what = f"{self.name} {old.name}"
            if old.gen_stamp > gen_stamp:
                raise ReplicaNotFound(f"{what}: gen stamp is newer than {gen_stamp}")
            if new_gen_stamp < old.gen_stamp:
                raise InvalidArgument(f"{what}: new gen stamp {new_gen_stamp} is older")
            if old.num_bytes < length:
                raise InvalidArgument(f"{what}: holds only {old.num_bytes} bytes, not {length}")
            directory = old.volume.finalized_dir(self.name, block_id)
            rec = self._successor(old, new_gen_stamp, FINALIZED, length, directory)
        close_fds(*self._take_over(old, rec))
        log.info("%s: %s recovered as %s, %d bytes", self.name, old.name, rec.name, length)
        return rec.info()

    @property
    def observer(self):  # datanode.storage.IoObserver
        return self._storage.observer

    def count(self) -> int:
        """Replicas in the map, those being written included (cheap: no copy)."""
        with self._lock:
            return len(self._map)

    def reader(self, block_id: int, gen_stamp: int, *, counted: bool = True) -> ReplicaReader:
        """A reader of the replica; ``counted``: its data counts as read (not the scanner's)."""
        with self._lock:
            rec = self._map.get(block_id)
            if rec is None or rec.state == TEMPORARY or rec.gen_stamp != gen_stamp:
                raise ReplicaNotFound(f"{self.name}: no replica blk_{block_id}_{gen_stamp}")
        with rec.io_lock:  # its files are in place and not being changed
            if rec.stale:
                raise ReplicaNotFound(f"{self.name}: {rec.name} was just replaced or deleted")
            try:
                data_fd = os.open(rec.data_path, os.O_RDONLY)
                try:
                    meta_fd = os.open(rec.meta_path, os.O_RDONLY)
                except OSError:
                    os.close(data_fd)
                    raise
            except OSError as exc:
                self._raise(rec.volume, exc, f"{self.name} {rec.name}: open")
            with self._lock:
                return ReplicaReader(self, rec, data_fd, meta_fd, counted)

    def get(self, block_id: int) -> ReplicaInfo | None:
        with self._lock:
            rec = self._map.get(block_id)
            return None if rec is None or rec.state == TEMPORARY else rec.info()

    def delete(self, block_id: int, gen_stamp: int) -> bool:
        with self._lock:
            rec = self._map.get(block_id)
            if rec is None or rec.gen_stamp > gen_stamp:
                return False
            self._detach(rec)
        with rec.io_lock:
            self._unlink(rec)
        log.info("%s: deleted %s %s", self.name, rec.state, rec.name)
        return True

    def replicas(self) -> list[ReplicaInfo]:
        with self._lock:
            return [r.info() for r in self._map.values() if r.state != TEMPORARY]

    def block_checksum(self, block_id: int, gen_stamp: int) -> tuple[bytes, int, int, int]:
        with self._lock:
            rec = self._map.get(block_id)
            if rec is None or rec.state != FINALIZED or rec.gen_stamp != gen_stamp:
                raise ReplicaNotFound(
                    f"{self.name}: no finalized replica blk_{block_id}_{gen_stamp}"
                )
        with self.reader(block_id, gen_stamp) as r:
            sums = r.checksums()
            bpc = r.bytes_per_checksum
            return hashlib.md5(sums).digest(), bpc, len(sums) // meta.SUM.size, r.num_bytes

    def verify(
        self, block_id: int, gen_stamp: int, *, throttle: Callable[[int], None] | None = None
    ) -> None:
        """Read every chunk and check it; ``throttle(n)`` is called after each n bytes read."""
        with self.reader(block_id, gen_stamp, counted=False) as r:
            what = f"{self.name} {meta.block_name(block_id, gen_stamp)}: "
            for pos, data, sums in r.chunks(0):
                checksum.verify(data, sums, pos, r.bytes_per_checksum, what)
                if throttle is not None:
                    throttle(len(data))

    # -- helpers of the writer and reader (the writer holds rec.io_lock) ------------
    def _reserve(self, rec: Replica, growth: int) -> None:
        with self._lock:
            if rec.stale:
                raise ReplicaNotFound(f"{self.name} {rec.name}: replaced, deleted or recovered")
            self._storage._reserve(rec.volume, growth)
            rec.disk_bytes += growth

    def _release(self, rec: Replica, growth: int) -> None:
        with self._lock:
            if not rec.stale:  # else whoever detached it settled its bytes
                rec.volume.used -= growth
                rec.disk_bytes -= growth

    def _wrote(self, rec: Replica, num_bytes: int, last_crc: int) -> None:
        with self._lock:
            rec.num_bytes = num_bytes
            rec.last_crc = last_crc

    def _finalize(self, rec: Replica) -> ReplicaInfo:
        dest = rec.volume.finalized_dir(self.name, rec.block_id)
        src = rec.directory
        self._mkdir(dest)
        os.rename(rec.meta_path, dest / rec.meta_path.name)  # meta first: see inventory
        os.rename(rec.data_path, dest / rec.name)
        fsync_dir(dest)
        fsync_dir(src)
        with self._lock:
            rec.directory = dest
            rec.state = FINALIZED
            if rec.stale:
                raise ReplicaNotFound(
                    f"{self.name} {rec.name}: replaced or deleted while finalizing"
                )
            return rec.info()

    def _discard(self, rec: Replica) -> None:
        with self._lock:
            self._detach(rec)
        self._unlink(rec)
        log.info("%s: aborted %s %s", self.name, rec.state, rec.name)

    def _raise(self, volume: Volume, exc: OSError, what: str) -> NoReturn:
        self._storage._raise(volume, exc, what)

    # -- internals -------------------------------------------------------------------
    def _live(self, block_id: int) -> Replica:
        rec = self._map.get(block_id)
        if rec is None or rec.state == TEMPORARY:
            raise ReplicaNotFound(f"{self.name}: no replica of blk_{block_id}")
        return rec

    def _detach(self, rec: Replica, *, keep_bytes: bool = False) -> None:
        """Take ``rec`` out of the map and mark it stale (Storage lock held)."""
        if self._map.get(rec.block_id) is rec:
            del self._map[rec.block_id]
        rec.stale = True
        if not keep_bytes:
            rec.volume.used -= rec.disk_bytes
            rec.disk_bytes = 0

    def _successor(self, old: Replica, gen_stamp: int, state: str, length: int, directory: Path):
        """A record that takes over ``old``'s files, locked until they are in place."""
        rec = Replica(
            old.block_id, gen_stamp, state, length, old.bytes_per_checksum, old.volume, directory
        )
        rec.io_lock.acquire()
        self._detach(old, keep_bytes=True)
        rec.disk_bytes, old.disk_bytes = old.disk_bytes, 0
        self._map[rec.block_id] = rec
        return rec

    def _take_over(self, old: Replica, rec: Replica) -> tuple[int, int]:
        """Cut ``old``'s files to ``rec.num_bytes``, rename them to ``rec``'s; open fds."""
        what = f"{self.name} {old.name}: "
        try:
            with old.io_lock:
                data_fd = os.open(old.data_path, os.O_RDWR)
                try:
                    meta_fd = os.open(old.meta_path, os.O_RDWR)
                except OSError:
                    os.close(data_fd)
                    raise
                try:
                    bpc = old.bytes_per_checksum
                    last = meta.truncate(data_fd, meta_fd, old.num_bytes, rec.num_bytes, bpc, what)
                    os.fsync(data_fd)
                    os.fsync(meta_fd)
                    if rec.data_path != old.data_path:
                        self._mkdir(rec.directory)
                        os.rename(old.meta_path, rec.meta_path)
                        os.rename(old.data_path, rec.data_path)
                        fsync_dir(rec.directory)
                        if rec.directory != old.directory:
                            fsync_dir(old.directory)
                except BaseException:
                    close_fds(data_fd, meta_fd)
                    raise
            with self._lock:
                size = rec.num_bytes + meta.meta_size(rec.num_bytes, bpc)
                rec.volume.used += size - rec.disk_bytes
                rec.disk_bytes = size
                rec.last_crc = last
            return data_fd, meta_fd
        except ChecksumMismatch:  # found before anything changed: keep the old replica
            with self._lock:
                if self._map.get(rec.block_id) is rec:
                    back = Replica(
                        old.block_id, old.gen_stamp, old.state, old.num_bytes,
                        old.bytes_per_checksum, old.volume, old.directory,
                    )  # fmt: skip
                    back.last_crc = old.last_crc
                    self._map[rec.block_id] = back
                    back.disk_bytes, rec.disk_bytes = rec.disk_bytes, 0
                    rec.stale = True
            raise
        except OSError as exc:
            with self._lock:
                self._detach(rec)
            self._raise(old.volume, exc, what + "take over")
        finally:
            rec.io_lock.release()

    def _new_files(self, rec: Replica) -> tuple[int, int]:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
        data_fd = os.open(rec.data_path, flags, 0o644)
        try:
            meta_fd = os.open(rec.meta_path, flags, 0o644)
            try:
                meta.write_all(meta_fd, meta.header(rec.bytes_per_checksum), 0)
            except OSError:
                os.close(meta_fd)
                raise
        except OSError:
            os.close(data_fd)
            for path in (rec.data_path, rec.meta_path):
                path.unlink(missing_ok=True)
            raise
        return data_fd, meta_fd

    def _unlink(self, rec: Replica) -> None:
        """Remove a detached replica's files (its io_lock held), data first."""
        for path in (rec.data_path, rec.meta_path):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("%s: cannot remove %s: %s", self.name, path, exc)
                self._storage._note_failure(rec.volume, exc)

    @staticmethod
    def _mkdir(path: Path) -> None:
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            fsync_dir(path.parent)

    def _adopt(self, rec: Replica) -> None:
        """Add a replica found at start-up; of two copies keep the newer (single-threaded)."""
        old = self._map.get(rec.block_id)
        if old is not None:
            keep_new = (rec.gen_stamp, rec.state == FINALIZED) > (
                old.gen_stamp,
                old.state == FINALIZED,
            )
            drop = old if keep_new else rec
            log.warning("%s: two replicas of blk_%d, removing %s on %s",
                        self.name, rec.block_id, drop.name, drop.volume.root)  # fmt: skip
            drop.volume.used -= drop.disk_bytes
            self._unlink(drop)
            if not keep_new:
                return
        self._map[rec.block_id] = rec
