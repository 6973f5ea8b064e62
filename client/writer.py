"""``FileWriter``: a file open for writing, streamed to DataNodes block by block.

Returned by ``Client.open(path, "wb" | "xb" | "ab")`` after the ``Create`` or
``Append`` call. Bytes are buffered and cut into packets of about
``packet_size`` bytes whose ends fall on chunk boundaries of the block (and on
the block's end), each sent through a ``client.pipeline.BlockPipeline``:

* a block is allocated by ``AddBlock`` (naming the previous block with its
  final length) when its first packet is ready; when its pipeline cannot be set
  up the block is abandoned (``AbandonBlock``) and allocated again with the
  failing DataNode excluded, a few times;
* after an ``Append`` that reopened a partial last block, the first packet
  continues that block (stage APPEND), even mid-chunk;
* the packet that fills a block is its last; all its acks are awaited before
  the next block starts;
* ``flush()`` sends the buffered whole chunks; ``hflush()`` sends everything
  and waits for the acks; ``hsync()`` also has the DataNodes fsync;
* ``close()`` sends the rest with ``last`` set, then calls ``Complete`` until
  the NameNode has the last block's replicas (short growing backoff, bounded
  by the retry deadline). Closing twice is harmless.

Any failure (a pipeline with no DataNode left, a NameNode error) leaves the
writer failed: later writes raise it again, and ``close()`` only releases the
lease ticket (the NameNode recovers the file when the lease expires). NameNode
calls go through the connection's retries with the same call id, so a leader
change in the middle of a write is invisible here. Not thread-safe.

Imports: ``client.pipeline``, ``client.transfer`` (types only) and ``hafs_api``.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

from client.pipeline import BlockPipeline, SetupFailed
from client.transfer import DataPath
from hafs_api.errors import DeadlineExceeded, HafsError
from hafs_api.v1 import common_pb2
from hafs_api.v1 import namenode_pb2 as pb

log = logging.getLogger(__name__)

SETUP_TRIES = 4
COMPLETE_FIRST_DELAY = 0.01
COMPLETE_MAX_DELAY = 0.4

_PACKETS, _CHUNKS, _ALL = "packets", "chunks", "all"


class FileWriter(io.BufferedIOBase):
    def __init__(
        self,
        dp: DataPath,
        path: str,
        *,
        file_id: int,
        length: int,
        block_size: int,
        bytes_per_checksum: int,
        last_block: common_pb2.LocatedBlock | None = None,
        progress: Callable[[int], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.dp = dp
        self.name = path
        self.mode = "wb"
        self.file_id = file_id
        self.block_size = block_size
        self.bpc = bytes_per_checksum
        self.packet_size = max(dp.packet_size - dp.packet_size % self.bpc, self.bpc)
        self._progress = progress
        self._on_close = on_close
        self._position = length
        self._buffer = bytearray()
        self._reopened = last_block  # Append's partial last block, until its first packet
        self._pipeline: BlockPipeline | None = None
        # bytes of the current block sent (or held, for a reopened block)
        self._block_pos = last_block.block.num_bytes if last_block is not None else 0
        self._previous: common_pb2.Block | None = None  # the last finished block
        self._error: BaseException | None = None
        self._done = False

    # -- io.BufferedIOBase -----------------------------------------------------------

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        """The file length once everything written so far is out."""
        return self._position

    def write(self, data) -> int:  # type: ignore[override]
        self._check_usable()
        view = memoryview(data).cast("B")
        self._buffer += view
        self._position += len(view)
        self._guarded(lambda: self._drain(_PACKETS))
        return len(view)

    def flush(self) -> None:
        """Send the buffered whole chunks (without waiting for their acks)."""
        if self._done or self.closed:
            return
        self._check_usable()
        self._guarded(lambda: self._drain(_CHUNKS))

    def hflush(self) -> None:
        """Send everything written so far and wait until every DataNode has it."""
        self._check_usable()
        self._guarded(lambda: self._sync(fsync=False))

    def hsync(self) -> None:
        """Like ``hflush``, and the DataNodes also write the replica to disk."""
        self._check_usable()
        self._guarded(lambda: self._sync(fsync=True))

    def close(self) -> None:
        """Send the rest, finalize the last block and ``Complete`` the file."""
        if self.closed:
            return
        try:
            if self._error is None:
                self._guarded(self._finish)
        finally:
            self._done = True
            self._release()
            super().close()

    def __del__(self) -> None:
        if not self.closed and not getattr(self, "_done", True):
            log.warning("%s was not closed; it is left to lease recovery", self.name)
            self._release()

    def __repr__(self) -> str:
        return f"<FileWriter {self.name!r} at {self._position}>"

    # -- packets and blocks ----------------------------------------------------------

    def _check_usable(self) -> None:
        if self.closed or self._done:
            raise ValueError(f"I/O operation on closed file {self.name}")
        if self._error is not None:
            raise self._error

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except BaseException as err:
            self._error = err
            if self._pipeline is not None:
                self._pipeline.abort()
            raise

    def _next_packet(self) -> int:
        """The length of the next packet: to the next chunk boundary near packet_size."""
        end = min(self._block_pos + self.packet_size, self.block_size)
        if end < self.block_size:
            end -= end % self.bpc
        return end - self._block_pos

    def _drain(self, mode: str, *, sync: bool = False, final: bool = False) -> None:
        """Send buffered bytes: whole packets, also whole chunks, or everything."""
        while self._buffer:
            size = self._next_packet()
            if len(self._buffer) < size:
                if mode == _PACKETS:
                    return
                if mode == _CHUNKS:
                    whole = self._block_pos + len(self._buffer)
                    size = whole - whole % self.bpc - self._block_pos
                    if size <= 0:
                        return
                else:
                    size = len(self._buffer)
            with memoryview(self._buffer) as view:
                data = bytes(view[:size])
            del self._buffer[:size]  # O(1) at the front of a bytearray
            ends_block = self._block_pos + size == self.block_size
            self._send(data, last=ends_block or (final and not self._buffer), sync=sync)

    def _send(self, data: bytes, *, last: bool, sync: bool = False) -> None:
        if self._pipeline is None:
            self._start_block()
        assert self._pipeline is not None
        self._pipeline.send(data, last=last, sync=sync)
        self._block_pos += len(data)
        if last:
            self._end_block()

    def _sync(self, fsync: bool) -> None:
        self._drain(_ALL, sync=fsync)
        if self._pipeline is None and self._reopened is not None and fsync:
            self._start_block()
        if self._pipeline is not None:
            if fsync:
                self._pipeline.send(b"", sync=True)
            self._pipeline.wait()

    def _finish(self) -> None:
        self._drain(_ALL, final=True)
        if self._pipeline is not None or self._reopened is not None:
            self._send(b"", last=True)  # finalize an open (or reopened) block
        self._complete()

    def _end_block(self) -> None:
        assert self._pipeline is not None
        self._pipeline.wait()
        self._pipeline.close()
        self._previous = self._pipeline.block
        self._pipeline = None
        self._block_pos = 0

    def _start_block(self) -> None:
        if self._reopened is not None:
            located, self._reopened = self._reopened, None
            pipeline = self._new_pipeline(located)
            pipeline.open_append()
            self._pipeline = pipeline
            return
        excluded: list[str] = []
        failures: list[str] = []
        for _ in range(SETUP_TRIES):
            request = pb.AddBlockRequest(
                path=self.name, file_id=self.file_id, excluded_datanodes=excluded
            )
            if self._previous is not None:
                request.previous.CopyFrom(self._previous)
            located = self.dp.namenode.call("AddBlock", request, mutation=True).block
            if not located.locations:
                raise HafsError(
                    "no DataNode is available for a new block"
                    + (f" (excluded: {', '.join(excluded)})" if excluded else ""),
                    self.name,
                )
            pipeline = self._new_pipeline(located)
            try:
                pipeline.open()
            except SetupFailed as failed:
                node = located.locations[min(failed.index, len(located.locations) - 1)]
                failures.append(f"{node.datanode_id} ({node.address}): {failed.reason}")
                log.warning(
                    "%s: block %d: DataNode %s refused the pipeline (%s); abandoning it",
                    self.name,
                    located.block.block_id,
                    node.datanode_id,
                    failed.reason,
                )
                self.dp.namenode.call(
                    "AbandonBlock",
                    pb.AbandonBlockRequest(
                        path=self.name, file_id=self.file_id, block=located.block
                    ),
                    mutation=True,
                )
                excluded.append(node.datanode_id)
                continue
            self._pipeline, self._block_pos = pipeline, 0
            return
        raise HafsError(
            f"could not set up a write pipeline after {SETUP_TRIES} tries: " + "; ".join(failures),
            self.name,
        )

    def _new_pipeline(self, located: common_pb2.LocatedBlock) -> BlockPipeline:
        return BlockPipeline(
            self.dp,
            located,
            path=self.name,
            file_id=self.file_id,
            bytes_per_checksum=self.bpc,
            on_acked=self._progress,
        )

    def _complete(self) -> None:
        request = pb.CompleteRequest(path=self.name, file_id=self.file_id)
        if self._previous is not None:
            request.last.CopyFrom(self._previous)
        delay = COMPLETE_FIRST_DELAY
        start = time.monotonic()
        tries = 0
        while True:
            tries += 1
            completed = self.dp.namenode.call("Complete", request, mutation=True).completed
            if completed:
                return
            waited = time.monotonic() - start
            if waited + delay > self.dp.deadline:
                raise DeadlineExceeded(
                    f"could not close the file: after {tries} tries in {waited:.1f}s the "
                    "NameNode still lacks the replicas of its last block",
                    self.name,
                )
            time.sleep(delay)
            delay = min(delay * 2, COMPLETE_MAX_DELAY)

    def _release(self) -> None:
        if self._pipeline is not None:
            self._pipeline.abort()
            self._pipeline = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


__all__ = ["FileWriter"]
