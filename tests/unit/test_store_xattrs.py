"""The store contract for extended attributes, and the SQLite schema's upgrades from v3
and v4.

Run against ``MemoryStore`` and ``SqlStore`` alike (the ``store`` fixture).
"""

from __future__ import annotations

import sqlite3

import pytest
from test_store_contract import ROOT, d, f, seeded

from client.cli.image import query_image
from ha_namenode.namespace.model import AdminState, Datanode
from ha_namenode.namespace.store import Store
from ha_namenode.persistence import SqlStore, restore_image, write_image
from ha_namenode.persistence.schema import SCHEMA_VERSION


def test_no_xattrs_at_first(store: Store) -> None:
    seeded(store, f(2, ROOT.id, "a"))
    with store.read() as view:
        assert view.xattrs(2) == [] and view.xattr(2, "user.a") is None
        assert view.xattrs(99) == []


def test_xattrs_round_trip_in_name_byte_order_and_replace_by_name(store: Store) -> None:
    seeded(store, f(2, ROOT.id, "a"), f(3, ROOT.id, "b"))
    with store.write(2) as txn:
        txn.put_xattr(2, "user.é", b"\x00\xff")
        txn.put_xattr(2, "user.b", b"1")
        txn.put_xattr(2, "trusted.z", b"")
        txn.put_xattr(2, "user.B", b"upper")
        txn.put_xattr(2, "user.b", b"2")  # replaces by (inode, name)
        txn.put_xattr(3, "user.b", b"other inode")
        assert txn.xattr(2, "user.b") == b"2"  # visible inside the transaction
    with store.read() as view:
        assert view.xattrs(2) == [
            ("trusted.z", b""),
            ("user.B", b"upper"),
            ("user.b", b"2"),
            ("user.é", b"\x00\xff"),
        ]
        assert all(type(v) is bytes for _, v in view.xattrs(2))
        assert view.xattr(2, "trusted.z") == b"" and view.xattr(2, "user.c") is None
        assert view.xattrs(3) == [("user.b", b"other inode")]


def test_delete_xattr(store: Store) -> None:
    seeded(store, f(2, ROOT.id, "a"))
    with store.write(2) as txn:
        txn.put_xattr(2, "user.a", b"1")
        txn.put_xattr(2, "user.b", b"2")
    with store.write(3) as txn:
        txn.delete_xattr(2, "user.a")
        txn.delete_xattr(2, "user.absent")  # no error
        txn.delete_xattr(99, "user.a")
    with store.read() as view:
        assert view.xattrs(2) == [("user.b", b"2")]


def test_deleting_an_inode_deletes_its_xattrs_and_renaming_keeps_them(store: Store) -> None:
    seeded(store, d(2, ROOT.id, "dir"), f(3, 2, "a"), f(4, 2, "b"))
    with store.write(2) as txn:
        for inode in (2, 3, 4):
            txn.put_xattr(inode, "user.x", str(inode).encode())
    with store.write(3) as txn:
        txn.delete_inode(3)
        txn.update_inode(4, {"parent": ROOT.id, "name": "moved"})
    with store.read() as view:
        assert view.xattrs(3) == []
        assert view.xattrs(4) == [("user.x", b"4")] and view.xattrs(2) == [("user.x", b"2")]
    with store.write(4) as txn:  # an id used again starts with none
        txn.put_inode(f(3, 2, "again"))
    with store.read() as view:
        assert view.xattrs(3) == []


def test_savepoint_and_failed_write_roll_xattrs_back(store: Store) -> None:
    seeded(store, f(2, ROOT.id, "a"))
    with store.write(2) as txn:
        txn.put_xattr(2, "user.a", b"1")
        with pytest.raises(RuntimeError), txn.savepoint():
            txn.put_xattr(2, "user.a", b"changed")
            txn.put_xattr(2, "user.b", b"2")
            txn.delete_inode(2)
            raise RuntimeError("undo")
        assert txn.inode(2) is not None
    with pytest.raises(RuntimeError), store.write(3) as txn:
        txn.delete_xattr(2, "user.a")
        raise RuntimeError("abort")
    with store.read() as view:
        assert view.xattrs(2) == [("user.a", b"1")]


