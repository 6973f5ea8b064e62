"""DataNode block storage: replicas written, read, reopened, recovered and rescanned on disk."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import threading
from pathlib import Path

import pytest

from datanode import meta
from datanode.storage import ReplicaInfo, Storage
from hafs_api.checksum import compute
from hafs_api.errors import (
    ChecksumMismatch,
    FileAlreadyExists,
    InternalError,
    InvalidArgument,
    LeaseConflict,
    ReplicaNotFound,
    StorageFull,
)

BPC = 16  # small chunks make mid-chunk offsets cheap to reach
POOL = "BP-ns1"


@pytest.fixture
def storage(tmp_path):
    s = Storage([tmp_path / "d1"])
    yield s
    s.close()


def data_of(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def append(writer, data: bytes, cuts=()) -> None:
    """Write ``data`` after what the writer holds, split at the ``cuts`` (relative offsets)."""
    base = writer.num_bytes
    bounds = [0, *cuts, len(data)]
    for a, b in itertools.pairwise(bounds):
        piece = data[a:b]
        writer.write(base + a, piece, compute(piece, base + a, BPC))


def put(pool, block_id: int, data: bytes, gs: int = 1, cuts=()):
    with pool.create(block_id, gs, BPC) as w:
        append(w, data, cuts)
        return w.finalize()


def read(pool, block_id: int, gs: int, offset: int = 0, length: int = 0, max_bytes=1 << 20):
    out = bytearray()
    with pool.reader(block_id, gs) as r:
        first = None
        for pos, data, sums in r.chunks(offset, length, max_bytes):
            first = pos if first is None else first
            assert pos % BPC == 0 and pos == (first + len(out))
            assert sums == compute(data, pos, BPC), "stored checksums must match the data"
            out += data
    return bytes(out), first


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("blk_*")}


@pytest.mark.parametrize("size", [0, 1, BPC - 1, BPC, BPC + 1, 5 * BPC, 5 * BPC + 7, 1000])
def test_round_trip_of_every_size_survives_a_restart(tmp_path, size):
    data = data_of(size)
    with Storage([tmp_path]) as s:
        info = put(s.pool(POOL), 5, data)
        assert (info.num_bytes, info.state, info.gen_stamp) == (size, "FINALIZED", 1)
        assert read(s.pool(POOL), 5, 1)[0] == data
    assert files(tmp_path) == {
        f"current/{POOL}/finalized/subdir00/blk_5_1",
        f"current/{POOL}/finalized/subdir00/blk_5_1.meta",
    }
    with Storage([tmp_path]) as s:
        assert s.pool(POOL).get(5) == info
        assert read(s.pool(POOL), 5, 1)[0] == data
        s.pool(POOL).verify(5, 1)


@pytest.mark.parametrize("cuts", [(3,), (1, 2, 3), (15, 16, 17), (7, 40, 41, 90), (31, 33)])
def test_writes_split_at_odd_offsets_keep_chunk_checksums(storage, cuts):
    data = data_of(100)
    pool = storage.pool(POOL)
    put(pool, 1, data, cuts=cuts)
    assert read(pool, 1, 1)[0] == data
    digest, bpc, chunks, size = pool.block_checksum(1, 1)
    assert digest == hashlib.md5(compute(data, 0, BPC)).digest()
    assert (bpc, chunks, size) == (BPC, 7, 100)


def test_reader_ranges_are_chunk_aligned_and_bounded(storage):
    data = data_of(100)
    pool = storage.pool(POOL)
    put(pool, 1, data)
    assert read(pool, 1, 1, offset=37, length=10) == (data[32:48], 32)
    assert read(pool, 1, 1, offset=99) == (data[96:], 96)
    assert read(pool, 1, 1, offset=100) == (b"", None)
    with pool.reader(1, 1) as r:
        assert [len(d) for _, d, _ in r.chunks(0, max_bytes=40)] == [32, 32, 32, 4]
        with pytest.raises(InvalidArgument):
            r.chunks(101)
    with pytest.raises(ReplicaNotFound):
        pool.reader(1, 2)


def test_a_bad_checksum_is_refused_and_nothing_is_written(storage, tmp_path):
    pool = storage.pool(POOL)
    w = pool.create(1, 1, BPC)
    append(w, data_of(10))
    rbw = tmp_path / "d1" / "current" / POOL / "rbw"
    sizes = {p.name: p.stat().st_size for p in rbw.iterdir()}
    bad = bytearray(compute(b"x" * 20, 10, BPC))
    bad[0] ^= 1
    with pytest.raises(ChecksumMismatch):
        w.write(10, b"x" * 20, bytes(bad))
    with pytest.raises(InvalidArgument):
        w.write(11, b"x", compute(b"x", 11, BPC))
    assert w.num_bytes == 10
    assert {p.name: p.stat().st_size for p in rbw.iterdir()} == sizes
    append(w, b"y" * 20)
    w.finalize()
    assert read(pool, 1, 1)[0] == data_of(10) + b"y" * 20


def test_create_refuses_a_same_or_newer_replica_and_replaces_an_older(storage, tmp_path):
    pool = storage.pool(POOL)
    put(pool, 1, b"old", gs=5)
    for gs in (4, 5):
        with pytest.raises(FileAlreadyExists):
            pool.create(1, gs, BPC)
    put(pool, 1, b"new", gs=6)
    assert read(pool, 1, 6)[0] == b"new"
    assert all("blk_1_5" not in f for f in files(tmp_path))


def test_reopen_for_append_continues_mid_chunk(storage, tmp_path):
    pool = storage.pool(POOL)
    put(pool, 1, data_of(37), gs=1)
    with pytest.raises(InvalidArgument):
        pool.reopen(1, 1, 2, 36)
    with pytest.raises(ReplicaNotFound):
        pool.reopen(1, 3, 4, 37)
    with pytest.raises(ReplicaNotFound):
        pool.reopen(2, 1, 2, 0)
    with pool.reopen(1, 0, 2, 37) as w:
        assert (pool.get(1).state, w.num_bytes) == ("RBW", 37)
        append(w, b"more bytes", cuts=(2,))
        info = w.finalize()
    assert (info.gen_stamp, info.num_bytes) == (2, 47)
    assert read(pool, 1, 2)[0] == data_of(37) + b"more bytes"
    assert {Path(f).name for f in files(tmp_path)} == {"blk_1_2", "blk_1_2.meta"}


def test_reopen_for_pipeline_recovery_truncates_and_fences_the_old_writer(storage):
    pool = storage.pool(POOL)
    old = pool.create(1, 1, BPC)
    append(old, data_of(50))
    with pytest.raises(InvalidArgument):
        pool.reopen(1, 1, 2, 51)
    with pool.reopen(1, 1, 2, 37) as w:
        assert w.num_bytes == 37
        with pytest.raises(ReplicaNotFound):
            old.write(50, b"z", compute(b"z", 50, BPC))
        append(w, b"tail")
        w.finalize()
    old.abort()  # a fenced writer's abort leaves the new replica alone
    assert read(pool, 1, 2)[0] == data_of(50)[:37] + b"tail"


def test_pipeline_recovery_cuts_back_a_replica_finalized_on_the_last_packet(storage):
    # This node finalized the block; the one upstream died before acking: the writer
    # resumes from the length every node acknowledged.
    pool = storage.pool(POOL)
    put(pool, 1, data_of(50), gs=1)
    with pytest.raises(InvalidArgument):  # an append must match the length exactly
        pool.reopen(1, 1, 2, 37)
    with pytest.raises(ReplicaNotFound):  # a recovery names the stamp the replica has
        pool.reopen(1, 7, 8, 37, recovery=True)
    with pool.reopen(1, 1, 2, 37, recovery=True) as w:
        assert (pool.get(1).state, w.num_bytes) == ("RBW", 37)
        append(w, b"tail")
        w.finalize()
    assert read(pool, 1, 2)[0] == data_of(50)[:37] + b"tail"


def test_recovery_of_a_corrupt_chunk_is_refused_and_the_replica_kept(storage, tmp_path):
    pool = storage.pool(POOL)
    w = pool.create(1, 1, BPC)
    append(w, data_of(40))
    w.sync()
    path = tmp_path / "d1" / "current" / POOL / "rbw" / "blk_1_1"
    with open(path, "r+b") as f:
        f.seek(20)
        f.write(b"\xff")
    with pytest.raises(ChecksumMismatch, match=r"bytes 16\.\.32"):
        pool.reopen(1, 1, 2, 24)  # the cut falls in the bad chunk
    assert pool.get(1) == ReplicaInfo(1, 1, 40, "RBW", BPC)
    with pool.reopen(1, 1, 2, 16) as w2:  # a cut before it is fine
        assert w2.num_bytes == 16
    assert storage.usage()[0].used == 16 + meta.meta_size(16, BPC)


def test_recover_truncates_renames_and_finalizes_idempotently(tmp_path):
    with Storage([tmp_path]) as s:
        pool = s.pool(POOL)
        w = pool.create(1, 3, BPC)
        append(w, data_of(50))
        w.close()  # kept as RBW
        with pytest.raises(ReplicaNotFound):
            pool.recover(1, 2, 4, 45)  # the replica is newer than asked
        with pytest.raises(InvalidArgument):
            pool.recover(1, 3, 4, 51)
        info = pool.recover(1, 3, 4, 45)
        assert (info.state, info.gen_stamp, info.num_bytes) == ("FINALIZED", 4, 45)
        assert pool.recover(1, 3, 4, 45) == info
        put(pool, 2, data_of(30))
        assert pool.recover(2, 1, 2, 20).num_bytes == 20
    with Storage([tmp_path]) as s:
        assert s.pool(POOL).get(1) == info
        assert read(s.pool(POOL), 1, 4)[0] == data_of(45)
        assert read(s.pool(POOL), 2, 2)[0] == data_of(20)


def test_delete_only_an_older_or_same_gen_stamp(storage, tmp_path):
    pool = storage.pool(POOL)
    put(pool, 1, b"abc", gs=3)
    assert not pool.delete(1, 2)
    assert pool.delete(1, 3)
    assert pool.get(1) is None and not pool.delete(1, 3)
    assert files(tmp_path) == set()
    assert storage.usage()[0].used == 0


def test_restart_discards_tmp_truncates_rbw_and_removes_orphans(tmp_path):
    s = Storage([tmp_path])
    pool = s.pool(POOL)
    for block_id, size in ((1, 40), (2, 40), (3, 20), (4, 40)):
        w = pool.create(block_id, 1, BPC)
        append(w, data_of(size))
        w.sync()
    append(pool.create(9, 1, BPC, temporary=True), b"half a copy")
    s.close()  # a crash: writers never closed
    base = tmp_path / "current" / POOL
    with open(base / "rbw" / "blk_1_1", "ab") as f:
        f.write(b"garbage past the meta")  # data without its checksums
    meta2 = base / "rbw" / "blk_2_1.meta"
    os.truncate(meta2, meta2.stat().st_size - 4)  # the last chunk's CRC lost
    with open(base / "rbw" / "blk_3_1", "ab") as f:
        f.write(b"12345")  # mid-chunk bytes whose extended CRC never made it
    (base / "finalized" / "subdir00" / "blk_7_1").parent.mkdir(parents=True, exist_ok=True)
    (base / "finalized" / "subdir00" / "blk_7_1").write_bytes(b"data alone")
    (base / "rbw" / "blk_8_1.meta").write_bytes(meta.header(BPC))
    (base / "rbw" / "blk_4_1.meta").rename(base / "finalized" / "subdir00" / "blk_4_1.meta")

    with Storage([tmp_path]) as s:
        pool = s.pool(POOL)
        assert sorted((r.block_id, r.state, r.num_bytes) for r in pool.replicas()) == [
            (1, "RBW", 40),
            (2, "RBW", 32),
            (3, "RBW", 20),
            (4, "FINALIZED", 40),
        ]
        assert read(pool, 1, 1)[0] == data_of(40)
        assert read(pool, 2, 1)[0] == data_of(32)
        assert read(pool, 3, 1)[0] == data_of(20)
        assert read(pool, 4, 1)[0] == data_of(40)
        assert files(base) == {
            "rbw/blk_1_1", "rbw/blk_1_1.meta", "rbw/blk_2_1", "rbw/blk_2_1.meta",
            "rbw/blk_3_1", "rbw/blk_3_1.meta",
            "finalized/subdir00/blk_4_1", "finalized/subdir00/blk_4_1.meta",
        }  # fmt: skip
        with pool.reopen(3, 1, 2, 20) as w:  # the recomputed CRC of the cut chunk holds
            append(w, b"!")
            w.finalize()
        assert read(pool, 3, 2)[0] == data_of(20) + b"!"
        used = sum(p.stat().st_size for p in base.rglob("blk_*"))
        assert s.usage()[0].used == used


def test_capacity_limit_raises_storage_full_and_leaves_nothing(tmp_path):
    with Storage([tmp_path], capacity_bytes=200) as s:
        pool = s.pool(POOL)
        put(pool, 1, data_of(100))
        usage = s.usage()[0]
        assert (usage.capacity, usage.used) == (200, 100 + meta.meta_size(100, BPC))
        assert usage.remaining == 200 - usage.used
        with pytest.raises(StorageFull), pool.create(2, 1, BPC) as w:
            append(w, data_of(50))
            append(w, data_of(50))
        assert pool.get(2) is None
        assert files(tmp_path / "current" / POOL / "rbw") == set()
        assert s.usage()[0].used == 100 + meta.meta_size(100, BPC)


def test_enospc_becomes_storage_full_and_leaves_nothing(storage, tmp_path, monkeypatch):
    pool = storage.pool(POOL)

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StorageFull), pool.create(1, 1, BPC) as w:
        append(w, data_of(10))
        monkeypatch.setattr(os, "pwrite", full)
        append(w, data_of(30))
    monkeypatch.undo()
    assert pool.get(1) is None and files(tmp_path) == set()
    assert storage.usage()[0].used == 0 and storage.failed_volumes() == 0


def test_new_replicas_go_round_robin_over_volumes(tmp_path):
    with Storage([tmp_path / "a", tmp_path / "b"]) as s:
        for block_id in range(4):
            put(s.pool(POOL), block_id, b"x")
        assert {Path(f).name for f in files(tmp_path / "a")} == {
            "blk_0_1", "blk_0_1.meta", "blk_2_1", "blk_2_1.meta",
        }  # fmt: skip
        assert [u.used for u in s.usage()] == [2 * (1 + meta.meta_size(1, BPC))] * 2


def test_a_failing_volume_is_marked_and_the_others_keep_serving(tmp_path, monkeypatch):
    with Storage([tmp_path / "a", tmp_path / "b"]) as s:
        pool = s.pool(POOL)
        put(pool, 1, b"on a")
        put(pool, 2, b"on b")
        w = pool.create(3, 1, BPC)  # on a again

        def broken(fd, data, offset):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "pwrite", broken)
        with pytest.raises(InternalError, match="failed"):
            append(w, b"x")
        monkeypatch.undo()
        assert s.failed_volumes() == 1
        assert [u.failed for u in s.usage()] == [True, False]
        assert [r.block_id for r in pool.replicas()] == [2]
        assert read(pool, 2, 1)[0] == b"on b"
        put(pool, 4, b"still works")
        assert (tmp_path / "b" / "current" / POOL / "finalized" / "subdir00" / "blk_4_1").exists()


def test_a_second_storage_on_the_same_directory_is_refused(tmp_path):
    with Storage([tmp_path / "a"]), pytest.raises(LeaseConflict, match="in use"):
        Storage([tmp_path / "b", tmp_path / "a"])
    Storage([tmp_path / "a"]).close()  # the lock was released


def test_directories_of_different_datanodes_are_refused(tmp_path):
    with Storage([tmp_path / "a"]) as s:
        first = s.datanode_id
    with Storage([tmp_path / "b"]):
        pass
    with pytest.raises(InvalidArgument, match="different DataNodes"):
        Storage([tmp_path / "a", tmp_path / "b"])
    with Storage([tmp_path / "a", tmp_path / "c"]) as s:  # a new empty dir joins
        assert s.datanode_id == first
    (tmp_path / "c" / "VERSION").write_text('{"datanode_id": "x", "layout_version": 99}')
    with pytest.raises(InvalidArgument, match="layout version"):
        Storage([tmp_path / "c"])


def test_block_checksum_and_verify(storage, tmp_path):
    pool = storage.pool(POOL)
    data = data_of(70)
    put(pool, 1, data)
    assert pool.block_checksum(1, 1) == (hashlib.md5(compute(data, 0, BPC)).digest(), BPC, 5, 70)
    pool.create(2, 1, BPC).close()
    with pytest.raises(ReplicaNotFound):
        pool.block_checksum(2, 1)
    path = tmp_path / "d1" / "current" / POOL / "finalized" / "subdir00" / "blk_1_1"
    raw = bytearray(path.read_bytes())
    raw[50] ^= 0xFF
    path.write_bytes(raw)
    with pytest.raises(ChecksumMismatch, match=r"bytes 48\.\.64"):
        pool.verify(1, 1)


def test_many_writers_and_a_reader_of_a_replica_being_written(storage):
    pool = storage.pool(POOL)
    errors = []

    def writer(block_id):
        try:
            put(pool, block_id, data_of(300, block_id), cuts=range(7, 300, 13))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    w = pool.create(100, 1, BPC)
    append(w, data_of(20))
    with pool.reader(100, 1) as r:
        append(w, b"abc")  # the partial chunk's CRC on disk now covers more bytes
        (pos, data, sums), *_ = list(r.chunks(16))
        assert (pos, data, sums) == (16, data_of(20)[16:], compute(data_of(20)[16:], 16, BPC))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(8):
        assert read(pool, i, 1)[0] == data_of(300, i)


def test_of_two_copies_on_different_volumes_the_newer_is_kept(tmp_path):
    with Storage([tmp_path / "a", tmp_path / "b"]) as s:
        put(s.pool(POOL), 1, b"old copy", gs=1)  # on a
    src = tmp_path / "a" / "current" / POOL / "finalized" / "subdir00"
    dest = tmp_path / "b" / "current" / POOL / "finalized" / "subdir00"
    dest.mkdir(parents=True)
    for suffix in ("", ".meta"):
        (dest / f"blk_1_2{suffix}").write_bytes((src / f"blk_1_1{suffix}").read_bytes())
    with Storage([tmp_path / "a", tmp_path / "b"]) as s:
        assert [(r.block_id, r.gen_stamp) for r in s.pool(POOL).replicas()] == [(1, 2)]
        assert files(tmp_path / "a") == set()
        assert [u.used for u in s.usage()] == [0, 8 + meta.meta_size(8, BPC)]
