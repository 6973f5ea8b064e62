"""The store contract: one suite, run against ``MemoryStore`` and ``SqlStore``.

Everything here goes through the ``Store``/``StoreView``/``StoreTxn`` interface,
so both implementations must pass it unchanged.
"""

from __future__ import annotations

import threading

import pytest

from ha_namenode.namespace.model import ROOT_ID, Block, Inode, Kind, Lease
from ha_namenode.namespace.store import StaleIndex, Store, walk
from ha_namenode.persistence import SqlStore


def d(inode_id: int, parent: int, name: str, **kw: object) -> Inode:
    fields: dict[str, object] = {
        "perm": 0o755,
        "owner": "hdfs",
        "group": "supergroup",
        "mtime": 1,
        "atime": 1,
        **kw,
    }
    return Inode(inode_id, parent, name, Kind.DIR, **fields)


def f(inode_id: int, parent: int, name: str, **kw: object) -> Inode:
    fields: dict[str, object] = {
        "perm": 0o644,
        "owner": "alice",
        "group": "staff",
        "mtime": 2,
        "atime": 3,
        "replication": 3,
        "block_size": 128,
        **kw,
    }
    return Inode(inode_id, parent, name, Kind.FILE, **fields)


ROOT = d(ROOT_ID, 0, "")


def seeded(store: Store, *nodes: Inode, index: int = 1) -> Store:
    with store.write(index) as txn:
        for node in (ROOT, *nodes):
            txn.put_inode(node)
    return store


# ---- inodes ---------------------------------------------------------------------


def test_empty_store(store: Store) -> None:
    assert store.applied_index() == 0
    with store.read() as view:
        assert view.applied_index() == 0
        assert view.meta("next_inode_id") == 0
        assert view.meta("next_inode_id", 7) == 7
        assert view.inode(ROOT_ID) is None
        assert view.child(0, "") is None
        assert view.children(ROOT_ID) == []
        assert view.count_children_after(ROOT_ID, "") == 0
        assert view.blocks(5) == [] and view.block(5) is None
        assert view.lease("x") is None and view.leases_renewed_before(10**12) == []
        assert view.files_held_by("x") == []
        assert view.retry_result("c", 1) is None


def test_inode_round_trip_keeps_types(store: Store) -> None:
    full = f(2, ROOT_ID, "a", length=300, holder="client-1", uc_block=True, mtime=10**12)
    quota_dir = d(
        3, ROOT_ID, "q", children=4, ns_quota=100, ds_quota=10**13, ns_used=5, ds_used=2**40
    )
    seeded(store, full, quota_dir)
    with store.read() as view:
        assert view.inode(2) == full and view.inode(3) == quota_dir
        assert view.inode(2).kind is Kind.FILE and view.inode(3).kind is Kind.DIR
        assert view.inode(2).uc_block is True and view.inode(3).uc_block is False
        assert view.child(ROOT_ID, "a") == full
        assert view.child(ROOT_ID, "nope") is None and view.inode(99) is None