# ---- SQLite: schema upgrade and images ---------------------------------------------


def _as_v3(path) -> None:
    """Turn a fresh database into what schema v3 wrote: no xattrs table, version 3."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE xattrs")
        conn.execute("UPDATE meta SET value = 3 WHERE key = 'schema_version'")


def test_a_v3_database_is_upgraded_in_place(tmp_path) -> None:
    path = tmp_path / "live.db"
    store = SqlStore(path)
    seeded(store, f(2, ROOT.id, "a"))
    store.close()
    _as_v3(path)
    store = SqlStore(path)
    try:
        assert store.applied_index() == 1
        with store.write(2) as txn:
            txn.put_xattr(2, "user.a", b"1")
        with store.read() as view:
            assert view.xattrs(2) == [("user.a", b"1")]
            assert view.meta("schema_version") == SCHEMA_VERSION
    finally:
        store.close()


def test_a_v3_image_restores_and_upgrades(tmp_path) -> None:
    store = SqlStore(tmp_path / "old.db")
    seeded(store, f(2, ROOT.id, "a"))
    info = write_image(store, tmp_path / "image")
    store.close()
    _as_v3(info.path)
    restore_image(info.path, tmp_path / "new.db")
    store = SqlStore(tmp_path / "new.db")
    try:
        with store.read() as view:
            assert view.xattrs(2) == [] and view.meta("schema_version") == SCHEMA_VERSION
    finally:
        store.close()


def _as_version(path, version: int) -> None:
    """Turn a fresh database into what an older schema wrote: v5 had no
    datanodes.maintenance_expiry, v4 had no safe_mode table either."""
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE datanodes DROP COLUMN maintenance_expiry")
        if version < 5:
            conn.execute("DROP TABLE safe_mode")
        conn.execute(f"UPDATE meta SET value = {version} WHERE key = 'schema_version'")


@pytest.mark.parametrize("version", [4, 5])
def test_an_older_database_gains_the_maintenance_expiry_column(tmp_path, version) -> None:
    path = tmp_path / "live.db"
    store = SqlStore(path)
    seeded(store)
    with store.write(2) as txn:
        txn.put_datanode(Datanode("dn1", "h:1", "/r1", AdminState.DECOMMISSIONING))
    store.close()
    _as_version(path, version)
    store = SqlStore(path)
    try:
        with store.read() as view:  # the old row reads back with no expiry
            assert view.datanode("dn1") == Datanode("dn1", "h:1", "/r1", AdminState.DECOMMISSIONING)
            assert view.meta("schema_version") == SCHEMA_VERSION == 6
            assert not view.safe_mode().on
        with store.write(3) as txn:
            txn.put_datanode(Datanode("dn1", "h:1", "/r1", AdminState.IN_MAINTENANCE, 7))
        with store.read() as view:
            assert view.datanode("dn1").maintenance_expiry == 7
    finally:
        store.close()
    SqlStore(path).close()  # opening an up-to-date database again changes nothing


def test_images_carry_xattrs_and_the_image_query_reads_them(tmp_path) -> None:
    store = SqlStore(tmp_path / "live.db")
    seeded(store, f(2, ROOT.id, "a"))
    with store.write(2) as txn:
        txn.put_xattr(2, "user.a", b"\x00v")
    info = write_image(store, tmp_path / "image")
    store.close()
    columns, rows = query_image(info.path, "SELECT inode, name, value FROM xattrs")
    assert columns == ["inode", "name", "value"] and rows == [(2, "user.a", b"\x00v")]
    restore_image(info.path, tmp_path / "new.db")
    store = SqlStore(tmp_path / "new.db")
    try:
        with store.read() as view:
            assert view.xattrs(2) == [("user.a", b"\x00v")]
    finally:
        store.close()
