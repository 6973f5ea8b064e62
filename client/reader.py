"""``FileReader``: a seekable, checksum-verified, failover-aware file reader.

``Client.open(path, "rb")`` wraps it in an ``io.BufferedReader``. It asks the
NameNode for the block locations once (more if the file is long and the answer
stops short), then reads each block through one ``ReadBlock`` stream kept open
to the block's end while reads are sequential; a seek elsewhere reopens it.

Every ``ReadChunk`` is checked (its offset on a chunk boundary and where the
previous one ended, its CRC32C sums with ``hafs_api.checksum.verify``) and
trimmed to the bytes asked for. A failing replica is left for the next
location, nearest first, at the same position:

* a checksum mismatch is reported to the NameNode (``ReportBadBlocks``);
* an unreachable or failing DataNode is also tried last for later blocks;
* when every location failed, the block's locations are fetched again once
  and the ones not found corrupt are tried again; then ``BlockMissing`` names
  the block and what each location said.

``file_checksum`` computes the HDFS-style MD5-of-MD5-of-CRC32C file checksum
from the DataNodes' per-block MD5s, failing over between locations.

Imports: ``client.transfer`` (the channels), ``client.types`` and ``hafs_api``.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import logging
from dataclasses import dataclass, field

from client.transfer import ChunkStream, DataPath
from client.types import FileChecksum
from hafs_api import checksum
from hafs_api.errors import BlockMissing, ChecksumMismatch, HafsError, InternalError, IsADirectory
from hafs_api.v1 import common_pb2
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import namenode_pb2 as pb

log = logging.getLogger(__name__)

MIN_RATE = 1 << 20  # bytes/s a ReadBlock stream must keep up, on top of the base timeout


def locate(dp: DataPath, path: str, offset: int = 0, length: int = 0):
    """``GetBlockLocations``; ``IsADirectory`` for a directory."""
    request = pb.GetBlockLocationsRequest(path=path, offset=offset, length=length)
    resp = dp.namenode.call("GetBlockLocations", request, mutation=False)
    if resp.status.kind == common_pb2.DIRECTORY:
        raise IsADirectory("is a directory", path)
    return resp


def _describe(node: common_pb2.DatanodeInfo) -> str:
    return f"{node.datanode_id} ({node.address})"


@dataclass
class _Visit:
    """The reader's attempts at one block: which locations failed, and how."""

    located: common_pb2.LocatedBlock
    failures: dict[str, str] = field(default_factory=dict)  # datanode id -> what it said
    corrupt: set[str] = field(default_factory=set)
    said: list[str] = field(default_factory=list)
    refetched: bool = False


class _ReplicaStream:
    """One ``ReadBlock`` call from ``start`` to ``end`` (block offsets), verified and trimmed."""

    def __init__(self, chunks: ChunkStream, node: common_pb2.DatanodeInfo, start: int, end: int):
        self.chunks = chunks
        self.node = node
        self.pos = start  # the block offset of the next byte to hand out
        self.end = end
        self._expected: int | None = None  # where the next chunk must start
        self._pending = memoryview(b"")

    def take(self, limit: int, block_id: int) -> memoryview:
        while not self._pending:
            self._pending = self._next_piece(block_id)
        piece, self._pending = self._pending[:limit], self._pending[limit:]
        self.pos += len(piece)
        return piece

    def _next_piece(self, block_id: int) -> memoryview:
        try:
            chunk = next(self.chunks)
        except StopIteration:
            raise InternalError(
                f"DataNode {_describe(self.node)} ended block {block_id} at byte "
                f"{self._expected}, before byte {self.end}"
            ) from None
        bpc = chunk.bytes_per_checksum
        start = self._expected if self._expected is not None else self.pos
        if bpc == 0 or chunk.offset % bpc or not start - bpc < chunk.offset <= start:
            raise InternalError(
                f"DataNode {_describe(self.node)} sent block {block_id} bytes from "
                f"{chunk.offset} (chunks of {bpc}) where byte {start} was due"
            )
        what = f"block {block_id} on DataNode {_describe(self.node)}: "
        checksum.verify(chunk.data, chunk.checksums, chunk.offset, bpc, what)
        self._expected = chunk.offset + len(chunk.data)
        data = memoryview(chunk.data)
        return data[self.pos - chunk.offset : max(self.end - chunk.offset, 0)]


