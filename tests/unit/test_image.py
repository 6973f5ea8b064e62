"""Images of a SqlStore (write, prune, restore, refuse), and what the SqlStore does beyond
the store contract: concurrency, reopening, misuse and failures of the disk."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import ROOT_ID, Block, Inode, Kind, Lease
from ha_namenode.namespace.store import NEXT_INODE, Store, StoreFailure, StoreTxn, StoreView, walk
from ha_namenode.persistence import SqlStore, latest_image, restore_image, write_image
from ha_namenode.persistence.image import images

SEED_FILES = 5000
FIRST_ID = 1_000_000


def node(inode_id: int, parent: int, name: str, kind: Kind = Kind.FILE, **kw: object) -> Inode:
    return Inode(inode_id, parent, name, kind, 0o644, "alice", "staff", 1, 1, **kw)


def seed(txn: StoreTxn) -> None:
    txn.put_inode(node(ROOT_ID, 0, "", Kind.DIR, children=SEED_FILES))
    for i in range(SEED_FILES):
        txn.put_inode(node(2 + i, ROOT_ID, f"seed-{i:05d}", length=i))
    txn.set_meta(NEXT_INODE, 2 + SEED_FILES)


def apply(txn: StoreTxn, index: int) -> None:
    """What log entry ``index`` (>= 2) does; deterministic, so any prefix can be replayed."""
    txn.put_inode(node(FIRST_ID + index, ROOT_ID, f"w-{index:06d}", holder=f"c{index % 7}"))
    txn.update_inode(ROOT_ID, {"children": SEED_FILES + index - 1})
    txn.put_block(Block(index, FIRST_ID + index, 0, index, 64))
    txn.put_lease(Lease(f"c{index % 7}", index))
    txn.put_retry("client", index, index.to_bytes(4, "big"), index)
    txn.set_meta(NEXT_INODE, FIRST_ID + index + 1)


def replay(store: Store, upto: int) -> Store:
    with store.write(1) as txn:
        seed(txn)
    for index in range(2, upto + 1):
        with store.write(index) as txn:
            apply(txn, index)
    return store


def state(store: Store) -> dict[str, object]:
    """Everything the interface can see of a store built by ``replay``."""
    with store.read() as view:
        nodes = list(walk(view, view.inode(ROOT_ID), page=997))
        return {
            "applied": view.applied_index(),
            "inodes": sorted(nodes, key=lambda n: n.id),
            "blocks": {n.id: view.blocks(n.id) for n in nodes if view.blocks(n.id)},
            "leases": view.leases_renewed_before(2**62),
            "held": {h: [n.id for n in view.files_held_by(h)] for h in map("c{}".format, range(7))},
            "retry": [view.retry_result("client", i) for i in range(view.applied_index() + 2)],
            "meta": view.meta(NEXT_INODE),
        }


def tables(path: Path) -> dict[str, list[tuple]]:
    uri = path.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in names}


# ---- imaging under load ---------------------------------------------------------------


def test_image_while_writing_then_restore(tmp_path: Path) -> None:
    store = replay(SqlStore(tmp_path / "live.db"), 1)
    commits: list[tuple[float, float]] = []
    failures: list[BaseException] = []

    def writer() -> None:
        deadline = time.monotonic() + 5
        try:
            for index in range(2, 302):
                if time.monotonic() > deadline:
                    break
                started = time.perf_counter()
                with store.write(index) as txn:
                    apply(txn, index)
                commits.append((started, time.perf_counter()))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    while store.applied_index() < 20 and thread.is_alive():
        time.sleep(0.001)
    before, started = store.applied_index(), time.perf_counter()
    info = write_image(store, tmp_path / "images")
    ended, after = time.perf_counter(), store.applied_index()
    thread.join(30)
    assert not failures and not thread.is_alive()
    assert before <= info.applied_index <= after
    assert info.path == tmp_path / "images" / f"image-{info.applied_index:020d}.db"
    assert info.size_bytes == info.path.stat().st_size > 0
    stall = max((e - s for s, e in commits if s < ended and e > started), default=0.0)
    print(
        f"image of {info.applied_index} entries in {ended - started:.3f}s, "
        f"{after - before} commits meanwhile, longest commit {stall * 1000:.1f} ms"
    )

    # The image holds exactly the entries up to its own applied index.
    image_tables = tables(info.path)
    written = [r for r in image_tables["inodes"] if r[0] > FIRST_ID]
    assert [r[0] - FIRST_ID for r in written] == list(range(2, info.applied_index + 1))
    assert dict(image_tables["meta"])[NEXT_INODE] == FIRST_ID + info.applied_index + 1

    # Restored, it is the state of a reference store that replayed the same prefix.
    live = tmp_path / "restored" / "live.db"
    assert restore_image(info.path, live) == info.applied_index
    restored = SqlStore(live)
    try:
        assert restored.applied_index() == info.applied_index
        assert state(restored) == state(replay(MemoryStore(), info.applied_index))
    finally:
        restored.close()
        store.close()
    assert tables(live) == image_tables


def test_reopen_keeps_committed_state(tmp_path: Path) -> None:
    store = replay(SqlStore(tmp_path / "live.db", synchronous="NORMAL"), 12)
    expected = state(store)
    store.close()
    reopened = SqlStore(tmp_path / "live.db")
    try:
        assert reopened.applied_index() == 12 and state(reopened) == expected
    finally:
        reopened.close()
    with pytest.raises(ValueError, match="synchronous"):
        SqlStore(tmp_path / "other.db", synchronous="SOMETIMES")


def test_many_readers_and_the_writer_do_not_wait_for_each_other(tmp_path: Path) -> None:
    store = replay(SqlStore(tmp_path / "live.db"), 1)
    readers = 20  # more than the pool keeps
    all_open, committed = threading.Barrier(readers + 1), threading.Event()
    seen: list[tuple[int, int, bool]] = []

    def reader() -> None:
        with store.read() as view:
            first = view.applied_index()
            all_open.wait(10)
            ok = committed.wait(10)
            seen.append((first, view.applied_index(), ok))

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for thread in threads:
        thread.start()
    all_open.wait(10)
    with store.write(2) as txn:  # twenty open snapshots, and the commit goes through
        apply(txn, 2)
    committed.set()
    for thread in threads:
        thread.join(10)
    assert seen == [(1, 1, True)] * readers
    with store.read() as view:
        assert view.applied_index() == 2
    store.close()


def test_misuse_is_refused(tmp_path: Path) -> None:
    store = replay(SqlStore(tmp_path / "live.db"), 1)
    with store.write(2) as txn:
        with pytest.raises(RuntimeError, match="re-entrant"), store.write(3):
            pytest.fail("a nested write must not open")
        apply(txn, 2)
    with pytest.raises(RuntimeError, match="ended"):
        txn.put_lease(Lease("late", 1))  # would otherwise commit outside any batch
    with store.read() as view:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        view.inode(ROOT_ID)
    store.close()
    store.close()
    with pytest.raises(StoreFailure, match="closed"), store.read():
        pytest.fail("a closed store must not read")
    assert store.applied_index() == 2


# ---- image files ------------------------------------------------------------------------


def test_keep_prunes_older_images(tmp_path: Path) -> None:
    dest = tmp_path / "images"
    assert latest_image(dest) is None
    store = SqlStore(tmp_path / "live.db", synchronous="OFF")
    try:
        written = []
        for index in range(1, 5):
            with store.write(index) as txn:
                txn.set_meta("n", index)
            written.append(write_image(store, dest).path)
            assert images(dest) == written[-2:]
        assert latest_image(dest) == written[-1] == dest / f"image-{4:020d}.db"
        again = write_image(store, dest)  # nothing new: the same name, replaced
        assert again.path == written[-1] and images(dest) == written[-2:]
        write_image(store, dest, keep=1)
        assert images(dest) == [written[-1]]
        with pytest.raises(ValueError, match="keep"):
            write_image(store, dest, keep=0)
        assert [p.name for p in dest.iterdir()] == [written[-1].name]  # no temp files left
    finally:
        store.close()


def test_restore_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    replay(SqlStore(live), 3).close()
    before = live.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 300)
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    no_version = tmp_path / "no_version.db"
    with contextlib.closing(sqlite3.connect(no_version)) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER)")
        conn.execute("INSERT INTO meta VALUES ('applied_index', 3)")
        conn.commit()
    for bad in (junk, other, no_version, tmp_path / "missing.db"):
        with pytest.raises(ValueError, match="not a hafs image"):
            restore_image(bad, live)
    assert live.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_restore_discards_the_old_wal(tmp_path: Path) -> None:
    source = replay(SqlStore(tmp_path / "source.db"), 3)
    info = write_image(source, tmp_path / "images")
    expected = state(source)
    source.close()
    live = tmp_path / "live.db"
    old = replay(SqlStore(live), 9)  # committed pages still sit in live.db-wal
    wal = Path(f"{live}-wal").read_bytes()
    old.close()
    Path(f"{live}-wal").write_bytes(wal)  # as a crash would leave it
    restore_image(info.path, live)
    assert not Path(f"{live}-wal").exists() and not Path(f"{live}-shm").exists()
    restored = SqlStore(live)
    try:
        assert restored.applied_index() == 3 and state(restored) == expected
    finally:
        restored.close()


# ---- the store on a full disk ---------------------------------------------------------------


@contextlib.contextmanager
def page_cap(extra_pages: int, db: Path) -> Iterator[None]:
    """Cap the size of ``db`` for connections opened meanwhile (a full disk, in effect)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]

    def cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")

    event.listen(Pool, "connect", cap)
    try:
        yield
    finally:
        event.remove(Pool, "connect", cap)


