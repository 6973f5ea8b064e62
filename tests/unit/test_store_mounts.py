"""The store contract for the mount table, and the SQLite schema's upgrade from v2.

Run against ``MemoryStore`` and ``SqlStore`` alike (the ``store`` fixture).
"""

from __future__ import annotations

import sqlite3

import pytest
from test_store_contract import seeded

from ha_namenode.namespace.store import MOUNT_VERSION, Store
from ha_namenode.persistence import SqlStore, restore_image, write_image
from ha_namenode.persistence.schema import SCHEMA_VERSION
from hafs_api.mounts import Mount


def test_no_mounts_at_first(store: Store) -> None:
    with store.read() as view:
        assert view.mounts() == []
        assert view.meta(MOUNT_VERSION) == 0


def test_mounts_round_trip_in_path_order_and_replace_by_path(store: Store) -> None:
    seeded(store)
    with store.write(2) as txn:
        txn.put_mount(Mount("/user/b", "ns3"))
        txn.put_mount(Mount("/data", "ns2", read_only=True))
        txn.put_mount(Mount("/user/a", "ns2"))
        txn.put_mount(Mount("/user/b", "ns2", read_only=True))  # replaces by path
        txn.put_mount(Mount("/ü", "ns4"))
        txn.set_meta(MOUNT_VERSION, 4)
        assert len(txn.mounts()) == 4  # visible inside the transaction
    with store.read() as view:
        assert view.mounts() == [
            Mount("/data", "ns2", True),
            Mount("/user/a", "ns2", False),
            Mount("/user/b", "ns2", True),
            Mount("/ü", "ns4", False),
        ]
        assert all(isinstance(m.read_only, bool) for m in view.mounts())
        assert view.meta(MOUNT_VERSION) == 4


def test_delete_mount(store: Store) -> None:
    seeded(store)
    with store.write(2) as txn:
        txn.put_mount(Mount("/a", "ns2"))
        txn.put_mount(Mount("/b", "ns2"))
    with store.write(3) as txn:
        txn.delete_mount("/a")
        txn.delete_mount("/absent")  # no error
    with store.read() as view:
        assert view.mounts() == [Mount("/b", "ns2")]


def test_savepoint_and_failed_write_roll_mounts_back(store: Store) -> None:
    seeded(store)
    with store.write(2) as txn:
        txn.put_mount(Mount("/a", "ns2"))
        with pytest.raises(RuntimeError), txn.savepoint():
            txn.put_mount(Mount("/b", "ns2"))
            txn.delete_mount("/a")
            raise RuntimeError("undo")
    with pytest.raises(RuntimeError), store.write(3) as txn:
        txn.put_mount(Mount("/c", "ns2"))
        raise RuntimeError("abort")
    with store.read() as view:
        assert view.mounts() == [Mount("/a", "ns2")]


# ---- SQLite: schema upgrade and images ---------------------------------------------


def _as_v2(path) -> None:
    """Turn a fresh database into what schema v2 wrote: no mounts table, version 2."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE mounts")
        conn.execute("DROP TABLE xattrs")
        conn.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'")


def test_a_v2_database_is_upgraded_in_place(tmp_path) -> None:
    path = tmp_path / "live.db"
    store = SqlStore(path)
    seeded(store)
    store.close()
    _as_v2(path)
    store = SqlStore(path)
    try:
        assert store.applied_index() == 1
        with store.write(2) as txn:
            txn.put_mount(Mount("/a", "ns2"))
        with store.read() as view:
            assert view.mounts() == [Mount("/a", "ns2")]
            assert view.meta("schema_version") == SCHEMA_VERSION
    finally:
        store.close()


def test_a_v2_image_restores_and_upgrades(tmp_path) -> None:
    store = SqlStore(tmp_path / "old.db")
    seeded(store)
    info = write_image(store, tmp_path / "image")
    store.close()
    _as_v2(info.path)
    restore_image(info.path, tmp_path / "new.db")
    store = SqlStore(tmp_path / "new.db")
    try:
        with store.read() as view:
            assert view.mounts() == [] and view.meta("schema_version") == SCHEMA_VERSION
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "live.db"
    SqlStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE meta SET value = {SCHEMA_VERSION + 1} WHERE key = 'schema_version'")
    with pytest.raises(Exception, match=f"schema version {SCHEMA_VERSION + 1}"):
        SqlStore(path)