class FileReader(io.RawIOBase):
    def __init__(self, dp: DataPath, path: str) -> None:
        super().__init__()
        self.dp = dp
        self.name = path
        self.mode = "rb"
        self._stream: _ReplicaStream | None = None
        resp = locate(dp, path)
        self._blocks = sorted(resp.blocks, key=lambda b: b.offset)
        last_end = max((b.offset + b.block.num_bytes for b in self._blocks), default=0)
        self.length = max(resp.status.length, last_end)
        self._pos = 0
        self._visit: _Visit | None = None
        self._suspect: set[str] = set()  # DataNodes that failed us: tried last

    # -- io.RawIOBase -------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence!r}")
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.length:
            try:
                piece = self._piece(len(view) - done)
            except HafsError:
                if done:
                    break  # hand out what was read; the error comes back on the next call
                raise
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done

    def readall(self) -> bytes:
        buffer = bytearray(max(self.length - self._pos, 0))
        done = 0
        while done < len(buffer):
            got = self.readinto(memoryview(buffer)[done:])
            if not got:
                break
            done += got
        del buffer[done:]
        return bytes(buffer)

    def close(self) -> None:
        self._drop_stream()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed file {self.name}")

    # -- blocks and replicas ---------------------------------------------------------

    def _piece(self, limit: int) -> memoryview:
        """Bytes from ``self._pos`` on (at most ``limit``), from the current block."""
        stream = self._stream
        if (
            stream is None
            or self._visit is None
            or stream.pos >= stream.end
            or self._visit.located.offset + stream.pos != self._pos
        ):
            self._drop_stream()
            self._visit = _Visit(self._locate(self._pos))
            stream = self._connect_or_give_up()
        block_id = self._visit.located.block.block_id
        while True:
            try:
                return stream.take(limit, block_id)
            except HafsError as err:
                self._failed(stream, err)
                stream = self._connect_or_give_up()

    def _connect_or_give_up(self) -> _ReplicaStream:
        try:
            return self._connect()
        except BlockMissing:
            self._drop_stream()
            self._visit = None  # a later read starts over, with fresh locations
            raise

    def _locate(self, pos: int) -> common_pb2.LocatedBlock:
        for attempt in range(2):
            index = bisect.bisect_right([b.offset for b in self._blocks], pos) - 1
            if index >= 0:
                located = self._blocks[index]
                if pos < located.offset + located.block.num_bytes:
                    return located
            if attempt == 0:
                self._merge(locate(self.dp, self.name, pos, 0).blocks)
        raise InternalError(f"the NameNode returned no block holding byte {pos}", self.name)

    def _merge(self, blocks) -> None:
        known = {b.block.block_id: b for b in self._blocks}
        known.update((b.block.block_id, b) for b in blocks)
        self._blocks = sorted(known.values(), key=lambda b: b.offset)

    def _connect(self) -> _ReplicaStream:
        """A stream at ``self._pos`` from the next location of the block not yet failed."""
        visit = self._visit
        assert visit is not None
        located = visit.located
        while True:
            nodes = [n for n in located.locations if n.datanode_id not in visit.failures]
            nodes.sort(key=lambda n: n.datanode_id in self._suspect)
            if nodes:
                self._stream = self._open_replica(located, nodes[0])
                return self._stream
            if visit.refetched:
                said = "; ".join(visit.said) or "the NameNode knows no location"
                raise BlockMissing(
                    f"could not read block {located.block.block_id} (bytes {located.offset}.."
                    f"{located.offset + located.block.num_bytes} of the file) from any "
                    f"location: {said}",
                    self.name,
                )
            visit.refetched = True
            located = visit.located = self._refetch(located)
            visit.failures = {dn: why for dn, why in visit.failures.items() if dn in visit.corrupt}

    def _open_replica(
        self, located: common_pb2.LocatedBlock, node: common_pb2.DatanodeInfo
    ) -> _ReplicaStream:
        start = self._pos - located.offset
        end = min(located.block.num_bytes, self.length - located.offset)
        request = dt.ReadBlockRequest(
            block_pool=located.block_pool or self.dp.block_pool,
            block=common_pb2.Block(
                block_id=located.block.block_id, gen_stamp=located.block.gen_stamp
            ),
            offset=start,
            length=end - start,
            access_token=located.access_token,
            client_name=self.dp.client_name,
        )
        timeout = self.dp.datanodes.timeout + (end - start) / MIN_RATE
        chunks = self.dp.datanodes.read_block(node.address, request, timeout)
        return _ReplicaStream(chunks, node, start, end)

    def _failed(self, stream: _ReplicaStream, err: HafsError) -> None:
        visit = self._visit
        assert visit is not None
        stream.chunks.cancel()
        node = stream.node
        visit.failures[node.datanode_id] = str(err)
        visit.said.append(f"{_describe(node)}: {err}")
        log.warning("%s: reading from DataNode %s failed: %s", self.name, node.datanode_id, err)
        if isinstance(err, ChecksumMismatch):
            visit.corrupt.add(node.datanode_id)
            self._report_corrupt(visit.located, node)
        else:
            self._suspect.add(node.datanode_id)

    def _report_corrupt(
        self, located: common_pb2.LocatedBlock, node: common_pb2.DatanodeInfo
    ) -> None:
        replica = pb.BadReplica(block=located.block, datanode_id=node.datanode_id)
        try:
            self.dp.namenode.call(
                "ReportBadBlocks", pb.ReportBadBlocksRequest(replicas=[replica]), mutation=True
            )
        except HafsError as err:
            log.warning("%s: could not report a corrupt replica: %s", self.name, err)

    def _refetch(self, located: common_pb2.LocatedBlock) -> common_pb2.LocatedBlock:
        try:
            blocks = locate(self.dp, self.name, located.offset, 1).blocks
        except HafsError as err:
            log.warning("%s: could not refetch block locations: %s", self.name, err)
            return located
        self._merge(blocks)
        same = [b for b in blocks if b.block.block_id == located.block.block_id]
        return same[0] if same else located

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.chunks.cancel()
            self._stream = None


