"""A tiny driver for the pure namespace core, shared by the namespace unit tests.

``Namespace`` wraps a ``MemoryStore`` and a ``StateMachine``: every ``run`` is one
log entry (the index counts up by itself) stamped with the harness clock, which
a test moves with ``advance``. ``do`` turns a ``Failed`` result into the matching
``HafsError``; ``fails`` asserts a command fails with one error class and leaves
the state exactly as it was. Imports only the core and the standard library.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ha_namenode.namespace import codec, queries, quota
from ha_namenode.namespace.applier import RETRY_TTL_MS, StateMachine
from ha_namenode.namespace.commands import (
    AddBlock,
    BeginBlockRecovery,
    BlockRef,
    CommitBlockRecovery,
    Complete,
    Create,
    Envelope,
    Format,
    Mkdir,
)
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import ROOT_ID, Caller, Failed, LocatedBlock
from ha_namenode.namespace.resolve import resolve
from hafs_api import paths
from hafs_api.errors import HafsError, make_error

SUPER = Caller("hdfs", ("supergroup",), True)
ALICE = Caller("alice", ("alice", "staff"))
BOB = Caller("bob", ("bob", "staff"))
START = 1_700_000_000_000  # 2023-11-14, ms
CAROL = Caller("carol", ("carol",))
BS = 1024  # block size of the scenario tests' files; replication 3 unless said
FIRST_BLOCK = 1 << 30
FIRST_GS = 1001
TRASH = 3_600_000  # trash interval, ms


class Namespace:
    """A formatted namespace in memory, with a clock and a log index."""

    def __init__(self, now: int = START, retry_ttl_ms: int = RETRY_TTL_MS) -> None:
        self.store = MemoryStore()
        self.machine = StateMachine(self.store, retry_ttl_ms)
        self.index = 0
        self.now = now
        self.do(Format("hdfs", "supergroup"))

    # ---- commands ---------------------------------------------------------------

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now

    def apply_raw(self, payload: bytes) -> list[Any] | None:
        """Apply one log entry of arbitrary bytes at the next index."""
        self.index += 1
        return self.machine.apply(self.index, payload)

    def apply_body(self, body: bytes) -> list[Any] | None:
        """Apply a hand-made batch body, framed as the codec frames batches."""
        return self.apply_raw(codec.frame(body))

    def batch(self, envelopes: list[Envelope]) -> list[Any]:
        results = self.apply_raw(codec.encode_batch(envelopes))
        assert results is not None
        return results

    def run(
        self,
        cmd: object,
        caller: Caller = SUPER,
        *,
        now: int | None = None,
        client_id: str = "",
        call_id: int = 0,
    ) -> Any:
        env = Envelope(cmd, caller, self.now if now is None else now, client_id, call_id)
        [result] = self.batch([env])
        return result

    def do(self, cmd: object, caller: Caller = SUPER, **kw: Any) -> Any:
        """Run ``cmd``; raise the matching ``HafsError`` if it failed."""
        result = self.run(cmd, caller, **kw)
        if isinstance(result, Failed):
            raise make_error(result.code, result.message, result.path)
        return result

    def fails(
        self, cmd: object, error: type[HafsError], caller: Caller = SUPER, **kw: Any
    ) -> Failed:
        """Assert ``cmd`` fails with exactly ``error`` and changes nothing; return the result."""
        before = self.state()
        result = self.run(cmd, caller, **kw)
        assert isinstance(result, Failed), f"expected {error.__name__}, got {result!r}"
        assert type(make_error(result.code, result.message)) is error, result
        assert self.state() == before, f"{type(cmd).__name__} failed but changed the state"
        return result

    def write(
        self,
        path: str,
        sizes: Sequence[int] = (),
        caller: Caller = SUPER,
        *,
        holder: str = "writer",
        replication: int = 3,
        block_size: int = 1024,
        perm: int = 0o644,
        overwrite: bool = False,
        close: bool = True,
    ) -> int:
        """Create ``path`` with one block per size (and close it); return its inode id."""
        status = self.do(Create(path, perm, holder, replication, block_size, overwrite), caller)
        previous = None
        for size in sizes:
            block = self.do(AddBlock(path, holder, previous=previous), caller)
            previous = BlockRef(block.block_id, block.gen_stamp, size)
        if close:
            self.do(Complete(path, holder, last=previous), caller)
        return status.inode_id

    def recover(self, path: str, num_bytes: int, datanodes: tuple[str, ...] = ()) -> None:
        """Block recovery of ``path``'s open last block at ``num_bytes``, as the leader does it."""
        with self.store.read() as view:
            node = resolve(view, path).require()
            block_id = view.blocks(node.id)[-1].id
        begun = self.do(BeginBlockRecovery(path, block_id))
        self.do(CommitBlockRecovery(path, block_id, begun.gen_stamp, num_bytes, datanodes))

    # ---- reads ------------------------------------------------------------------

    def read(self, query: Any, path: str, caller: Caller = SUPER, *args: Any, **kw: Any) -> Any:
        with self.store.read() as view:
            return query(view, caller, path, *args, **kw)

    def stat(self, path: str, caller: Caller = SUPER):
        return self.read(queries.stat, path, caller)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except FileNotFoundError:
            return False
        return True

    def ls(self, path: str, caller: Caller = SUPER, **kw: Any) -> list[str]:
        """Names in the directory (all pages)."""
        names: list[str] = []
        after = kw.pop("after", "")
        while True:
            page = self.read(queries.listing, path, caller, after=after, **kw)
            names += [e.path.rsplit("/", 1)[-1] for e in page.entries]
            if not page.remaining or not page.entries:
                return names
            after = names[-1]

    def summary(self, path: str, caller: Caller = SUPER):
        return self.read(queries.content_summary, path, caller)

    def locations(self, path: str, caller: Caller = SUPER, **kw: Any):
        return self.read(queries.block_locations, path, caller, **kw)

    def inode(self, path: str):
        """The raw inode row (quota usage and all)."""
        return self.store._tables.inodes[self.stat(path).inode_id]

    def state(self) -> dict[str, Any]:
        """A copy of every table but the applied index, the log digest and the retry cache."""
        t = self.store._tables
        meta = {k: v for k, v in t.meta.items() if k not in ("applied_index", "log_digest")}
        return copy.deepcopy(
            {
                "meta": meta,
                "inodes": t.inodes,
                "names": t.names,
                "blocks": t.blocks,
                "file_blocks": t.file_blocks,
                "leases": t.leases,
                "xattrs": {i: x for i, x in t.xattrs.items() if x},
                "safe_mode": t.safe_mode,
            }
        )

    def check_invariants(self) -> None:
        """The tables agree with themselves; usage equals a recount under every quota."""
        t = self.store._tables
        reachable, stack = set(), [ROOT_ID]
        while stack:
            node_id = stack.pop()
            reachable.add(node_id)
            stack.extend(t.names.get(node_id, {}).values())
        assert reachable == set(t.inodes), "orphan or missing inodes"
        holders = set()
        with self.store.read() as view:
            for node in t.inodes.values():
                kids = t.names.get(node.id, {})
                if node.id != ROOT_ID:
                    assert t.names[node.parent][node.name] == node.id
                if node.is_dir:
                    assert node.children == len(kids), f"children of {node.name!r}"
                    usage = _recount(view, node) if node.has_quota else (0, 0)
                    assert (node.ns_used, node.ds_used) == usage, f"usage of {node.name!r}"
                    continue
                assert not kids
                blocks = view.blocks(node.id)
                assert [b.index for b in blocks] == list(range(len(blocks)))
                assert node.length == sum(b.num_bytes for b in blocks)
                assert not node.uc_block or (blocks and node.holder)
                if node.holder:
                    holders.add(node.holder)
            for block in t.blocks.values():
                assert t.inodes[block.inode].is_file, f"orphan block {block.id}"
        assert set(t.leases) == holders, "a lease without files, or a file without lease"
        assert {i for i, x in t.xattrs.items() if x} <= set(t.inodes), "xattrs of no inode"


def _recount(view, root) -> tuple[int, int]:
    """(inodes, bytes with replicas) under ``root``, by walking the names table."""
    ns = ds = 0
    stack = [root]
    while stack:
        node = stack.pop()
        ns += 1
        if node.is_file:
            ds += quota.file_space(view, node)
        else:
            stack += view.children(node.id)
    return ns, ds


def build(ns: Namespace, *spec: str) -> None:
    """``/x/`` makes a directory (with parents), ``/x`` a closed file of 100 bytes."""
    for path in spec:
        ns.do(Mkdir(paths.parent(path.rstrip("/")), 0o755, parents=True, exist_ok=True))
        if path.endswith("/"):
            ns.do(Mkdir(path.rstrip("/"), 0o755))
        else:
            ns.write(path, [100])


def usage(ns: Namespace, path: str) -> tuple[int, int]:
    node = ns.inode(path)
    return node.ns_used, node.ds_used


def block_ref(b: LocatedBlock, num_bytes: int = 10, *, block: int = 0, gs: int = 0) -> BlockRef:
    """The writer's report of block ``b``, optionally with a wrong id or generation stamp."""
    return BlockRef(b.block_id + block, b.gen_stamp + gs, num_bytes)
