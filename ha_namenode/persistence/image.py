"""Images: consistent, self-contained copies of a store's database, and their restore.

An image is a plain SQLite file named ``image-<applied_index:020d>.db``, written
by ``VACUUM INTO`` from a connection of its own. ``VACUUM INTO`` reads from one
WAL snapshot, so it neither blocks the writer nor sees half of a batch, and the
copy carries the ``applied_index`` committed with the last batch it contains.
An image is in rollback-journal mode: open it read-only (or copy it) to query it.

``restore_image`` replaces a live database (no store may have it open) with a
copy of an image; the store opened there next resumes from the image's index.

Imports: the standard library and this package (no SQLAlchemy needed here).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ha_namenode.persistence.schema import (
    APPLIED_INDEX_KEY,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    UPGRADABLE,
)
from ha_namenode.persistence.sqlstore import BUSY_TIMEOUT_MS, SqlStore, store_error

log = logging.getLogger(__name__)

_IMAGE_NAME = re.compile(r"image-(\d{20})\.db")
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    path: Path
    applied_index: int
    size_bytes: int


def image_name(applied_index: int) -> str:
    return f"image-{applied_index:020d}.db"


def write_image(store: SqlStore, dest_dir: Path, *, keep: int = 2) -> ImageInfo:
    """Copy ``store``'s committed state into ``dest_dir``; keep the newest ``keep`` images.

    Safe to call from any thread while the apply thread writes.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".image-", suffix=".tmp")
    os.close(fd)  # VACUUM INTO accepts an existing empty file
    tmp = Path(tmp_name)
    started = time.monotonic()
    try:
        _vacuum_into(store.path, tmp)
        index = _image_index(tmp)
        _fsync_file(tmp)
        final = dest_dir / image_name(index)
        os.replace(tmp, final)
        _fsync_dir(dest_dir)
    except BaseException:
        for path in (tmp, *(Path(f"{tmp}{s}") for s in _SIDE_FILES)):
            path.unlink(missing_ok=True)
        raise
    info = ImageInfo(final, index, final.stat().st_size)
    removed = _prune(dest_dir, keep)
    log.info(
        "wrote image %s (index %d, %d bytes) in %.3fs; pruned %d older",
        final.name,
        index,
        info.size_bytes,
        time.monotonic() - started,
        len(removed),
    )
    return info


def write_dump(store: SqlStore, dump: Path, extra: str) -> ImageInfo:
    """Write a self-contained dump: an image of ``store`` carrying ``extra`` (text).

    The consensus layer's full dump (the Raft snapshot): what a restarted replica
    restores and what a leader ships to a lagging follower. ``extra`` holds the
    consensus layer's own record (its log position and members). The dump's
    state may be newer than that record; replay skips what it already holds.
    Safe to call from any thread while the apply thread writes.
    """
    dump = Path(dump)
    fd, tmp_name = tempfile.mkstemp(dir=dump.parent, prefix=".dump-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    started = time.monotonic()
    try:
        _vacuum_into(store.path, tmp)
        with contextlib.closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
            conn.execute("CREATE TABLE raft_dump (value TEXT NOT NULL)")
            conn.execute("INSERT INTO raft_dump (value) VALUES (?)", (extra,))
        index = _image_index(tmp)
        _fsync_file(tmp)
        os.replace(tmp, dump)
        _fsync_dir(dump.parent)
    except BaseException:
        for path in (tmp, *(Path(f"{tmp}{s}") for s in _SIDE_FILES)):
            path.unlink(missing_ok=True)
        raise
    info = ImageInfo(dump, index, dump.stat().st_size)
    log.info(
        "wrote dump %s (index %d, %d bytes) in %.3fs",
        dump.name,
        index,
        info.size_bytes,
        time.monotonic() - started,
    )
    return info


def read_dump(dump: Path) -> tuple[int, str]:
    """(applied index, extra) of a dump; ValueError naming the file if it is not one."""
    dump = Path(dump)
    index = _image_index(dump)
    uri = dump.resolve().as_uri() + "?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            row = conn.execute("SELECT value FROM raft_dump").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{dump} is not a hafs dump: {exc}") from exc
    if row is None:
        raise ValueError(f"{dump} is not a hafs dump: its raft_dump table is empty")
    return index, row[0]


def images(dest_dir: Path) -> list[Path]:
    """The images in ``dest_dir``, oldest first."""
    if not Path(dest_dir).is_dir():
        return []
    return sorted(p for p in Path(dest_dir).iterdir() if _IMAGE_NAME.fullmatch(p.name))


def latest_image(dest_dir: Path) -> Path | None:
    found = images(dest_dir)
    return found[-1] if found else None


def restore_image(image: Path, live_path: Path) -> int:
    """Replace the database at ``live_path`` with a copy of ``image``; return its index.

    No store may have ``live_path`` open. Raises ValueError if ``image`` is not a
    hafs image; the live database is then left untouched.
    """
    image, live_path = Path(image), Path(live_path)
    index = _image_index(image)
    live_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=live_path.parent, prefix=".restore-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(image, tmp)
        _fsync_file(tmp)
        # A journal or WAL left by the old database must never be replayed onto the new one.
        for suffix in _SIDE_FILES:
            Path(f"{live_path}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, live_path)
        _fsync_dir(live_path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("restored %s from %s (index %d)", live_path, image.name, index)
    return index


def _vacuum_into(source: Path, dest: Path) -> None:
    # Autocommit (isolation_level=None): VACUUM INTO refuses to run inside a transaction.
    conn = sqlite3.connect(source, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    except sqlite3.DatabaseError as exc:
        raise store_error(exc) or exc from exc
    finally:
        conn.close()


def _image_index(image: Path) -> int:
    """The applied index recorded in ``image``; ValueError if it is not a hafs image."""
    if not image.is_file():
        raise ValueError(f"{image} is not a hafs image: no such file")
    uri = image.resolve().as_uri() + "?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            rows = dict(
                conn.execute(
                    "SELECT key, value FROM meta WHERE key IN (?, ?)",
                    (SCHEMA_VERSION_KEY, APPLIED_INDEX_KEY),
                ).fetchall()
            )
    except sqlite3.DatabaseError as exc:  # not a database, or no meta table
        raise ValueError(f"{image} is not a hafs image: {exc}") from exc
    version = rows.get(SCHEMA_VERSION_KEY)
    if version is None:
        raise ValueError(f"{image} is not a hafs image: no {SCHEMA_VERSION_KEY} in meta")
    if version != SCHEMA_VERSION and version not in UPGRADABLE:  # the store upgrades on open
        raise ValueError(f"{image} has schema version {version}, this code reads {SCHEMA_VERSION}")
    return rows.get(APPLIED_INDEX_KEY, 0)


def _prune(dest_dir: Path, keep: int) -> list[Path]:
    old = images(dest_dir)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