def file_checksum(dp: DataPath, path: str, default_bpc: int) -> FileChecksum:
    """MD5 over the blocks' MD5s of their CRC32C sums; ``BlockMissing`` if a block fails."""
    resp = locate(dp, path)
    digests: list[bytes] = []
    bpc = 0
    for located in sorted(resp.blocks, key=lambda b: b.offset):
        if located.block.num_bytes == 0:
            continue
        answer = _block_checksum(dp, path, located)
        digests.append(answer.md5)
        bpc = bpc or answer.bytes_per_checksum
    bpc = bpc or default_bpc
    return FileChecksum(
        algorithm=f"MD5-of-{len(digests)}MD5-of-{bpc}CRC32C",
        value=hashlib.md5(b"".join(digests)).digest(),
        length=resp.status.length,
    )


def _block_checksum(
    dp: DataPath, path: str, located: common_pb2.LocatedBlock
) -> dt.BlockChecksumResponse:
    block = located.block
    request = dt.BlockChecksumRequest(
        block_pool=located.block_pool or dp.block_pool,
        block=common_pb2.Block(block_id=block.block_id, gen_stamp=block.gen_stamp),
        access_token=located.access_token,
    )
    said = []
    for node in located.locations:
        try:
            answer = dp.datanodes.block_checksum(node.address, request)
        except HafsError as err:
            said.append(f"{_describe(node)}: {err}")
            continue
        if answer.num_bytes != block.num_bytes:
            said.append(f"{_describe(node)}: has {answer.num_bytes} bytes, not {block.num_bytes}")
            continue
        return answer
    raise BlockMissing(
        f"no checksum of block {block.block_id} from any location: "
        + ("; ".join(said) or "the NameNode knows no location"),
        path,
    )


__all__ = ["FileReader", "file_checksum", "locate"]