def test_put_inode_replaces_by_id(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"))
    with store.write(2) as txn:
        txn.put_inode(f(2, ROOT_ID, "a", length=5))
        assert txn.inode(2).length == 5  # a transaction sees its own changes
    with store.read() as view:
        assert view.inode(2).length == 5
        assert [c.id for c in view.children(ROOT_ID)] == [2]


def test_duplicate_name_raises_value_error_and_changes_nothing(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"), f(3, ROOT_ID, "b"))
    with store.write(2) as txn:
        with pytest.raises(ValueError):
            txn.put_inode(f(4, ROOT_ID, "a"))
        with pytest.raises(ValueError):
            txn.put_inode(f(3, ROOT_ID, "a"))  # renaming onto a taken name
        with pytest.raises(ValueError):
            txn.update_inode(3, {"name": "a"})
        txn.put_inode(f(4, ROOT_ID, "c"))  # the transaction is still usable
    with store.read() as view:
        assert view.inode(3) == f(3, ROOT_ID, "b")
        assert [c.name for c in view.children(ROOT_ID)] == ["a", "b", "c"]
        assert store.applied_index() == 2


def test_rename_moves_parent_and_name(store: Store) -> None:
    seeded(store, d(2, ROOT_ID, "src"), d(3, ROOT_ID, "dst"), f(4, 2, "x"))
    with store.write(2) as txn:
        txn.put_inode(f(4, 3, "y"))
        txn.put_inode(f(5, 2, "x"))  # the old (parent, name) is free again
    with store.read() as view:
        assert view.child(3, "y").id == 4
        assert view.child(2, "x").id == 5
        assert [c.id for c in view.children(2)] == [5]


def test_update_inode_returns_and_stores_the_new_row(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"))
    with store.write(2) as txn:
        new = txn.update_inode(2, {"length": 42, "holder": "h", "name": "b", "uc_block": True})
        assert new == f(2, ROOT_ID, "b", length=42, holder="h", uc_block=True)
        assert txn.inode(2) == new
        with pytest.raises(KeyError):
            txn.update_inode(99, {"length": 1})
        with pytest.raises(TypeError):
            txn.update_inode(2, {"no_such_field": 1})
    with store.read() as view:
        assert view.inode(2) == new and view.child(ROOT_ID, "a") is None


def test_adjust_usage(store: Store) -> None:
    seeded(store, d(2, ROOT_ID, "a", ns_quota=10), d(3, 2, "b", ds_quota=10), f(4, 3, "c"))
    with store.write(2) as txn:
        txn.adjust_usage([2, 3], 2, 300)
        txn.adjust_usage([3, 3], 1, -10)  # listed twice, adjusted twice
        txn.adjust_usage([], 5, 5)
        with pytest.raises(KeyError), txn.savepoint():
            txn.adjust_usage([2, 99], 1, 1)
    with store.read() as view:
        assert (view.inode(2).ns_used, view.inode(2).ds_used) == (2, 300)
        assert (view.inode(3).ns_used, view.inode(3).ds_used) == (4, 280)
        assert view.inode(4).ns_used == 0


def test_delete_inode(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"), f(3, ROOT_ID, "b"))
    with store.write(2) as txn:
        txn.delete_inode(2)
        txn.delete_inode(99)  # missing: no-op
        txn.put_inode(f(4, ROOT_ID, "a"))  # the name is free
    with store.read() as view:
        assert view.inode(2) is None
        assert [(c.id, c.name) for c in view.children(ROOT_ID)] == [(4, "a"), (3, "b")]


# ---- directory listings -----------------------------------------------------------

NAMES = ["b", "a", "B", "a b", "ab", "é", "e", "z", "ä", "日本", "\uff5a", "\U0001f600", "_", "~"]


def test_children_in_utf8_byte_order(store: Store) -> None:
    seeded(store, *(f(10 + i, ROOT_ID, n) for i, n in enumerate(NAMES)))
    by_bytes = sorted(NAMES, key=lambda n: n.encode("utf-8"))
    # U+FF5A sorts before U+1F600 in UTF-8 (but not in UTF-16).
    assert by_bytes.index("\uff5a") < by_bytes.index("\U0001f600")
    with store.read() as view:
        assert [c.name for c in view.children(ROOT_ID)] == by_bytes
        assert [c.name for c in view.children(ROOT_ID, "e")] == [n for n in by_bytes if n > "e"]
        assert view.children(ROOT_ID, by_bytes[-1]) == []


def test_children_paging_and_count(store: Store) -> None:
    files = (f(10 + i, 2, n) for i, n in enumerate(NAMES))
    seeded(store, d(2, ROOT_ID, "dir", children=len(NAMES)), *files, f(50, ROOT_ID, "elsewhere"))
    by_bytes = sorted(NAMES, key=lambda n: n.encode("utf-8"))
    with store.read() as view:
        listed, pages, after = [], 0, ""
        while page := view.children(2, after, 3):
            assert len(page) <= 3
            listed.extend(c.name for c in page)
            pages += 1
            after = page[-1].name
        assert listed == by_bytes and pages == 5
        assert view.children(2, "", 0) == []
        start = by_bytes.index("a") + 1
        assert [c.name for c in view.children(2, "a", 2)] == by_bytes[start : start + 2]
        assert view.count_children_after(2, "") == len(NAMES)
        assert view.count_children_after(2, "e") == sum(1 for n in NAMES if n > "e")
        assert view.count_children_after(2, by_bytes[-1]) == 0
        walked = [n.name for n in walk(view, view.inode(2), page=4)]
        assert walked[0] == "dir" and sorted(walked[1:]) == sorted(NAMES)


# ---- blocks -----------------------------------------------------------------------


def test_blocks_in_index_order_and_lookup(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"), f(3, ROOT_ID, "b"))
    with store.write(2) as txn:
        for block in (
            Block(30, 2, 2, 1, 0),
            Block(10, 2, 0, 1, 128),
            Block(20, 2, 1, 1, 128),
            Block(40, 3, 0, 1, 7),
        ):
            txn.put_block(block)
    with store.write(3) as txn:
        txn.put_block(Block(30, 2, 2, 5, 64))  # new gen stamp and length
        txn.delete_block(20)
        txn.delete_block(99)  # missing: no-op
    with store.read() as view:
        assert view.blocks(2) == [Block(10, 2, 0, 1, 128), Block(30, 2, 2, 5, 64)]
        assert view.blocks(3) == [Block(40, 3, 0, 1, 7)]
        assert view.block(30) == Block(30, 2, 2, 5, 64)
        assert view.block(20) is None


# ---- leases -----------------------------------------------------------------------


def test_leases_and_expiry_order(store: Store) -> None:
    with store.write(1) as txn:
        for holder, renewed in [("c", 100), ("a", 300), ("b", 100), ("d", 200), ("e", 500)]:
            txn.put_lease(Lease(holder, renewed))
    with store.write(2) as txn:
        txn.put_lease(Lease("e", 50))  # renewal replaces
        txn.delete_lease("d")
        txn.delete_lease("zz")  # missing: no-op
    with store.read() as view:
        assert view.lease("e") == Lease("e", 50) and view.lease("d") is None
        assert view.leases_renewed_before(300) == [Lease("e", 50), Lease("b", 100), Lease("c", 100)]
        assert view.leases_renewed_before(50) == []
        assert len(view.leases_renewed_before(301)) == 4


def test_block_index_is_unique_per_file(store: Store) -> None:
    seeded(store, f(5, ROOT_ID, "x"))
    with store.write(2) as txn:
        txn.put_block(Block(10, 5, 0, 1, 0))
        with pytest.raises(ValueError), txn.savepoint():
            txn.put_block(Block(11, 5, 0, 1, 0))
        txn.put_block(Block(10, 5, 0, 2, 7))  # the same block, updated in place
    with store.read() as view:
        assert view.blocks(5) == [Block(10, 5, 0, 2, 7)] and view.block(11) is None


def test_files_held_by(store: Store) -> None:
    seeded(
        store,
        f(5, ROOT_ID, "x", holder="h1"),
        f(3, ROOT_ID, "y", holder="h1"),
        f(4, ROOT_ID, "z", holder="h2"),
        f(6, ROOT_ID, "w"),
    )
    with store.write(2) as txn:
        txn.update_inode(4, {"holder": "h1"})
        txn.update_inode(5, {"holder": ""})
    with store.read() as view:
        assert [i.id for i in view.files_held_by("h1")] == [3, 4]
        assert view.files_held_by("h2") == []
        assert view.files_held_by("") == []  # no holder holds nothing


# ---- retry cache and meta -----------------------------------------------------------


def test_retry_cache(store: Store) -> None:
    with store.write(1) as txn:
        txn.put_retry("c1", 1, b"\x00first", 100)
        txn.put_retry("c1", 2, b"second", 200)
        txn.put_retry("c2", 1, b"", 300)
        txn.put_retry("c1", 2, b"second'", 250)  # same call: replaced
    with store.read() as view:
        assert view.retry_result("c1", 1) == b"\x00first"
        assert view.retry_result("c1", 2) == b"second'"
        assert view.retry_result("c2", 1) == b""
        assert view.retry_result("c2", 2) is None
    with store.write(2) as txn:
        assert txn.expire_retries(100) == 0  # strictly before
        assert txn.expire_retries(251) == 2
        assert txn.expire_retries(251) == 0
    with store.read() as view:
        assert view.retry_result("c1", 1) is None and view.retry_result("c1", 2) is None
        assert view.retry_result("c2", 1) == b""


def test_meta_and_applied_index(store: Store) -> None:
    with store.write(5) as txn:
        txn.set_meta("next_inode_id", 1000)
        txn.set_meta("next_block_id", 7)
        assert txn.meta("next_inode_id") == 1000
        assert txn.applied_index() == 0  # recorded at commit
    with store.write(9) as txn:
        txn.set_meta("next_inode_id", 1001)
    assert store.applied_index() == 9
    with store.read() as view:
        assert view.applied_index() == 9
        assert (view.meta("next_inode_id"), view.meta("next_block_id")) == (1001, 7)
        assert view.meta("absent", -1) == -1


def test_stale_index(store: Store) -> None:
    seeded(store, index=3)
    for index in (3, 2, 0, -1):
        with pytest.raises(StaleIndex), store.write(index):
            pytest.fail("a stale write must not open")
    with store.write(4):
        pass
    assert store.applied_index() == 4


# ---- transactions -------------------------------------------------------------------


class Boom(Exception):
    pass


def test_savepoint_rolls_back_only_its_changes(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"))
    with store.write(2) as txn:
        txn.put_inode(f(3, ROOT_ID, "before"))
        with pytest.raises(Boom), txn.savepoint():
            txn.put_inode(f(4, ROOT_ID, "inside"))
            txn.update_inode(2, {"length": 9})
            txn.put_block(Block(1, 2, 0, 1, 1))
            txn.set_meta("k", 1)
            raise Boom
        assert txn.inode(4) is None and txn.inode(2).length == 0
        with txn.savepoint():
            txn.put_inode(f(5, ROOT_ID, "kept"))
        txn.put_inode(f(6, ROOT_ID, "after"))
    with store.read() as view:
        assert sorted(c.name for c in view.children(ROOT_ID)) == ["a", "after", "before", "kept"]
        assert view.block(1) is None and view.meta("k") == 0


def test_nested_savepoints(store: Store) -> None:
    seeded(store)
    with store.write(2) as txn:
        with txn.savepoint():
            txn.put_inode(f(2, ROOT_ID, "outer"))
            with pytest.raises(Boom), txn.savepoint():
                txn.put_inode(f(3, ROOT_ID, "inner"))
                raise Boom
            with txn.savepoint():
                txn.put_inode(f(4, ROOT_ID, "inner-kept"))
        with pytest.raises(Boom), txn.savepoint():
            txn.put_lease(Lease("h", 1))
            with txn.savepoint():  # released, then undone with its parent
                txn.put_inode(f(5, ROOT_ID, "lost"))
            raise Boom
    with store.read() as view:
        assert [c.name for c in view.children(ROOT_ID)] == ["inner-kept", "outer"]
        assert view.lease("h") is None


def test_failed_write_rolls_back_everything(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"))
    with pytest.raises(Boom), store.write(2) as txn:
        txn.put_inode(f(3, ROOT_ID, "b"))
        txn.update_inode(2, {"length": 1})
        txn.put_block(Block(1, 2, 0, 1, 1))
        txn.put_lease(Lease("h", 1))
        txn.put_retry("c", 1, b"r", 10)
        txn.set_meta("next_inode_id", 4)
        raise Boom
    assert store.applied_index() == 1
    with store.read() as view:
        assert view.applied_index() == 1
        assert view.inode(3) is None and view.inode(2).length == 0
        assert view.block(1) is None and view.lease("h") is None
        assert view.retry_result("c", 1) is None and view.meta("next_inode_id") == 0
    with store.write(2) as txn:  # the same index applies after the failure
        txn.put_inode(f(3, ROOT_ID, "b"))
    assert store.applied_index() == 2


def test_commit_is_visible_to_later_readers(store: Store) -> None:
    seeded(store, f(2, ROOT_ID, "a"))
    with store.read() as view:
        assert view.inode(3) is None
    with store.write(2) as txn:
        txn.put_inode(f(3, ROOT_ID, "b"))
    with store.read() as view:
        assert view.inode(3) is not None and view.applied_index() == 2


def test_reader_keeps_its_snapshot_while_the_writer_commits(store: Store) -> None:
    if not isinstance(store, SqlStore):
        pytest.skip("MemoryStore serialises readers and the writer with one lock")
    seeded(store, f(2, ROOT_ID, "a"))
    opened, committed = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def reader() -> None:
        with store.read() as view:
            opened.set()
            seen["committed"] = committed.wait(10)
            seen["index"] = view.applied_index()
            seen["new"] = view.inode(3)
            seen["old"] = view.inode(2)
            seen["listing"] = [c.name for c in view.children(ROOT_ID)]

    thread = threading.Thread(target=reader)
    thread.start()
    assert opened.wait(10)
    with store.write(2) as txn:  # must not wait for the open reader
        txn.put_inode(f(3, ROOT_ID, "b"))
        txn.update_inode(2, {"length": 9})
    assert store.applied_index() == 2
    committed.set()
    thread.join(10)
    assert seen == {
        "committed": True,
        "index": 1,
        "new": None,
        "old": f(2, ROOT_ID, "a"),
        "listing": ["a"],
    }
    with store.read() as view:
        assert view.inode(3) is not None and view.inode(2).length == 9


# ---- counts (metrics) ---------------------------------------------------------------


def test_counts_files_directories_and_blocks(store: Store) -> None:
    with store.read() as view:
        assert view.counts() == (0, 0, 0)
    seeded(store, d(2, ROOT_ID, "dir"), f(3, 2, "a"), f(4, 2, "b"))
    with store.write(2) as txn:
        txn.put_block(Block(10, 3, 0, 1, 5))
        txn.put_block(Block(11, 3, 1, 1, 5))
        txn.put_block(Block(12, 4, 0, 1, 5))
    with store.read() as view:
        counts = view.counts()
    assert (counts.files, counts.directories, counts.blocks) == (2, 2, 3)
    with store.write(3) as txn:
        txn.delete_block(12)
        txn.delete_inode(4)
    with store.read() as view:
        assert view.counts() == (1, 2, 2)
