"""Replicas: the value type, the internal record, and the writer and reader of one.

Locking: ``Replica.io_lock`` serialises changes to a replica's files (writes,
truncation, renames) and is always taken before the ``Storage`` lock, never
after. The Storage lock guards the replica map and every record field except
the file descriptors. A record that is replaced, deleted or reopened is marked
``stale``; its writer then refuses to go on, and whoever marked it deals with
its files once it holds the ``io_lock``.

Imports: the standard library, ``hafs_api`` (checksum, errors) and ``datanode.meta``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datanode import meta
from datanode.volume import fsync_dir
from hafs_api import checksum
from hafs_api.errors import ChecksumMismatch, InvalidArgument, ReplicaNotFound

if TYPE_CHECKING:
    from datanode.pool import BlockPool
    from datanode.volume import Volume

FINALIZED = "FINALIZED"
RBW = "RBW"
TEMPORARY = "TEMPORARY"


@dataclass(frozen=True)
class ReplicaInfo:
    block_id: int
    gen_stamp: int
    num_bytes: int
    state: str  # "FINALIZED" | "RBW" | "TEMPORARY"
    bytes_per_checksum: int


class Replica:
    """The mutable record of one replica in a block pool's map."""

    def __init__(self, block_id, gen_stamp, state, num_bytes, bpc, volume: Volume, directory):
        self.block_id: int = block_id
        self.gen_stamp: int = gen_stamp
        self.state: str = state
        self.num_bytes: int = num_bytes
        self.bytes_per_checksum: int = bpc
        self.volume = volume
        self.directory: Path = directory
        self.last_crc: int | None = None  # CRC of the partial last chunk, when known
        self.disk_bytes = 0  # counted in volume.used
        self.stale = False
        self.io_lock = threading.Lock()

    @property
    def name(self) -> str:
        return meta.block_name(self.block_id, self.gen_stamp)

    @property
    def data_path(self) -> Path:
        return self.directory / self.name

    @property
    def meta_path(self) -> Path:
        return self.directory / meta.meta_name(self.block_id, self.gen_stamp)

    def info(self) -> ReplicaInfo:
        return ReplicaInfo(
            self.block_id, self.gen_stamp, self.num_bytes, self.state, self.bytes_per_checksum
        )


