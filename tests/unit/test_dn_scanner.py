"""The block scanner: finds flipped bytes in finalized replicas, reports each once, throttles."""

from __future__ import annotations

import threading
import time

import pytest

from datanode.scanner import BlockScanner
from datanode.storage import Storage
from hafs_api.checksum import compute

BPC = 64
POOL = "BP-ns1"


@pytest.fixture
def storage(tmp_path):
    s = Storage([tmp_path])
    yield s
    s.close()


def put(pool, block_id: int, data: bytes, gs: int = 1) -> None:
    with pool.create(block_id, gs, BPC) as w:
        w.write(0, data, compute(data, 0, BPC))
        w.finalize()


def flip(tmp_path, block_id: int, gs: int, offset: int) -> None:
    path = tmp_path / "current" / POOL / "finalized" / "subdir00" / f"blk_{block_id}_{gs}"
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(raw)


def test_a_flipped_byte_is_reported_once_per_replica_and_gen_stamp(storage, tmp_path):
    pool = storage.pool(POOL)
    for block_id in range(3):
        put(pool, block_id, bytes([block_id]) * 1000)
    pool.create(9, 1, BPC).close()  # an RBW replica is not scanned
    storage.pool("BP-ns2")  # an empty pool
    reports = []
    scanner = BlockScanner(storage, lambda *r: reports.append(r), period_s=60, bytes_per_second=0)
    assert scanner.scan_once() == 3 and reports == []

    flip(tmp_path, 1, 1, 700)
    assert scanner.scan_once() == 3
    assert scanner.scan_once() == 3
    assert len(reports) == 1
    pool_name, replica, reason = reports[0]
    assert (pool_name, replica.block_id, replica.gen_stamp) == (POOL, 1, 1)
    assert "bytes 640..704" in reason

    pool.delete(1, 1)  # replaced by a new copy that goes bad too: a new report
    put(pool, 1, b"\x01" * 1000, gs=2)
    flip(tmp_path, 1, 2, 5)
    scanner.scan_once()
    assert [(r[1].block_id, r[1].gen_stamp) for r in reports] == [(1, 1), (1, 2)]


def test_a_replica_deleted_mid_scan_is_skipped(storage):
    pool = storage.pool(POOL)
    for block_id in range(4):
        put(pool, block_id, b"x" * 500)
    listed = pool.replicas()
    pool.delete(2, 1)
    pool.replicas = lambda: listed  # the scan works from a list taken before the delete
    reports = []
    scanner = BlockScanner(storage, lambda *r: reports.append(r), period_s=60, bytes_per_second=0)
    assert scanner.scan_once() == 3
    assert reports == []


def test_a_failing_callback_does_not_stop_the_scan(storage, tmp_path):
    pool = storage.pool(POOL)
    put(pool, 1, b"a" * 100)
    put(pool, 2, b"b" * 100)
    flip(tmp_path, 1, 1, 0)
    flip(tmp_path, 2, 1, 0)
    seen = []

    def explode(pool_name, replica, reason):
        seen.append(replica.block_id)
        raise RuntimeError("the NameNode is away")

    assert BlockScanner(storage, explode, period_s=60, bytes_per_second=0).scan_once() == 2
    assert sorted(seen) == [1, 2]


def test_the_scan_is_throttled(storage):
    pool = storage.pool(POOL)
    put(pool, 1, b"z" * 6000)
    scanner = BlockScanner(storage, lambda *r: None, period_s=60, bytes_per_second=30_000)
    started = time.monotonic()
    scanner.scan_once()
    assert time.monotonic() - started >= 0.15  # 6000 bytes at 30 kB/s is 0.2 s


def test_the_thread_scans_every_period_and_stops_promptly(storage, tmp_path):
    pool = storage.pool(POOL)
    put(pool, 1, b"q" * 300)
    reported = threading.Event()
    scanner = BlockScanner(
        storage, lambda *r: reported.set(), period_s=0.02, bytes_per_second=1 << 30
    )
    scanner.start()
    try:
        time.sleep(0.05)
        flip(tmp_path, 1, 1, 299)
        assert reported.wait(5)
    finally:
        started = time.monotonic()
        scanner.stop()
    assert time.monotonic() - started < 2


def test_stop_interrupts_a_throttled_pass(storage):
    put(storage.pool(POOL), 1, b"s" * 100_000)
    scanner = BlockScanner(storage, lambda *r: None, period_s=60, bytes_per_second=1000)
    scanner.start()
    time.sleep(0.1)
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 2
