"""The ``.meta`` file kept beside each block, and the names of replica files.

A meta file is a 12-byte header, then one big-endian uint32 CRC32C per chunk of
the block (chunks of ``bytes_per_checksum`` bytes aligned to the block start;
the last one covers the partial chunk only)::

    offset 0   4 bytes  magic b"HMET"
    offset 4   uint16   format version (1)
    offset 6   uint16   checksum type (1 = CRC32C)
    offset 8   uint32   bytes_per_checksum
    offset 12  uint32   CRC32C of chunk 0, then chunk 1, ...

A replica is ``blk_<id>_<gs>`` with ``blk_<id>_<gs>.meta`` beside it.

These are plain functions on open file descriptors; callers hold the locks.

Imports: the standard library and ``hafs_api`` (checksum, errors).
"""

from __future__ import annotations

import os
import re
import struct

from hafs_api import checksum
from hafs_api.errors import ChecksumMismatch, InvalidArgument

MAGIC = b"HMET"
FORMAT_VERSION = 1
CRC32C_TYPE = 1
HEADER = struct.Struct(">4sHHI")
HEADER_SIZE = HEADER.size
SUM = struct.Struct(">I")

_NAME = re.compile(r"^blk_(\d+)_(\d+)(\.meta)?$")


def block_name(block_id: int, gen_stamp: int) -> str:
    return f"blk_{block_id}_{gen_stamp}"


def meta_name(block_id: int, gen_stamp: int) -> str:
    return f"blk_{block_id}_{gen_stamp}.meta"


def parse_name(name: str) -> tuple[int, int, bool] | None:
    """``(block_id, gen_stamp, is_meta)`` of a replica file name, else None."""
    m = _NAME.match(name)
    return (int(m[1]), int(m[2]), bool(m[3])) if m else None


def chunks(num_bytes: int, bytes_per_checksum: int) -> int:
    return -(-num_bytes // bytes_per_checksum)


def meta_size(num_bytes: int, bytes_per_checksum: int) -> int:
    return HEADER_SIZE + SUM.size * chunks(num_bytes, bytes_per_checksum)


def sum_offset(chunk: int) -> int:
    return HEADER_SIZE + SUM.size * chunk


def header(bytes_per_checksum: int) -> bytes:
    return HEADER.pack(MAGIC, FORMAT_VERSION, CRC32C_TYPE, bytes_per_checksum)


def read_header(meta_fd: int, what: str = "") -> int:
    """The ``bytes_per_checksum`` of a meta file; ChecksumMismatch if the header is bad."""
    raw = os.pread(meta_fd, HEADER_SIZE, 0)
    if len(raw) != HEADER_SIZE:
        raise ChecksumMismatch(f"{what}meta file has a short header ({len(raw)} bytes)")
    magic, version, kind, bpc = HEADER.unpack(raw)
    if magic != MAGIC or version != FORMAT_VERSION or kind != CRC32C_TYPE or bpc <= 0:
        raise ChecksumMismatch(
            f"{what}bad meta header (magic {magic!r}, version {version}, type {kind}, "
            f"bytes_per_checksum {bpc})"
        )
    return bpc


def read_exact(fd: int, length: int, offset: int, what: str = "") -> bytes:
    """``length`` bytes at ``offset``; ChecksumMismatch if the file is shorter."""
    parts = []
    got = 0
    while got < length:
        part = os.pread(fd, length - got, offset + got)
        if not part:
            raise ChecksumMismatch(
                f"{what}file ends at {offset + got}, expected bytes up to {offset + length}"
            )
        parts.append(part)
        got += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_sums(meta_fd: int, first_chunk: int, count: int, what: str = "") -> bytes:
    """The packed checksums of ``count`` chunks from ``first_chunk``."""
    return read_exact(meta_fd, SUM.size * count, sum_offset(first_chunk), f"{what}meta: ")


def write_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view = view[done:]
        offset += done


def truncate(data_fd: int, meta_fd: int, old_len: int, new_len: int, bpc: int, what="") -> int:
    """Cut a replica to ``new_len`` bytes and return the CRC of its last partial chunk.

    The chunk that the cut falls in is first checked against its stored CRC
    (ChecksumMismatch if it does not match), then its CRC is recomputed over the
    bytes that remain. Nothing is fsynced.
    """
    if not 0 <= new_len <= old_len:
        raise InvalidArgument(f"{what}cannot cut {old_len} bytes to {new_len}")
    last = 0
    if new_len % bpc:
        k = new_len // bpc
        start = k * bpc
        end = min(old_len, start + bpc)
        chunk = read_exact(data_fd, end - start, start, what)
        (stored,) = SUM.unpack(read_sums(meta_fd, k, 1, what))
        if checksum.of(chunk) != stored:
            raise ChecksumMismatch(f"{what}checksum mismatch in bytes {start}..{end}")
        last = checksum.of(chunk[: new_len - start])
        if last != stored:
            write_all(meta_fd, SUM.pack(last), sum_offset(k))
    os.ftruncate(data_fd, new_len)
    os.ftruncate(meta_fd, meta_size(new_len, bpc))
    return last


def consistent_length(data_fd: int, meta_fd: int, bpc: int) -> tuple[int, int]:
    """The longest prefix of a crashed replica that its meta file vouches for.

    Returns ``(length, crc of the last partial chunk)``. The data and meta may
    disagree after a crash: data appended but its CRC not yet written, or the
    other way round. Walks back from the end until a chunk (or a prefix of the
    last chunk) matches its stored CRC.
    """
    data_len = os.fstat(data_fd).st_size
    sums = (os.fstat(meta_fd).st_size - HEADER_SIZE) // SUM.size
    length = min(data_len, sums * bpc)
    while length > 0:
        k = (length - 1) // bpc
        start = k * bpc
        chunk = read_exact(data_fd, length - start, start)
        (want,) = SUM.unpack(read_sums(meta_fd, k, 1))
        if checksum.of(chunk) == want:
            return length, want
        crc, best = 0, 0
        for i in range(len(chunk) - 1):  # the CRC may cover a shorter prefix
            crc = checksum.extend(crc, chunk[i : i + 1])
            if crc == want:
                best = i + 1
        if best:
            return start + best, want
        length = start
    return 0, 0
