"""The start-up scan of one block pool on one volume: what survived the last run.

- ``tmp/`` holds unfinished replication copies: all of it is discarded.
- ``rbw/`` replicas are kept, cut to the longest prefix their meta vouches for
  (a crash can leave data without its CRC, or a CRC without its data).
- A replica is renamed or moved meta first, then data. A crash in between
  leaves a meta file without data and a data file without meta for the same
  block; when that is the only pair of halves of a block, the data is moved to
  where its meta went. Every other half (data or meta alone) is removed.
- ``finalized/`` replicas are taken as they are; the block scanner checks them.

Imports: the standard library, ``hafs_api.errors`` and ``datanode`` (meta, replica, volume).
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from pathlib import Path

from datanode import meta
from datanode.replica import FINALIZED, RBW, Replica, close_fds
from datanode.volume import Volume
from hafs_api.errors import ChecksumMismatch

log = logging.getLogger(__name__)

Key = tuple[Path, int, int]  # (directory, block id, gen stamp)


def scan(volume: Volume, pool: str, counts: Counter) -> list[Replica]:
    """The replicas of ``pool`` on ``volume``, with ``disk_bytes`` set; tallies ``counts``."""
    tmp = volume.pool_dir(pool, "tmp")
    if tmp.is_dir():
        for entry in os.scandir(tmp):
            if entry.is_file(follow_symlinks=False):
                counts["tmp discarded"] += not entry.name.endswith(".meta")
                os.unlink(entry.path)
    halves: dict[Key, dict[bool, Path]] = defaultdict(dict)
    for directory in _replica_dirs(volume, pool):
        for entry in os.scandir(directory):
            parsed = meta.parse_name(entry.name)
            if parsed and entry.is_file(follow_symlinks=False):
                block_id, gen_stamp, is_meta = parsed
                halves[(directory, block_id, gen_stamp)][is_meta] = Path(entry.path)
    whole = [key for key, found in halves.items() if len(found) == 2]
    whole += _rejoin(halves, counts)
    for found in halves.values():
        if len(found) == 1:
            (path,) = found.values()
            log.warning("%s: removing %s: its other half is missing", pool, path)
            path.unlink()
            counts["orphans removed"] += 1
    found = []
    for key in sorted(whole, key=lambda k: (k[1], k[2])):
        rec = _load(volume, pool, *key, counts)
        if rec is not None:
            found.append(rec)
    return found


def _replica_dirs(volume: Volume, pool: str) -> list[Path]:
    finalized = volume.pool_dir(pool, "finalized")
    dirs = [volume.pool_dir(pool, "rbw"), finalized]
    if finalized.is_dir():
        dirs += sorted(p for p in finalized.iterdir() if p.is_dir())
    return [d for d in dirs if d.is_dir()]


def _rejoin(halves: dict[Key, dict[bool, Path]], counts: Counter) -> list[Key]:
    """Finish the moves a crash interrupted (meta moved, data not yet); the keys made whole."""
    lone: dict[int, list[tuple[Key, bool]]] = defaultdict(list)
    for key, found in halves.items():
        if len(found) == 1:
            lone[key[1]].append((key, next(iter(found))))
    made = []
    for pair in lone.values():
        if len(pair) != 2 or pair[0][1] == pair[1][1]:
            continue
        (data_key, _), (meta_key, _) = sorted(pair, key=lambda kv: kv[1])
        if meta_key[2] < data_key[2]:
            continue
        src = halves.pop(data_key)[False]
        dest = meta_key[0] / meta.block_name(meta_key[1], meta_key[2])
        os.rename(src, dest)
        halves[meta_key][False] = dest
        made.append(meta_key)
        counts["moves finished"] += 1
    return made


def _load(
    volume: Volume, pool: str, directory: Path, block_id: int, gen_stamp: int, counts: Counter
) -> Replica | None:
    state = RBW if directory.name == "rbw" else FINALIZED
    rec = Replica(block_id, gen_stamp, state, 0, 0, volume, directory)
    flags = os.O_RDWR if state == RBW else os.O_RDONLY
    data_fd = meta_fd = None
    try:
        data_fd = os.open(rec.data_path, flags)
        meta_fd = os.open(rec.meta_path, flags)
        try:
            bpc = meta.read_header(meta_fd, f"{rec.meta_path}: ")
        except ChecksumMismatch as exc:
            log.warning("%s: removing %s: %s", pool, rec.name, exc)
            rec.data_path.unlink()
            rec.meta_path.unlink()
            counts["orphans removed"] += 2
            return None
        rec.bytes_per_checksum = bpc
        data_size = os.fstat(data_fd).st_size
        meta_bytes = os.fstat(meta_fd).st_size
        if state == RBW:
            length, rec.last_crc = meta.consistent_length(data_fd, meta_fd, bpc)
            if (length, meta.meta_size(length, bpc)) != (data_size, meta_bytes):
                log.warning("%s: %s cut from %d to %d bytes, its checksum-consistent length",
                            pool, rec.name, data_size, length)  # fmt: skip
                os.ftruncate(data_fd, length)
                os.ftruncate(meta_fd, meta.meta_size(length, bpc))
                os.fsync(data_fd)
                os.fsync(meta_fd)
                counts["rbw truncated"] += 1
            data_size, meta_bytes = length, meta.meta_size(length, bpc)
            counts["rbw"] += 1
        else:
            if meta_bytes != meta.meta_size(data_size, bpc):
                log.warning("%s: %s has %d meta bytes for %d data bytes; left for the scanner",
                            pool, rec.name, meta_bytes, data_size)  # fmt: skip
            counts["finalized"] += 1
        rec.num_bytes = data_size
        rec.disk_bytes = data_size + meta_bytes
        return rec
    finally:
        close_fds(data_fd, meta_fd)
