"""CRC32C chunk checksums: the format shared by clients, DataNodes and meta files.

A block is cut into chunks of ``bytes_per_checksum`` bytes aligned to the
block's start; each chunk has a CRC32C, packed as a big-endian uint32. A piece
of data starting at block offset ``offset`` is cut at chunk boundaries, so a
piece that starts mid-chunk has a first checksum over the bytes up to the next
boundary only; ``extend`` continues a partial chunk's checksum over more bytes.

Imports: the standard library and ``crc32c`` (C-accelerated).
"""

from __future__ import annotations

import struct

import crc32c

from hafs_api.errors import ChecksumMismatch

SUM_BYTES = 4


def pieces(offset: int, length: int, bytes_per_checksum: int) -> list[tuple[int, int]]:
    """``(start, end)`` positions within the data of each chunk piece it covers."""
    out = []
    pos = 0
    first = bytes_per_checksum - offset % bytes_per_checksum
    end = min(first, length)
    while pos < length:
        out.append((pos, end))
        pos = end
        end = min(pos + bytes_per_checksum, length)
    return out


def compute(data: bytes | memoryview, offset: int, bytes_per_checksum: int) -> bytes:
    """The packed checksums of ``data``, which starts at block offset ``offset``."""
    view = memoryview(data)
    sums = [crc32c.crc32c(view[a:b]) for a, b in pieces(offset, len(view), bytes_per_checksum)]
    return struct.pack(f">{len(sums)}I", *sums)


def unpack(checksums: bytes) -> tuple[int, ...]:
    if len(checksums) % SUM_BYTES:
        raise ChecksumMismatch(f"checksum field of {len(checksums)} bytes is not whole uint32s")
    return struct.unpack(f">{len(checksums) // SUM_BYTES}I", checksums)


def verify(
    data: bytes | memoryview, checksums: bytes, offset: int, bytes_per_checksum: int, what: str = ""
) -> None:
    """Raise ``ChecksumMismatch`` naming the first bad chunk, unless every piece matches."""
    view = memoryview(data)
    expected = unpack(checksums)
    spans = pieces(offset, len(view), bytes_per_checksum)
    if len(expected) != len(spans):
        raise ChecksumMismatch(
            f"{what}{len(spans)} chunks of data at offset {offset} came with "
            f"{len(expected)} checksums"
        )
    for (a, b), want in zip(spans, expected, strict=True):
        if crc32c.crc32c(view[a:b]) != want:
            raise ChecksumMismatch(f"{what}checksum mismatch in bytes {offset + a}..{offset + b}")


def extend(crc: int, data: bytes | memoryview) -> int:
    """The CRC32C of (the bytes ``crc`` covers) + ``data``."""
    return crc32c.crc32c(data, crc)


def of(data: bytes | memoryview) -> int:
    return crc32c.crc32c(data)
