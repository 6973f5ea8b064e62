"""``SqlStore``: the ``Store`` interface over SQLite in WAL mode, through SQLAlchemy Core.

Threading: one writer at a time (the apply thread) on a dedicated connection
guarded by a lock; any number of reader threads, each on its own pooled
connection inside a read transaction, which in WAL mode pins a consistent
snapshot without blocking the writer (and the writer never blocks them).

Statements: the prebuilt ones in ``schema`` are compiled once by SQLAlchemy for
SQLite (named parameters) and then run straight on the connection's ``sqlite3``
driver, as are savepoints. SQLAlchemy's per-call ``execute`` (event dispatch,
result wrapping, parameter processing) cost more than SQLite's own work, and
the columns are only integers, text and bytes, which need no conversion. A
statement SQLAlchemy must expand per call (``IN`` a list) still goes through it.

Transactions are SQLAlchemy's, but the BEGIN is ours (the sqlite3 driver's
legacy mode would not begin before a SELECT or a SAVEPOINT): ``BEGIN
IMMEDIATE`` for the writer, a deferred ``BEGIN`` for readers, which
``read()`` turns into a snapshot at once by reading the applied index.

Errors: an I/O failure of SQLite becomes ``StoreFailure`` (``disk_full`` for
SQLITE_FULL) and poisons the open write, which then cannot commit; a
uniqueness violation becomes ``ValueError``, as in ``MemoryStore``.

Imports: SQLAlchemy, ``ha_namenode.namespace`` (model, store) and this package.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import URL, Connection, create_engine, event
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from ha_namenode.namespace.model import (
    AdminState,
    Block,
    Datanode,
    Inode,
    Invalidation,
    Lease,
    Replica,
    ReplicaState,
    SafeMode,
)
from ha_namenode.namespace.store import NamespaceCounts, StaleIndex, StoreFailure
from ha_namenode.persistence import schema
from ha_namenode.persistence.schema import APPLIED_INDEX_KEY, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from hafs_api.mounts import Mount

log = logging.getLogger(__name__)

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 5000
_SQLITE_FULL = 13


def store_error(exc: BaseException) -> Exception | None:
    """The store-level error for a database error, or None if it is not one (a bug).

    Accepts a ``sqlite3`` exception or SQLAlchemy's wrapper of one.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.IntegrityError):
        return ValueError(str(orig))
    if isinstance(orig, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return None
    if isinstance(orig, sqlite3.DatabaseError):  # OperationalError, corrupt, not a database
        code = getattr(orig, "sqlite_errorcode", None)
        full = (code & 0xFF) == _SQLITE_FULL if code is not None else "is full" in str(orig)
        return StoreFailure(f"sqlite: {orig}", disk_full=full)
    return None


def _raise_store_error(exc: DBAPIError | sqlite3.Error) -> NoReturn:
    err = store_error(exc)
    if err is None:
        raise exc
    raise err from exc


_DIALECT = sqlite_dialect(paramstyle="named")
_COMPILED: dict[int, tuple[Any, str | None, dict[str, object]]] = {}


def _compiled(stmt: Any) -> tuple[str | None, dict[str, object]]:
    """``stmt``'s SQL for the ``sqlite3`` driver and the literal values it binds itself
    (an ``OFFSET 0``, a ``!= ''``), or ``(None, {})`` when SQLAlchemy must render it per
    call (an expanding ``IN``). Compiled once per statement object."""
    entry = _COMPILED.get(id(stmt))
    if entry is None or entry[0] is not stmt:
        compiled = stmt.compile(dialect=_DIALECT)
        if any(b.expanding for b in compiled.binds.values()):
            entry = (stmt, None, {})
        else:
            literals = {k: v for k, v in compiled.params.items() if v is not None}
            entry = (stmt, str(compiled), literals)
        _COMPILED[id(stmt)] = entry  # holds stmt, so its id is never reused meanwhile
    return entry[1], entry[2]


class _View:
    """``StoreView`` over one connection inside an open transaction."""

    def __init__(self, driver: sqlite3.Connection, conn: Connection | None = None) -> None:
        self._driver = driver
        self._conn = conn  # the writer's SQLAlchemy connection; None for a reader
        self.failure: StoreFailure | None = None
        self.finished = False  # set when the enclosing read()/write() has ended

    def _fail(self, exc: DBAPIError | sqlite3.Error) -> NoReturn:
        err = store_error(exc)
        if isinstance(err, StoreFailure):
            self.failure = err
        _raise_store_error(exc)

    def _run(self, stmt: Any, params: Mapping[str, object] | list[Mapping[str, object]]) -> Any:
        """A cursor (or SQLAlchemy result) of ``stmt``; raises the driver's errors."""
        sql, literals = _compiled(stmt)
        if sql is None:
            if self._conn is None:
                raise RuntimeError("a reader runs prebuilt statements only")
            return self._conn.execute(stmt, params)
        if isinstance(params, list):
            return self._driver.executemany(sql, [{**literals, **p} for p in params])
        return self._driver.execute(sql, {**literals, **params} if literals else params)

    def _guard(self) -> None:
        if self.failure is not None:
            raise StoreFailure(
                f"transaction failed earlier: {self.failure}", disk_full=self.failure.disk_full
            )
        if self.finished:  # on the writer, a statement now would run in autocommit mode
            raise RuntimeError("used after its read() or write() block ended")

    def _first(self, stmt: Any, params: Mapping[str, object]) -> Any:
        self._guard()
        try:
            cursor = self._run(stmt, params)
            try:
                return cursor.fetchone()
            finally:
                cursor.close()  # a half-read SELECT would stay active until collected
        except (DBAPIError, sqlite3.Error) as exc:
            self._fail(exc)

    def _all(self, stmt: Any, params: Mapping[str, object]) -> list[Any]:
        self._guard()
        try:
            return self._run(stmt, params).fetchall()
        except (DBAPIError, sqlite3.Error) as exc:
            self._fail(exc)

    def _exec(self, stmt: Any, params: Mapping[str, object] | list[Mapping[str, object]]) -> int:
        self._guard()
        try:
            return self._run(stmt, params).rowcount
        except (DBAPIError, sqlite3.Error) as exc:
            self._fail(exc)

    def applied_index(self) -> int:
        return self.meta(APPLIED_INDEX_KEY, 0)

    def meta(self, key: str, default: int = 0) -> int:
        row = self._first(schema.META, {"key": key})
        return default if row is None else row[0]

    def inode(self, inode_id: int) -> Inode | None:
        row = self._first(schema.INODE, {"id": inode_id})
        return None if row is None else schema.to_inode(row)

    def child(self, parent: int, name: str) -> Inode | None:
        row = self._first(schema.CHILD, {"parent": parent, "name": name})
        return None if row is None else schema.to_inode(row)

    def children(self, parent: int, after: str = "", limit: int | None = None) -> list[Inode]:
        params = {"parent": parent, "after": after, "limit": -1 if limit is None else limit}
        return [schema.to_inode(r) for r in self._all(schema.CHILDREN, params)]

    def count_children_after(self, parent: int, after: str) -> int:
        return self._first(schema.COUNT_CHILDREN, {"parent": parent, "after": after})[0]

    def blocks(self, inode_id: int) -> list[Block]:
        return [Block(*r) for r in self._all(schema.BLOCKS, {"inode": inode_id})]

    def block(self, block_id: int) -> Block | None:
        row = self._first(schema.BLOCK, {"id": block_id})
        return None if row is None else Block(*row)

    def lease(self, holder: str) -> Lease | None:
        row = self._first(schema.LEASE, {"holder": holder})
        return None if row is None else Lease(*row)

    def leases_renewed_before(self, cutoff: int) -> list[Lease]:
        return [Lease(*r) for r in self._all(schema.LEASES_BEFORE, {"cutoff": cutoff})]

    def files_held_by(self, holder: str) -> list[Inode]:
        if not holder:
            return []
        return [schema.to_inode(r) for r in self._all(schema.HELD_BY, {"holder": holder})]

    def retry_result(self, client_id: str, call_id: int) -> bytes | None:
        row = self._first(schema.RETRY, {"client_id": client_id, "call_id": call_id})
        return None if row is None else row[0]

    def blocks_after(self, after: int, limit: int) -> list[Block]:
        return [Block(*r) for r in self._all(schema.BLOCKS_AFTER, {"after": after, "limit": limit})]

    def datanode(self, datanode_id: str) -> Datanode | None:
        row = self._first(schema.DATANODE, {"id": datanode_id})
        return None if row is None else _datanode(row)

    def datanodes(self) -> list[Datanode]:
        return [_datanode(r) for r in self._all(schema.DATANODES, {})]

    def replicas(self, block_id: int) -> list[Replica]:
        return [_replica(r) for r in self._all(schema.REPLICAS, {"block": block_id})]

    def replicas_on(self, datanode: str, after: int = 0, limit: int | None = None) -> list[Replica]:
        params = {"datanode": datanode, "after": after, "limit": -1 if limit is None else limit}
        return [_replica(r) for r in self._all(schema.REPLICAS_ON, params)]

    def invalidations(self, datanode: str, limit: int | None = None) -> list[Invalidation]:
        params = {"datanode": datanode, "limit": -1 if limit is None else limit}
        return [Invalidation(*r) for r in self._all(schema.INVALIDATIONS, params)]

    def mounts(self) -> list[Mount]:
        return [Mount(r[0], r[1], bool(r[2])) for r in self._all(schema.MOUNTS, {})]

    def xattr(self, inode_id: int, name: str) -> bytes | None:
        row = self._first(schema.XATTR, {"inode": inode_id, "name": name})
        return None if row is None else bytes(row[0])

    def xattrs(self, inode_id: int) -> list[tuple[str, bytes]]:
        return [(r[0], bytes(r[1])) for r in self._all(schema.XATTRS, {"inode": inode_id})]

    def counts(self) -> NamespaceCounts:
        files, directories = self._first(schema.INODE_KINDS, {})
        (blocks,) = self._first(schema.BLOCK_COUNT, {})
        return NamespaceCounts(int(files), int(directories), int(blocks))

    def safe_mode(self) -> SafeMode:
        row = self._first(schema.SAFE_MODE, {})
        return SafeMode() if row is None else SafeMode(bool(row[0]), row[1], row[2], row[3])


def _datanode(r: Any) -> Datanode:
    return Datanode(r[0], r[1], r[2], AdminState(r[3]), r[4])


def _replica(r: Any) -> Replica:
    return Replica(r[0], r[1], r[2], r[3], ReplicaState(r[4]))


class _Txn(_View):
    """``StoreTxn`` on the writer connection. After a ``StoreFailure`` every call fails.

    The safe-mode row is read once per transaction: the applier asks before every
    command of a batch, and only ``set_safe_mode`` (or a savepoint rolled back)
    changes the answer."""

    _safe: SafeMode | None = None

    def safe_mode(self) -> SafeMode:
        if self._safe is None:
            self._safe = super().safe_mode()
        return self._safe

    def set_meta(self, key: str, value: int) -> None:
        self._exec(schema.PUT_META, {"key": key, "value": value})

    def put_inode(self, inode: Inode) -> None:
        self._guard()
        try:
            self._run(schema.PUT_INODE, schema.inode_params(inode))
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
                raise ValueError(
                    f"duplicate name {inode.name!r} under inode {inode.parent}"
                ) from exc
            self._fail(exc)

    def update_inode(self, inode_id: int, changes: Mapping[str, object]) -> Inode:
        old = self.inode(inode_id)
        if old is None:
            raise KeyError(inode_id)
        new = old.replace(**changes)
        self.put_inode(new)
        return new

    def adjust_usage(self, inode_ids: list[int], ns_delta: int, ds_delta: int) -> None:
        # An id listed n times is adjusted n times, as MemoryStore does.
        times: dict[int, int] = {}
        for inode_id in inode_ids:
            times[inode_id] = times.get(inode_id, 0) + 1
        by_times: dict[int, list[int]] = {}
        for inode_id, n in times.items():
            by_times.setdefault(n, []).append(inode_id)
        updated = 0
        for n, ids in by_times.items():
            for start in range(0, len(ids), schema.MAX_IN):
                chunk = ids[start : start + schema.MAX_IN]
                updated += self._exec(
                    schema.ADJUST_USAGE, {"ids": chunk, "ns": ns_delta * n, "ds": ds_delta * n}
                )
        if updated != len(times):
            missing = [i for i in times if self.inode(i) is None]
            raise KeyError(missing[0] if len(missing) == 1 else missing)

    def delete_inode(self, inode_id: int) -> None:
        self._exec(schema.DELETE_INODE_XATTRS, {"id": inode_id})
        self._exec(schema.DELETE_INODE, {"id": inode_id})

    def put_block(self, block: Block) -> None:
        self._guard()
        params = {
            "id": block.id,
            "inode": block.inode,
            "idx": block.index,
            "gen_stamp": block.gen_stamp,
            "num_bytes": block.num_bytes,
        }
        try:
            self._run(schema.PUT_BLOCK, params)
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
                raise ValueError(
                    f"inode {block.inode} already has a block at index {block.index}"
                ) from exc
            self._fail(exc)

    def delete_block(self, block_id: int) -> None:
        old = self.block(block_id)
        if old is None:
            return
        doomed = self.replicas(block_id)
        if doomed:
            self._exec(
                schema.PUT_INVALIDATION,
                [
                    {
                        "datanode": r.datanode,
                        "block": block_id,
                        "gen_stamp": max(r.gen_stamp, old.gen_stamp),
                    }
                    for r in doomed
                ],
            )
            self._exec(schema.DELETE_BLOCK_REPLICAS, {"block": block_id})
        self._exec(schema.DELETE_BLOCK, {"id": block_id})

    def put_datanode(self, datanode: Datanode) -> None:
        self._exec(
            schema.PUT_DATANODE,
            {
                "id": datanode.id,
                "address": datanode.address,
                "rack": datanode.rack,
                "admin": int(datanode.admin),
                "maintenance_expiry": datanode.maintenance_expiry,
            },
        )

    def put_replica(self, replica: Replica) -> None:
        self._exec(
            schema.PUT_REPLICA,
            {
                "block": replica.block,
                "datanode": replica.datanode,
                "gen_stamp": replica.gen_stamp,
                "num_bytes": replica.num_bytes,
                "state": int(replica.state),
            },
        )

    def delete_replica(self, block_id: int, datanode: str) -> None:
        self._exec(schema.DELETE_REPLICA, {"block": block_id, "datanode": datanode})

    def delete_invalidation(self, block_id: int, datanode: str) -> None:
        self._exec(schema.DELETE_INVALIDATION, {"block": block_id, "datanode": datanode})

    def put_mount(self, mount: Mount) -> None:
        params = {"path": mount.path, "nameservice": mount.nameservice}
        self._exec(schema.PUT_MOUNT, {**params, "read_only": int(mount.read_only)})

    def delete_mount(self, path: str) -> None:
        self._exec(schema.DELETE_MOUNT, {"path": path})

    def put_xattr(self, inode_id: int, name: str, value: bytes) -> None:
        self._exec(schema.PUT_XATTR, {"inode": inode_id, "name": name, "value": bytes(value)})

    def delete_xattr(self, inode_id: int, name: str) -> None:
        self._exec(schema.DELETE_XATTR, {"inode": inode_id, "name": name})

    def set_safe_mode(self, mode: SafeMode) -> None:
        params = {"id": schema.SAFE_MODE_ROW, "active": int(mode.on), "reason": mode.reason}
        self._safe = None
        self._exec(schema.PUT_SAFE_MODE, {**params, "set_by": mode.set_by, "since": mode.since})
        self._safe = mode

    def put_lease(self, lease: Lease) -> None:
        self._exec(schema.PUT_LEASE, {"holder": lease.holder, "renewed": lease.renewed})

    def delete_lease(self, holder: str) -> None:
        self._exec(schema.DELETE_LEASE, {"holder": holder})

    def put_retry(self, client_id: str, call_id: int, result: bytes, expires: int) -> None:
        self._exec(
            schema.PUT_RETRY,
            {"client_id": client_id, "call_id": call_id, "result": result, "expires": expires},
        )

    def expire_retries(self, now: int) -> int:
        return self._exec(schema.EXPIRE_RETRIES, {"now": now})

    _depth = 0  # savepoints open, each named for its depth

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._guard()
        name = f"hafs_sp{self._depth}"
        try:
            self._driver.execute(f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            self._fail(exc)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._safe = None  # the rolled-back scope may have changed it: read again
            try:
                self._driver.execute(f"ROLLBACK TO {name}")
                self._driver.execute(f"RELEASE {name}")
            except sqlite3.Error as exc:  # SQLite may have rolled back the whole transaction
                self.failure = StoreFailure(f"rollback to savepoint failed: {exc}")
            raise
        self._depth -= 1
        try:
            self._driver.execute(f"RELEASE {name}")
        except sqlite3.Error as exc:
            self._fail(exc)

    def commit(self, index: int) -> None:
        """Record ``index`` as applied and commit; called once, by ``SqlStore.write``."""
        self._guard()
        self.set_meta(APPLIED_INDEX_KEY, index)
        if not self._driver.in_transaction:
            raise StoreFailure("sqlite ended the transaction before commit")
        try:
            self._conn.commit()
        except DBAPIError as exc:
            self._fail(exc)


class SqlStore:
    """The SQLite store. ``path`` is the live database; it is created if missing."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL", readers: int = 8) -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous.upper()
        self._readers = readers  # pooled reader connections: one per RPC worker saves reopening
        self._lock = threading.Lock()
        self._writing: int | None = None  # the thread inside write(), to refuse re-entry
        self._closed = False
        self._writer: Connection | None = None
        self._open()

    def _open(self) -> None:
        self._engine = create_engine(
            URL.create("sqlite", database=str(self.path)),
            poolclass=QueuePool,
            pool_size=self._readers,
            max_overflow=-1,
            connect_args={"check_same_thread": False},
        )
        event.listen(self._engine, "connect", self._on_connect)
        event.listen(self._engine, "begin", _on_begin)
        try:
            self._applied = self._create_schema()
        except BaseException as exc:
            self._drop_writer()
            self._engine.dispose()
            if isinstance(exc, DBAPIError):
                _raise_store_error(exc)
            raise

    def restore(self, image: Path) -> int:
        """Replace the whole state with ``image`` (a snapshot install); return its index.

        Waits for the writer; readers opened before may fail and must retry.
        """
        from ha_namenode.persistence.image import restore_image  # image builds on this module

        with self._lock:
            self._check_open()
            self._drop_writer()
            self._engine.dispose()
            try:
                restore_image(image, self.path)
            finally:
                self._open()
            return self._applied

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreFailure(f"{self.path}: cannot use WAL journal mode (got {mode!r})")
            cur.execute(f"PRAGMA synchronous = {self._synchronous}")
        finally:
            cur.close()

    def _writer_conn(self) -> Connection:
        if self._writer is None:
            self._writer = self._engine.connect().execution_options(hafs_begin="BEGIN IMMEDIATE")
        return self._writer

    def _create_schema(self) -> int:
        conn = self._writer_conn()
        with conn.begin():
            schema.metadata.create_all(conn)
            version = conn.execute(schema.META, {"key": SCHEMA_VERSION_KEY}).scalar()
            if version is None or version in schema.UPGRADABLE:
                if version is not None:
                    schema.upgrade(conn, version)
                    log.info(
                        "%s: schema upgraded from v%d to v%d", self.path, version, SCHEMA_VERSION
                    )
                conn.execute(schema.PUT_META, {"key": SCHEMA_VERSION_KEY, "value": SCHEMA_VERSION})
            elif version != SCHEMA_VERSION:
                raise StoreFailure(
                    f"{self.path}: schema version {version}, this code reads {SCHEMA_VERSION}"
                )
            applied = conn.execute(schema.META, {"key": APPLIED_INDEX_KEY}).scalar()
        return applied or 0

    def _check_open(self) -> None:
        if self._closed:
            raise StoreFailure(f"{self.path}: store is closed")

    def applied_index(self) -> int:
        return self._applied

    @contextmanager
    def read(self) -> Iterator[_View]:
        self._check_open()
        try:  # a pooled driver connection: no SQLAlchemy Connection or events per read
            pooled = self._engine.raw_connection()
        except DBAPIError as exc:
            _raise_store_error(exc)
        driver = pooled.driver_connection
        view = _View(driver)
        try:
            try:
                driver.execute("BEGIN")
            except sqlite3.Error as exc:
                _raise_store_error(exc)
            view.applied_index()  # the first read of the file pins the snapshot
            yield view
        finally:
            view.finished = True
            pooled.close()  # back to the pool, which rolls the read transaction back

    @contextmanager
    def write(self, index: int) -> Iterator[_Txn]:
        if self._writing == threading.get_ident():
            raise RuntimeError("write() is not re-entrant: one batch at a time")
        with self._lock:
            self._check_open()
            if index <= self._applied:
                raise StaleIndex(f"index {index} <= applied {self._applied}")
            conn = self._writer_conn()
            try:
                conn.begin()
            except DBAPIError as exc:
                self._drop_writer()
                _raise_store_error(exc)
            txn = _Txn(conn.connection.dbapi_connection, conn)
            self._writing = threading.get_ident()
            try:
                yield txn
                txn.commit(index)
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                txn.finished = True
                self._writing = None
            self._applied = index

    def _rollback(self, conn: Connection) -> None:
        try:
            conn.rollback()
        except Exception:  # the connection is unusable; the next write opens a new one
            log.exception("rollback failed on %s; reopening the writer connection", self.path)
            self._drop_writer()

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.invalidate()
            self._writer = None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._engine.dispose()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("hafs_begin", "BEGIN"))


__all__ = ["SqlStore", "store_error"]
