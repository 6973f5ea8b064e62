"""The SQLite schema of the replicated state: tables, the statements prebuilt over them,
and the mapping between rows and model values.

One row per value type of ``ha_namenode.namespace.model``; column names equal the
dataclass field names (``blocks.idx`` holds ``Block.index`` and ``safe_mode.active``
holds ``SafeMode.on``: both are SQL keywords). Text columns use SQLite's default
BINARY collation, which orders UTF-8 text in byte order, the order
``StoreView.children`` promises.

Statements are built once at import with named bind parameters, so the apply
path pays neither construction nor compilation (SQLAlchemy's compiled cache).

Imports: SQLAlchemy and ``ha_namenode.namespace.model`` only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ha_namenode.namespace.model import INODE_FIELDS, Inode, Kind

SCHEMA_VERSION = 6
# Versions ``upgrade`` brings up to date: v2 to v5 only added tables (create_all makes
# them); v6 added datanodes.maintenance_expiry.
UPGRADABLE = {1, 2, 3, 4, 5}
SCHEMA_VERSION_KEY = "schema_version"
APPLIED_INDEX_KEY = "applied_index"

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Integer, nullable=False),
)

inodes = Table(
    "inodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("parent", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Integer, nullable=False),  # model.Kind
    Column("perm", Integer, nullable=False),
    Column("owner", Text, nullable=False),
    Column("group", Text, nullable=False),
    Column("mtime", Integer, nullable=False),
    Column("atime", Integer, nullable=False),
    Column("replication", Integer, nullable=False),
    Column("block_size", Integer, nullable=False),
    Column("length", Integer, nullable=False),
    Column("holder", Text, nullable=False),
    Column("uc_block", Integer, nullable=False),  # 0 or 1
    Column("children", Integer, nullable=False),
    Column("ns_quota", Integer, nullable=False),
    Column("ds_quota", Integer, nullable=False),
    Column("ns_used", Integer, nullable=False),
    Column("ds_used", Integer, nullable=False),
    UniqueConstraint("parent", "name", name="uq_inodes_parent_name"),
)
# Only open files have a holder: a partial index stays as small as the set of leases.
Index("ix_inodes_holder", inodes.c.holder, sqlite_where=inodes.c.holder != "")

blocks = Table(
    "blocks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("inode", Integer, nullable=False),
    Column("idx", Integer, nullable=False),  # model.Block.index
    Column("gen_stamp", Integer, nullable=False),
    Column("num_bytes", Integer, nullable=False),
    Index("ix_blocks_inode_idx", "inode", "idx", unique=True),
)

leases = Table(
    "leases",
    metadata,
    Column("holder", Text, primary_key=True),
    Column("renewed", Integer, nullable=False),
    # (renewed, holder) is the order leases_renewed_before returns: no sort step.
    Index("ix_leases_renewed", "renewed", "holder"),
)

retry_cache = Table(
    "retry_cache",
    metadata,
    Column("client_id", Text, nullable=False),
    Column("call_id", Integer, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("expires", Integer, nullable=False),
    PrimaryKeyConstraint("client_id", "call_id", name="pk_retry_cache"),
    Index("ix_retry_cache_expires", "expires"),
)

datanodes = Table(
    "datanodes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("address", Text, nullable=False),
    Column("rack", Text, nullable=False),
    Column("admin", Integer, nullable=False),  # model.AdminState
    # wall-clock ms a maintenance ends at; 0: never, or not in maintenance (schema v5)
    Column("maintenance_expiry", Integer, nullable=False, server_default="0"),
)

# The replicated location map: a failover needs no block reports to serve reads.
replicas = Table(
    "replicas",
    metadata,
    Column("block", Integer, nullable=False),
    Column("datanode", Text, nullable=False),
    Column("gen_stamp", Integer, nullable=False),
    Column("num_bytes", Integer, nullable=False),
    Column("state", Integer, nullable=False),  # model.ReplicaState
    PrimaryKeyConstraint("block", "datanode", name="pk_replicas"),
    Index("ix_replicas_datanode", "datanode", "block"),
)

invalidations = Table(
    "invalidations",
    metadata,
    Column("datanode", Text, nullable=False),
    Column("block", Integer, nullable=False),
    Column("gen_stamp", Integer, nullable=False),
    PrimaryKeyConstraint("datanode", "block", name="pk_invalidations"),
)

# The mount table (federation); its version is the meta key "mount_version".
mounts = Table(
    "mounts",
    metadata,
    Column("path", Text, primary_key=True),
    Column("nameservice", Text, nullable=False),
    Column("read_only", Integer, nullable=False),  # 0 or 1
)

# Extended attributes (HDFS XAttrs); deleting an inode deletes its rows.
xattrs = Table(
    "xattrs",
    metadata,
    Column("inode", Integer, nullable=False),
    Column("name", Text, nullable=False),  # with its namespace: "user.a", "trusted.b"
    Column("value", LargeBinary, nullable=False),
    PrimaryKeyConstraint("inode", "name", name="pk_xattrs"),
)

# The safe-mode flag (v5): at most one row, id 1; no row means off.
safe_mode = Table(
    "safe_mode",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("active", Integer, nullable=False),  # model.SafeMode.on: 0 or 1
    Column("reason", Text, nullable=False),
    Column("set_by", Text, nullable=False),
    Column("since", Integer, nullable=False),  # leader time, ms
)

if tuple(inodes.c.keys()) != INODE_FIELDS:  # the row <-> Inode mapping is positional
    raise RuntimeError(f"inodes columns {tuple(inodes.c.keys())} != Inode fields {INODE_FIELDS}")


# ---- prebuilt statements (compiled once, then served from the compiled cache) ----

_I, _B, _L, _R, _M = inodes.c, blocks.c, leases.c, retry_cache.c, meta.c
_D, _P, _V, _N, _X = datanodes.c, replicas.c, invalidations.c, mounts.c, xattrs.c
MAX_IN = 500  # ids per IN (...) list, well under SQLite's bound-variable limit

META = select(_M.value).where(_M.key == bindparam("key"))
PUT_META = meta.insert().prefix_with("OR REPLACE")
INODE = select(inodes).where(_I.id == bindparam("id"))
CHILD = select(inodes).where(_I.parent == bindparam("parent"), _I.name == bindparam("name"))
CHILDREN = (
    select(inodes)
    .where(_I.parent == bindparam("parent"), _I.name > bindparam("after"))
    .order_by(_I.name)
    .limit(bindparam("limit"))
)
COUNT_CHILDREN = (
    select(func.count())
    .select_from(inodes)
    .where(_I.parent == bindparam("parent"), _I.name > bindparam("after"))
)
# "holder != ''" lets SQLite use the partial index.
HELD_BY = select(inodes).where(_I.holder == bindparam("holder"), _I.holder != "").order_by(_I.id)
_upsert = sqlite_insert(inodes)
PUT_INODE = _upsert.on_conflict_do_update(
    index_elements=[_I.id], set_={f: _upsert.excluded[f] for f in INODE_FIELDS if f != "id"}
)
ADJUST_USAGE = (
    update(inodes)
    .where(_I.id.in_(bindparam("ids", expanding=True)))
    .values(ns_used=_I.ns_used + bindparam("ns"), ds_used=_I.ds_used + bindparam("ds"))
)
DELETE_INODE = delete(inodes).where(_I.id == bindparam("id"))
BLOCKS = select(blocks).where(_B.inode == bindparam("inode")).order_by(_B.idx)
BLOCK = select(blocks).where(_B.id == bindparam("id"))
_block_upsert = sqlite_insert(blocks)
PUT_BLOCK = _block_upsert.on_conflict_do_update(  # a clash on (inode, idx) still raises
    index_elements=[_B.id],
    set_={c: _block_upsert.excluded[c] for c in ("inode", "idx", "gen_stamp", "num_bytes")},
)
DELETE_BLOCK = delete(blocks).where(_B.id == bindparam("id"))
LEASE = select(leases).where(_L.holder == bindparam("holder"))
LEASES_BEFORE = (
    select(leases).where(_L.renewed < bindparam("cutoff")).order_by(_L.renewed, _L.holder)
)
PUT_LEASE = leases.insert().prefix_with("OR REPLACE")
DELETE_LEASE = delete(leases).where(_L.holder == bindparam("holder"))
RETRY = select(_R.result).where(
    _R.client_id == bindparam("client_id"), _R.call_id == bindparam("call_id")
)
PUT_RETRY = retry_cache.insert().prefix_with("OR REPLACE")
EXPIRE_RETRIES = delete(retry_cache).where(_R.expires < bindparam("now"))

BLOCKS_AFTER = (
    select(blocks).where(_B.id > bindparam("after")).order_by(_B.id).limit(bindparam("limit"))
)
DATANODE = select(datanodes).where(_D.id == bindparam("id"))
DATANODES = select(datanodes).order_by(_D.id)
PUT_DATANODE = datanodes.insert().prefix_with("OR REPLACE")
REPLICAS = select(replicas).where(_P.block == bindparam("block")).order_by(_P.datanode)
REPLICAS_ON = (
    select(replicas)
    .where(_P.datanode == bindparam("datanode"), _P.block > bindparam("after"))
    .order_by(_P.block)
    .limit(bindparam("limit"))
)
PUT_REPLICA = replicas.insert().prefix_with("OR REPLACE")
DELETE_REPLICA = delete(replicas).where(
    _P.block == bindparam("block"), _P.datanode == bindparam("datanode")
)
DELETE_BLOCK_REPLICAS = delete(replicas).where(_P.block == bindparam("block"))
INVALIDATIONS = (
    select(_V.block, _V.gen_stamp, _V.datanode)
    .where(_V.datanode == bindparam("datanode"))
    .order_by(_V.block)
    .limit(bindparam("limit"))
)
PUT_INVALIDATION = invalidations.insert().prefix_with("OR REPLACE")
DELETE_INVALIDATION = delete(invalidations).where(
    _V.block == bindparam("block"), _V.datanode == bindparam("datanode")
)
MOUNTS = select(mounts).order_by(_N.path)
PUT_MOUNT = mounts.insert().prefix_with("OR REPLACE")
DELETE_MOUNT = delete(mounts).where(_N.path == bindparam("path"))
XATTR = select(_X.value).where(_X.inode == bindparam("inode"), _X.name == bindparam("name"))
XATTRS = select(_X.name, _X.value).where(_X.inode == bindparam("inode")).order_by(_X.name)
# One scan of inodes (~6 ms for 100k rows, ~60 ms for 1M); blocks: its smallest index.
INODE_KINDS = select(
    func.coalesce(func.sum(_I.kind == int(Kind.FILE), type_=Integer), 0),
    func.coalesce(func.sum(_I.kind == int(Kind.DIR), type_=Integer), 0),
)
BLOCK_COUNT = select(func.count()).select_from(blocks)
PUT_XATTR = xattrs.insert().prefix_with("OR REPLACE")
DELETE_XATTR = delete(xattrs).where(_X.inode == bindparam("inode"), _X.name == bindparam("name"))
DELETE_INODE_XATTRS = delete(xattrs).where(_X.inode == bindparam("id"))

SAFE_MODE_ROW = 1
SAFE_MODE = select(
    safe_mode.c.active, safe_mode.c.reason, safe_mode.c.set_by, safe_mode.c.since
).where(safe_mode.c.id == SAFE_MODE_ROW)
PUT_SAFE_MODE = safe_mode.insert().prefix_with("OR REPLACE")

_KINDS = {k.value: k for k in Kind}

# Columns added to existing tables, with the version that added them: ``upgrade`` adds
# each one an older database lacks (a new table needs nothing: create_all makes it).
ADDED_COLUMNS: tuple[tuple[int, Table, str], ...] = (
    (6, datanodes, "maintenance_expiry INTEGER NOT NULL DEFAULT 0"),
)


def upgrade(conn: Any, version: int) -> None:
    """Bring a database of schema ``version`` (in ``UPGRADABLE``) up to ``SCHEMA_VERSION``,
    inside the caller's transaction, after ``metadata.create_all``."""
    for added_in, table, column in ADDED_COLUMNS:
        if version >= added_in:
            continue
        name = column.split()[0]
        have = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")}
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column}")


def to_inode(r: Any) -> Inode:
    """An ``inodes`` row (columns in ``INODE_FIELDS`` order) as an ``Inode``."""
    return Inode(
        r[0],
        r[1],
        r[2],
        _KINDS[r[3]],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
        bool(r[13]),
        r[14],
        r[15],
        r[16],
        r[17],
        r[18],
    )


def inode_params(inode: Inode) -> dict[str, object]:
    params = {f: getattr(inode, f) for f in INODE_FIELDS}
    params["kind"] = int(inode.kind)
    params["uc_block"] = int(inode.uc_block)
    return params