def close_fds(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class ReplicaWriter:
    """Appends checksummed data to a replica being written (RBW or TEMPORARY)."""

    def __init__(self, pool: BlockPool, rec: Replica, data_fd: int, meta_fd: int, created: bool):
        self.block_id = rec.block_id
        self.gen_stamp = rec.gen_stamp
        self.bytes_per_checksum = rec.bytes_per_checksum
        self._pool = pool
        self._rec = rec
        self._fds: tuple[int, int] | None = (data_fd, meta_fd)
        self._created = created  # abort() removes a created replica, keeps a reopened one
        self._finalized = False
        self._aborted = False
        self._dir_synced = False
        self._what = f"{pool.name} {rec.name}: "

    @property
    def num_bytes(self) -> int:
        return self._rec.num_bytes

    def _open_fds(self) -> tuple[int, int]:
        if self._fds is None:
            raise InvalidArgument(f"{self._what}the writer is closed")
        if self._rec.stale:
            raise ReplicaNotFound(f"{self._what}the replica was replaced, deleted or recovered")
        return self._fds

    def write(self, offset: int, data: bytes | memoryview, checksums: bytes) -> None:
        rec, bpc = self._rec, self.bytes_per_checksum
        view = memoryview(data).cast("B")
        with rec.io_lock:
            data_fd, meta_fd = self._open_fds()
            old = rec.num_bytes
            if offset != old:
                raise InvalidArgument(f"{self._what}write at offset {offset}, replica holds {old}")
            try:
                checksum.verify(view, checksums, offset, bpc, self._what)
            except ChecksumMismatch:
                self._pool.observer.checksum_failed()
                raise
            if not view:
                return
            sums = bytearray(checksums)
            if old % bpc:  # continue the partial last chunk's CRC
                first = min(bpc - old % bpc, len(view))
                crc = checksum.extend(rec.last_crc or 0, view[:first])
                sums[: meta.SUM.size] = meta.SUM.pack(crc)
            new = old + len(view)
            growth = len(view) + meta.meta_size(new, bpc) - meta.meta_size(old, bpc)
            self._pool._reserve(rec, growth)
            try:
                meta.write_all(data_fd, view, old)
                meta.write_all(meta_fd, sums, meta.sum_offset(old // bpc))
            except OSError as exc:
                self._rollback(old)
                self._pool._release(rec, growth)
                self._pool._raise(rec.volume, exc, self._what + "write")
            (last,) = meta.SUM.unpack(sums[-meta.SUM.size :])
            self._pool._wrote(rec, new, last)
        self._pool.observer.written(len(view))

    def _rollback(self, length: int) -> None:
        """Undo a failed write: cut data and meta back to ``length`` bytes."""
        rec, bpc = self._rec, self.bytes_per_checksum
        data_fd, meta_fd = self._fds
        try:
            os.ftruncate(data_fd, length)
            os.ftruncate(meta_fd, meta.meta_size(length, bpc))
            if length % bpc:
                meta.write_all(
                    meta_fd, meta.SUM.pack(rec.last_crc or 0), meta.sum_offset(length // bpc)
                )
        except OSError:
            pass  # the caller reports the first error; abort() or the start-up scan cleans up

    def sync(self) -> None:
        with self._rec.io_lock:
            data_fd, meta_fd = self._open_fds()
            try:
                os.fsync(data_fd)
                os.fsync(meta_fd)
                if not self._dir_synced:
                    fsync_dir(self._rec.directory)
                    self._dir_synced = True
            except OSError as exc:
                self._pool._raise(self._rec.volume, exc, self._what + "sync")

    def finalize(self) -> ReplicaInfo:
        rec = self._rec
        with rec.io_lock:
            data_fd, meta_fd = self._open_fds()
            try:
                os.fsync(data_fd)
                os.fsync(meta_fd)
                close_fds(data_fd, meta_fd)
                self._fds = None
                info = self._pool._finalize(rec)
            except OSError as exc:
                self._pool._raise(rec.volume, exc, self._what + "finalize")
            self._finalized = True
            return info

    def abort(self) -> None:
        """Close; a created or temporary replica is also removed, a reopened one kept as RBW."""
        rec = self._rec
        with rec.io_lock:
            if self._finalized or self._aborted:
                return
            self._aborted = True
            if self._fds is not None:
                close_fds(*self._fds)
                self._fds = None
            if self._created and not rec.stale:
                self._pool._discard(rec)

    def close(self) -> None:
        """Close the files, keeping an RBW replica for recovery (a TEMPORARY one is aborted)."""
        if self._rec.state == TEMPORARY:
            self.abort()
            return
        with self._rec.io_lock:
            if self._fds is not None:
                close_fds(*self._fds)
                self._fds = None

    def __enter__(self) -> ReplicaWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._finalized:
            return
        if exc_type is not None:
            self.abort()
        else:
            self.close()


class ReplicaReader:
    """Reads a replica's data with its stored checksums, as of when it was opened."""

    def __init__(
        self, pool: BlockPool, rec: Replica, data_fd: int, meta_fd: int, counted: bool = True
    ) -> None:
        self.block_id = rec.block_id
        self.gen_stamp = rec.gen_stamp
        self.num_bytes = rec.num_bytes
        self.bytes_per_checksum = rec.bytes_per_checksum
        self._last_crc = rec.last_crc  # the on-disk one may already cover later bytes
        self._pool = pool
        self._volume = rec.volume
        self._fds: tuple[int, int] | None = (data_fd, meta_fd)
        self._what = f"{pool.name} {rec.name}: "
        self._observer = pool.observer if counted else None

    def chunks(
        self, offset: int, length: int = 0, max_bytes: int = 1 << 20
    ) -> Iterator[tuple[int, bytes, bytes]]:
        bpc, size = self.bytes_per_checksum, self.num_bytes
        if not 0 <= offset <= size or length < 0:
            raise InvalidArgument(f"{self._what}cannot read {length} bytes at {offset} of {size}")
        end = size if length == 0 else min(size, offset + length)
        if end <= offset:
            return iter(())
        end = min(size, meta.chunks(end, bpc) * bpc)  # whole chunks, but the replica's last
        step = max(bpc, max_bytes - max_bytes % bpc)
        return self._pieces(offset - offset % bpc, end, step)

    def _pieces(self, pos: int, end: int, step: int) -> Iterator[tuple[int, bytes, bytes]]:
        while pos < end:
            stop = min(pos + step, end)
            yield pos, *self._piece(pos, stop)
            pos = stop

    def _piece(self, pos: int, stop: int) -> tuple[bytes, bytes]:
        if self._fds is None:
            raise InvalidArgument(f"{self._what}the reader is closed")
        data_fd, meta_fd = self._fds
        bpc = self.bytes_per_checksum
        try:
            data = meta.read_exact(data_fd, stop - pos, pos, self._what)
            count = meta.chunks(stop - pos, bpc)
            sums = meta.read_sums(meta_fd, pos // bpc, count, self._what)
        except OSError as exc:
            self._pool._raise(self._volume, exc, self._what + "read")
        if self._observer is not None:
            self._observer.read(len(data))
        if stop == self.num_bytes and stop % bpc and self._last_crc is not None:
            sums = sums[: -meta.SUM.size] + meta.SUM.pack(self._last_crc)
        return data, sums

    def checksums(self) -> bytes:
        """The packed stored checksums of every chunk."""
        if self._fds is None:
            raise InvalidArgument(f"{self._what}the reader is closed")
        count = meta.chunks(self.num_bytes, self.bytes_per_checksum)
        try:
            sums = meta.read_sums(self._fds[1], 0, count, self._what)
        except OSError as exc:
            self._pool._raise(self._volume, exc, self._what + "read")
        if self.num_bytes % self.bytes_per_checksum and self._last_crc is not None:
            sums = sums[: -meta.SUM.size] + meta.SUM.pack(self._last_crc)
        return sums

    def close(self) -> None:
        if self._fds is not None:
            close_fds(*self._fds)
            self._fds = None

    def __enter__(self) -> ReplicaReader:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