def big_files(txn: StoreTxn, count: int, start: int = 2) -> None:
    for i in range(start, start + count):
        txn.put_inode(node(i, ROOT_ID, f"{i:08d}-" + "x" * 2000))


def test_full_disk_is_a_store_failure_and_nothing_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    replay(SqlStore(path), 1).close()
    with page_cap(16, path):
        store = SqlStore(path)
    try:
        with pytest.raises(StoreFailure) as failure, store.write(2) as txn:
            big_files(txn, 1000, start=FIRST_ID)
        assert failure.value.disk_full
        assert store.applied_index() == 1

        # Swallowing the failure does not make the batch commit.
        with pytest.raises(StoreFailure), store.write(2) as txn:
            with contextlib.suppress(StoreFailure):
                big_files(txn, 1000, start=FIRST_ID)
            with pytest.raises(StoreFailure):
                txn.inode(ROOT_ID)  # the transaction is poisoned
        assert store.applied_index() == 1

        with store.write(2) as txn:  # a batch that fits still applies
            big_files(txn, 2, start=FIRST_ID)
        view: StoreView
        with store.read() as view:
            assert view.applied_index() == 2
            assert view.count_children_after(ROOT_ID, "") == SEED_FILES + 2
    finally:
        store.close()


def test_unreadable_database_is_a_store_failure(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    shutil.copyfile(__file__, path)
    with pytest.raises(StoreFailure, match="not a database"):
        SqlStore(path)
