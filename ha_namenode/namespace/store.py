"""The small store interface the namespace logic runs on.

Two implementations keep the same contract: ``memstore.MemoryStore`` (tests,
Hypothesis) and ``ha_namenode.persistence.sqlstore.SqlStore`` (SQLite through
SQLAlchemy Core). A conformance suite in ``tests/unit/test_store_contract.py``
runs against both.

Threading: one writer at a time (the apply thread) through ``write()``; any
number of concurrent readers through ``read()``, each seeing a consistent
committed view.

Apply is idempotent per log index: ``write(index)`` refuses an index at or below
``applied_index()``; the index is committed in the same transaction as the
changes it made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

from ha_namenode.namespace.model import (
    Block,
    Datanode,
    Inode,
    Invalidation,
    Lease,
    Replica,
    SafeMode,
)
from hafs_api.mounts import Mount


class StaleIndex(Exception):
    """``write(index)`` was given an index that is already applied."""


class StoreFailure(Exception):
    """The storage under the store failed (I/O error, disk full).

    Not a domain error: the batch is not applied, and the node must not go on
    as if it were (see docs/design.md, "Failure of the store").
    """

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


# Counters kept in the store's meta table.
NEXT_INODE = "next_inode_id"
NEXT_BLOCK = "next_block_id"
NEXT_GEN_STAMP = "next_gen_stamp"
MOUNT_VERSION = "mount_version"  # the version of the mount table in the ``mounts`` table
# The replicated log digest: a hash chain over every applied entry (``applier.chain``).
LOG_DIGEST = "log_digest"


class NamespaceCounts(NamedTuple):
    files: int
    directories: int  # the root included
    blocks: int


class StoreView(Protocol):
    """Read access to one consistent state."""

    def applied_index(self) -> int: ...

    def meta(self, key: str, default: int = 0) -> int: ...

    def inode(self, inode_id: int) -> Inode | None: ...

    def child(self, parent: int, name: str) -> Inode | None: ...

    def children(self, parent: int, after: str = "", limit: int | None = None) -> list[Inode]:
        """Children of ``parent`` with names > ``after``, in byte order of UTF-8 names."""
        ...

    def count_children_after(self, parent: int, after: str) -> int: ...

    def blocks(self, inode_id: int) -> list[Block]:
        """The file's blocks in index order."""
        ...

    def block(self, block_id: int) -> Block | None: ...

    def lease(self, holder: str) -> Lease | None: ...

    def leases_renewed_before(self, cutoff: int) -> list[Lease]: ...

    def files_held_by(self, holder: str) -> list[Inode]:
        """Files open for writing by ``holder`` (none for an empty holder), by id."""
        ...

    def retry_result(self, client_id: str, call_id: int) -> bytes | None: ...

    def blocks_after(self, after: int, limit: int) -> list[Block]:
        """Blocks with ids > ``after``, in id order (the replication monitor's scan)."""
        ...

    def datanode(self, datanode_id: str) -> Datanode | None: ...

    def datanodes(self) -> list[Datanode]:
        """Every registered DataNode, by id."""
        ...

    def replicas(self, block_id: int) -> list[Replica]:
        """The block's replicas, by DataNode id."""
        ...

    def replicas_on(self, datanode: str, after: int = 0, limit: int | None = None) -> list[Replica]:
        """Replicas on ``datanode`` with block ids > ``after``, in block id order."""
        ...

    def invalidations(self, datanode: str, limit: int | None = None) -> list[Invalidation]:
        """Replicas of removed blocks still on ``datanode``, in block id order."""
        ...

    def mounts(self) -> list[Mount]:
        """The mount table's entries, by path (its version is ``meta(MOUNT_VERSION)``)."""
        ...

    def xattr(self, inode_id: int, name: str) -> bytes | None:
        """The value of the inode's extended attribute ``name``, or None if it is not set."""
        ...

    def xattrs(self, inode_id: int) -> list[tuple[str, bytes]]:
        """The inode's extended attributes as (name, value), in byte order of UTF-8 names."""
        ...

    def counts(self) -> NamespaceCounts:
        """How many files, directories and blocks there are (metrics; one pass, no walk)."""
        ...

    def safe_mode(self) -> SafeMode:
        """The safe-mode flag (``SafeMode()``, off, until first set)."""
        ...


class StoreTxn(StoreView, Protocol):
    """A write transaction. Changes are visible to this transaction at once."""

    def set_meta(self, key: str, value: int) -> None: ...

    def put_inode(self, inode: Inode) -> None:
        """Insert or replace by id; (parent, name) must stay unique."""
        ...

    def update_inode(self, inode_id: int, changes: Mapping[str, object]) -> Inode:
        """Apply field assignments to the current row and return the new row."""
        ...

    def adjust_usage(self, inode_ids: list[int], ns_delta: int, ds_delta: int) -> None:
        """Add deltas to ``ns_used``/``ds_used`` of the given directories."""
        ...

    def delete_inode(self, inode_id: int) -> None:
        """Remove the inode and its extended attributes (not its blocks)."""
        ...

    def put_block(self, block: Block) -> None:
        """Insert or replace by id; (inode, index) must stay unique (ValueError)."""
        ...

    def delete_block(self, block_id: int) -> None:
        """Remove the block; each of its replicas becomes an invalidation of its DataNode."""
        ...

    def put_datanode(self, datanode: Datanode) -> None: ...

    def put_replica(self, replica: Replica) -> None:
        """Insert or replace by (block, datanode)."""
        ...

    def delete_replica(self, block_id: int, datanode: str) -> None: ...

    def delete_invalidation(self, block_id: int, datanode: str) -> None: ...

    def put_mount(self, mount: Mount) -> None:
        """Insert or replace by path."""
        ...

    def delete_mount(self, path: str) -> None: ...

    def put_xattr(self, inode_id: int, name: str, value: bytes) -> None:
        """Insert or replace by (inode, name)."""
        ...

    def delete_xattr(self, inode_id: int, name: str) -> None: ...

    def set_safe_mode(self, mode: SafeMode) -> None: ...

    def put_lease(self, lease: Lease) -> None: ...

    def delete_lease(self, holder: str) -> None: ...

    def put_retry(self, client_id: str, call_id: int, result: bytes, expires: int) -> None: ...

    def expire_retries(self, now: int) -> int:
        """Drop retry-cache entries whose expiry is before ``now``; return how many."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope: an exception inside rolls back only its changes, then propagates."""
        ...


class Store(Protocol):
    def applied_index(self) -> int: ...

    def read(self) -> AbstractContextManager[StoreView]: ...

    def write(self, index: int) -> AbstractContextManager[StoreTxn]:
        """Open the transaction that applies log entry ``index``; commits on clean exit.

        Raises StaleIndex if ``index <= applied_index()``.
        """
        ...

    def close(self) -> None: ...


def children_paged(view: StoreView, parent: int, page: int = 1000) -> Iterator[Inode]:
    """Every child of ``parent`` in name order, read a page at a time."""
    after = ""
    while True:
        batch = view.children(parent, after, page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].name


def walk(view: StoreView, root: Inode, page: int = 1000) -> Iterator[Inode]:
    """Every inode of the subtree under ``root``: pre-order, siblings in name order.

    Holds one page of children per level, not whole directories.
    """
    yield root
    stack = [children_paged(view, root.id, page)] if root.is_dir and root.children else []
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        yield node
        if node.is_dir and node.children:
            stack.append(children_paged(view, node.id, page))
