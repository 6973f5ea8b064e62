"""An in-memory implementation of the store interface, for unit and Hypothesis tests.

Changes are made in place and recorded in an undo log, so savepoints and an
aborted transaction roll back exactly. One lock serialises the writer and the
readers: simple, and fast enough for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ha_namenode.namespace.model import (
    Block,
    Datanode,
    Inode,
    Invalidation,
    Lease,
    Replica,
    SafeMode,
)
from ha_namenode.namespace.store import NamespaceCounts, StaleIndex
from hafs_api.mounts import Mount

_MISSING = object()


class _Tables:
    def __init__(self) -> None:
        self.meta: dict[str, int] = {}
        self.inodes: dict[int, Inode] = {}
        self.names: dict[int, dict[str, int]] = {}  # parent -> name -> child id
        self.blocks: dict[int, Block] = {}
        self.file_blocks: dict[int, dict[int, int]] = {}  # inode -> index -> block id
        self.leases: dict[str, Lease] = {}
        self.retry: dict[tuple[str, int], tuple[bytes, int]] = {}
        self.datanodes: dict[str, Datanode] = {}
        self.replicas: dict[tuple[int, str], Replica] = {}  # (block, datanode)
        self.invalidations: dict[tuple[int, str], Invalidation] = {}
        self.mounts: dict[str, Mount] = {}
        self.xattrs: dict[int, dict[str, bytes]] = {}  # inode -> name -> value
        self.safe_mode: dict[str, SafeMode] = {}  # one entry, under "", once set


class _View:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def applied_index(self) -> int:
        return self._t.meta.get("applied_index", 0)

    def meta(self, key: str, default: int = 0) -> int:
        return self._t.meta.get(key, default)

    def inode(self, inode_id: int) -> Inode | None:
        return self._t.inodes.get(inode_id)

    def child(self, parent: int, name: str) -> Inode | None:
        child_id = self._t.names.get(parent, {}).get(name)
        return None if child_id is None else self._t.inodes[child_id]

    def children(self, parent: int, after: str = "", limit: int | None = None) -> list[Inode]:
        names = sorted(n for n in self._t.names.get(parent, {}) if n > after)
        if limit is not None:
            names = names[:limit]
        table = self._t.names[parent] if names else {}
        return [self._t.inodes[table[n]] for n in names]

    def count_children_after(self, parent: int, after: str) -> int:
        return sum(1 for n in self._t.names.get(parent, {}) if n > after)

    def blocks(self, inode_id: int) -> list[Block]:
        index = self._t.file_blocks.get(inode_id, {})
        return [self._t.blocks[index[i]] for i in sorted(index)]

    def block(self, block_id: int) -> Block | None:
        return self._t.blocks.get(block_id)

    def lease(self, holder: str) -> Lease | None:
        return self._t.leases.get(holder)

    def leases_renewed_before(self, cutoff: int) -> list[Lease]:
        return sorted(
            (x for x in self._t.leases.values() if x.renewed < cutoff),
            key=lambda x: (x.renewed, x.holder),
        )

    def files_held_by(self, holder: str) -> list[Inode]:
        if not holder:
            return []
        return sorted(
            (i for i in self._t.inodes.values() if i.holder == holder), key=lambda i: i.id
        )

    def retry_result(self, client_id: str, call_id: int) -> bytes | None:
        entry = self._t.retry.get((client_id, call_id))
        return None if entry is None else entry[0]

    def blocks_after(self, after: int, limit: int) -> list[Block]:
        ids = sorted(i for i in self._t.blocks if i > after)[:limit]
        return [self._t.blocks[i] for i in ids]

    def datanode(self, datanode_id: str) -> Datanode | None:
        return self._t.datanodes.get(datanode_id)

    def datanodes(self) -> list[Datanode]:
        return [self._t.datanodes[k] for k in sorted(self._t.datanodes)]

    def replicas(self, block_id: int) -> list[Replica]:
        return [r for (b, _), r in sorted(self._t.replicas.items()) if b == block_id]

    def replicas_on(self, datanode: str, after: int = 0, limit: int | None = None) -> list[Replica]:
        found = [r for (b, d), r in sorted(self._t.replicas.items()) if d == datanode and b > after]
        return found if limit is None else found[:limit]

    def invalidations(self, datanode: str, limit: int | None = None) -> list[Invalidation]:
        found = [v for (_, d), v in sorted(self._t.invalidations.items()) if d == datanode]
        return found if limit is None else found[:limit]

    def mounts(self) -> list[Mount]:
        return [self._t.mounts[p] for p in sorted(self._t.mounts)]

    def xattr(self, inode_id: int, name: str) -> bytes | None:
        return self._t.xattrs.get(inode_id, {}).get(name)

    def xattrs(self, inode_id: int) -> list[tuple[str, bytes]]:
        return sorted(self._t.xattrs.get(inode_id, {}).items())

    def counts(self) -> NamespaceCounts:
        directories = sum(1 for i in self._t.inodes.values() if i.is_dir)
        return NamespaceCounts(len(self._t.inodes) - directories, directories, len(self._t.blocks))

    def safe_mode(self) -> SafeMode:
        return self._t.safe_mode.get("", SafeMode())


class _Txn(_View):
    def __init__(self, tables: _Tables) -> None:
        super().__init__(tables)
        self.undo: list[tuple[dict, object, object]] = []

    def _set(self, table: dict, key: object, value: object) -> None:
        self.undo.append((table, key, table.get(key, _MISSING)))
        if value is _MISSING:
            table.pop(key, None)
        else:
            table[key] = value

    def rollback_to(self, mark: int) -> None:
        while len(self.undo) > mark:
            table, key, old = self.undo.pop()
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old

    def set_meta(self, key: str, value: int) -> None:
        self._set(self._t.meta, key, value)

    def put_inode(self, inode: Inode) -> None:
        old = self._t.inodes.get(inode.id)
        siblings = self._t.names.get(inode.parent)
        if siblings is not None:
            clash = siblings.get(inode.name)
            if clash is not None and clash != inode.id:
                raise ValueError(f"duplicate name {inode.name!r} under inode {inode.parent}")
        if old is not None and (old.parent, old.name) != (inode.parent, inode.name):
            self._set(self._t.names[old.parent], old.name, _MISSING)
        if inode.parent not in self._t.names:
            self._set(self._t.names, inode.parent, {})
        self._set(self._t.names[inode.parent], inode.name, inode.id)
        self._set(self._t.inodes, inode.id, inode)

    def update_inode(self, inode_id: int, changes: Mapping[str, object]) -> Inode:
        new = self._t.inodes[inode_id].replace(**changes)
        self.put_inode(new)
        return new

    def adjust_usage(self, inode_ids: list[int], ns_delta: int, ds_delta: int) -> None:
        for inode_id in inode_ids:
            node = self._t.inodes[inode_id]
            self._set(
                self._t.inodes,
                inode_id,
                node.replace(ns_used=node.ns_used + ns_delta, ds_used=node.ds_used + ds_delta),
            )

    def delete_inode(self, inode_id: int) -> None:
        old = self._t.inodes.get(inode_id)
        if old is None:
            return
        self._set(self._t.names[old.parent], old.name, _MISSING)
        self._set(self._t.inodes, inode_id, _MISSING)
        for name in list(self._t.xattrs.get(inode_id, {})):
            self._set(self._t.xattrs[inode_id], name, _MISSING)

    def put_block(self, block: Block) -> None:
        clash = self._t.file_blocks.get(block.inode, {}).get(block.index)
        if clash is not None and clash != block.id:
            raise ValueError(f"inode {block.inode} already has block {clash} at {block.index}")
        old = self._t.blocks.get(block.id)
        if old is not None and (old.inode, old.index) != (block.inode, block.index):
            self._set(self._t.file_blocks[old.inode], old.index, _MISSING)
        if block.inode not in self._t.file_blocks:
            self._set(self._t.file_blocks, block.inode, {})
        self._set(self._t.file_blocks[block.inode], block.index, block.id)
        self._set(self._t.blocks, block.id, block)

    def delete_block(self, block_id: int) -> None:
        old = self._t.blocks.get(block_id)
        if old is None:
            return
        self._set(self._t.file_blocks[old.inode], old.index, _MISSING)
        self._set(self._t.blocks, block_id, _MISSING)
        for replica in self.replicas(block_id):
            key = (block_id, replica.datanode)
            self._set(self._t.replicas, key, _MISSING)
            self._set(
                self._t.invalidations,
                key,
                Invalidation(block_id, max(replica.gen_stamp, old.gen_stamp), replica.datanode),
            )

    def put_datanode(self, datanode: Datanode) -> None:
        self._set(self._t.datanodes, datanode.id, datanode)

    def put_replica(self, replica: Replica) -> None:
        self._set(self._t.replicas, (replica.block, replica.datanode), replica)

    def delete_replica(self, block_id: int, datanode: str) -> None:
        if (block_id, datanode) in self._t.replicas:
            self._set(self._t.replicas, (block_id, datanode), _MISSING)

    def delete_invalidation(self, block_id: int, datanode: str) -> None:
        if (block_id, datanode) in self._t.invalidations:
            self._set(self._t.invalidations, (block_id, datanode), _MISSING)

    def put_mount(self, mount: Mount) -> None:
        self._set(self._t.mounts, mount.path, mount)

    def delete_mount(self, path: str) -> None:
        if path in self._t.mounts:
            self._set(self._t.mounts, path, _MISSING)

    def put_xattr(self, inode_id: int, name: str, value: bytes) -> None:
        if inode_id not in self._t.xattrs:
            self._set(self._t.xattrs, inode_id, {})
        self._set(self._t.xattrs[inode_id], name, bytes(value))

    def delete_xattr(self, inode_id: int, name: str) -> None:
        if name in self._t.xattrs.get(inode_id, {}):
            self._set(self._t.xattrs[inode_id], name, _MISSING)

    def set_safe_mode(self, mode: SafeMode) -> None:
        self._set(self._t.safe_mode, "", mode)

    def put_lease(self, lease: Lease) -> None:
        self._set(self._t.leases, lease.holder, lease)

    def delete_lease(self, holder: str) -> None:
        if holder in self._t.leases:
            self._set(self._t.leases, holder, _MISSING)

    def put_retry(self, client_id: str, call_id: int, result: bytes, expires: int) -> None:
        self._set(self._t.retry, (client_id, call_id), (result, expires))

    def expire_retries(self, now: int) -> int:
        old = [k for k, (_, expires) in self._t.retry.items() if expires < now]
        for key in old:
            self._set(self._t.retry, key, _MISSING)
        return len(old)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = len(self.undo)
        try:
            yield
        except BaseException:
            self.rollback_to(mark)
            raise


class MemoryStore:
    def __init__(self) -> None:
        self._tables = _Tables()
        self._lock = threading.RLock()

    def applied_index(self) -> int:
        return self._tables.meta.get("applied_index", 0)

    @contextmanager
    def read(self) -> Iterator[_View]:
        with self._lock:
            yield _View(self._tables)

    @contextmanager
    def write(self, index: int) -> Iterator[_Txn]:
        with self._lock:
            if index <= self.applied_index():
                raise StaleIndex(f"index {index} <= applied {self.applied_index()}")
            txn = _Txn(self._tables)
            try:
                yield txn
                txn.set_meta("applied_index", index)
            except BaseException:
                txn.rollback_to(0)
                raise

    def close(self) -> None:
        pass
