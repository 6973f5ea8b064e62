"""A Hypothesis state machine that drives the namespace core against a simple model.

The model is a dict ``path -> Entry(kind, perm, owner, length, xattrs)`` plus the
namespace quotas by path and the safe-mode flag (while it is on, every change is
refused with SAFE_MODE before any other check; only the superuser toggles it,
and it is on for about a quarter of the steps). Each rule asks the model what
the command should do (success, or the exact error code, checked in the same
order HDFS and the core check them) and asserts the core agrees; after every
step the tree listed through ``queries.listing`` (with each path's extended
attributes) must equal the model, every table invariant must hold
(``Namespace.check_invariants``), quota usage must equal the model's count and
the safe-mode flag the model's.

Paths are drawn from three names up to depth three, so collisions, renames into
a path's own subtree and onto existing targets are frequent. Two callers, the
superuser and alice (in no group of the tree, so "other" bits apply to her),
make permission denials frequent. All groups stay ``supergroup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from nsharness import SUPER, Namespace

from ha_namenode.namespace import queries, xattrs
from ha_namenode.namespace.commands import (
    XATTR_CREATE,
    XATTR_REPLACE,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    Delete,
    ExpungeTrash,
    Mkdir,
    RemoveXAttr,
    Rename,
    SetPermission,
    SetQuota,
    SetReplication,
    SetSafeMode,
    SetXAttr,
)
from ha_namenode.namespace.model import Caller, Done, Failed, Kind, SafeMode
from ha_namenode.namespace.resolve import path_of
from ha_namenode.namespace.trash import checkpoint_name, checkpoint_time
from ha_namenode.namespace.tree import dir_perm_for
from hafs_api import paths

ALICE = Caller("alice", ("alice",))
BS = 100  # small blocks, so appends both fill and reopen last blocks
TRASH = 3_600_000
TRASH_ROOT = "/user/hdfs/.Trash"
DIR, FILE = "dir", "file"
R, W, X = 4, 2, 1
STICKY = 0o1000

PATHS = st.lists(st.sampled_from("abc"), min_size=1, max_size=3).map(paths.join)
USERS = st.sampled_from([SUPER, ALICE])
DIR_PERMS = st.sampled_from([0o755, 0o777, 0o700, 0o1777, 0o500, 0o311, 0o000])
FILE_PERMS = st.sampled_from([0o644, 0o666, 0o600, 0o444, 0o622])
XATTR_NAMES = st.sampled_from(["user.a", "user.b", "USER.a", "trusted.t"])
XATTR_VALUES = st.sampled_from([b"", b"1", b"2"])
MAX_XATTRS = 2  # small, so the per-inode limit is met often


class Entry(NamedTuple):
    kind: str
    perm: int
    owner: str
    length: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()  # by name


class Err(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


Chain = list[tuple[str, Entry | None]]


def allowed(user: Caller, e: Entry, action: int) -> bool:
    if user.superuser:
        return True
    bits = e.perm >> 6 if e.owner == user.user else e.perm
    return bits & action == action


def found(chain: Chain) -> int:
    return max(i for i, (_, e) in enumerate(chain) if e is not None)


class Model:
    def __init__(
        self, tree: dict[str, Entry], quota: dict[str, int], safe: SafeMode | None = None
    ) -> None:
        self.tree = tree
        self.quota = quota
        self.safe = safe or SafeMode()

    def copy(self) -> Model:
        return Model(dict(self.tree), dict(self.quota), self.safe)

    # ---- helpers -------------------------------------------------------------------

    def under(self, path: str) -> list[str]:
        return [p for p in self.tree if paths.is_ancestor(path, p)]

    def has_children(self, path: str) -> bool:
        return any(p != "/" and paths.parent(p) == path for p in self.tree)

    def chain(self, path: str) -> Chain:
        """As ``resolve``: the entries along the path, None from the first missing or file."""
        out: Chain = [("/", self.tree["/"])]
        names = paths.split(path)
        current: Entry | None = self.tree["/"]
        for i in range(len(names)):
            prefix = paths.join(names[: i + 1])
            current = self.tree.get(prefix) if current and current.kind == DIR else None
            out.append((prefix, current))
        return out

    def need(self, user: Caller, e: Entry, action: int) -> None:
        if not allowed(user, e, action):
            raise Err("ACCESS_DENIED")

    def traverse(self, user: Caller, chain: Chain, upto: int | None = None) -> None:
        for _, e in chain[: len(chain) - 1 if upto is None else upto]:
            if e is None or e.kind != DIR:
                return
            self.need(user, e, X)

    def sticky(self, user: Caller, parent: Entry, child: Entry) -> None:
        if user.superuser or not parent.perm & STICKY or user.user in (parent.owner, child.owner):
            return
        raise Err("ACCESS_DENIED")

    def quota_dirs(self, chain: Chain) -> set[str]:
        return {p for p, e in chain if e is not None and e.kind == DIR and p in self.quota}

    def charge(self, dirs: set[str], n: int) -> None:
        for d in dirs:
            if n > 0 and len(self.under(d)) + n > self.quota[d]:
                raise Err("NS_QUOTA_EXCEEDED")

    def parent_dir(self, chain: Chain) -> Entry:
        parent = chain[-2][1]
        if parent is not None and parent.kind == DIR:
            return parent
        top = chain[found(chain)][1]
        assert top is not None
        raise Err("PARENT_NOT_DIRECTORY" if top.kind != DIR else "FILE_NOT_FOUND")

    def remove(self, path: str) -> None:
        for p in self.under(path):
            del self.tree[p]
            self.quota.pop(p, None)

    def target(self, user: Caller, path: str) -> Entry:
        chain = self.chain(path)
        self.traverse(user, chain)
        node = chain[-1][1]
        if node is None:
            raise Err("FILE_NOT_FOUND")
        return node

    def make_dirs(self, user: Caller, chain: Chain, perm: int, through_last: bool) -> None:
        end = len(chain) - 1 if through_last else len(chain) - 2
        k = found(chain)
        top = chain[k][1]
        assert top is not None
        if top.kind != DIR:
            raise Err("PARENT_NOT_DIRECTORY")
        if k >= end:
            return
        self.traverse(user, chain, k)
        self.need(user, top, W | X)
        self.charge(self.quota_dirs(chain[: k + 1]), end - k)
        for i in range(k, end):
            last = i == end - 1
            bits = perm if last and through_last else perm | 0o300
            self.tree[chain[i + 1][0]] = Entry(DIR, bits, user.user)

    # ---- commands ----------------------------------------------------------------

    def mkdir(self, user: Caller, path: str, perm: int, parents: bool, exist_ok: bool) -> None:
        chain = self.chain(path)
        self.traverse(user, chain)
        last = chain[-1][1]
        if last is not None:
            if last.kind == DIR and exist_ok:
                return
            raise Err("FILE_ALREADY_EXISTS")
        k = found(chain)
        top = chain[k][1]
        assert top is not None
        if k < len(chain) - 2 and top.kind == DIR and not parents:
            raise Err("FILE_NOT_FOUND")
        self.make_dirs(user, chain, perm & 0o1777, True)

    def create(
        self, user: Caller, path: str, perm: int, overwrite: bool, create_parent: bool
    ) -> None:
        if path == "/":
            raise Err("FILE_ALREADY_EXISTS")
        chain = self.chain(path)
        self.traverse(user, chain)
        if create_parent and chain[-2][1] is None:
            self.make_dirs(user, chain, dir_perm_for(perm), False)
            chain = self.chain(path)
        parent = self.parent_dir(chain)
        self.need(user, parent, W | X)
        existing = chain[-1][1]
        if existing is not None:
            if existing.kind == DIR:
                raise Err("FILE_ALREADY_EXISTS")
            if overwrite:
                self.need(user, existing, W)
            else:
                raise Err("FILE_ALREADY_EXISTS")
            self.sticky(user, parent, existing)
            self.remove(path)
        self.charge(self.quota_dirs(chain[:-1]), 1)
        self.tree[path] = Entry(FILE, perm & 0o1777, user.user)

    def rename(self, user: Caller, src: str, dst: str, overwrite: bool) -> None:
        if src == "/":
            raise Err("INVALID_PATH")
        sc, dc = self.chain(src), self.chain(dst)
        self.traverse(user, sc)
        node = sc[-1][1]
        if node is None:
            raise Err("FILE_NOT_FOUND")
        src_parent = sc[-2][1]
        assert src_parent is not None
        self.need(user, src_parent, W | X)
        self.sticky(user, src_parent, node)
        if src == dst:
            raise Err("FILE_ALREADY_EXISTS")
        if paths.is_ancestor(src, dst):
            raise Err("INVALID_ARGUMENT")
        if dst == "/":
            raise Err("FILE_ALREADY_EXISTS")
        self.traverse(user, dc)
        dst_parent = self.parent_dir(dc)
        self.need(user, dst_parent, W | X)
        target = dc[-1][1]
        if target is not None:
            if not overwrite:
                raise Err("FILE_ALREADY_EXISTS")
            if node.kind == FILE and target.kind == DIR:
                raise Err("IS_A_DIRECTORY")
            if node.kind == DIR and target.kind == FILE:
                raise Err("PARENT_NOT_DIRECTORY")
            if target.kind == DIR and self.has_children(dst):
                raise Err("DIRECTORY_NOT_EMPTY")
            self.sticky(user, dst_parent, target)
        src_dirs, dst_dirs = self.quota_dirs(sc[:-1]), self.quota_dirs(dc[:-1])
        if target is not None:
            self.remove(dst)
        self.charge(dst_dirs - src_dirs, len(self.under(src)))
        for p in self.under(src):
            moved = dst + p[len(src) :]
            self.tree[moved] = self.tree.pop(p)
            if p in self.quota:
                self.quota[moved] = self.quota.pop(p)

    def delete(self, user: Caller, path: str, recursive: bool) -> None:
        if path == "/":
            raise Err("INVALID_PATH")
        chain = self.chain(path)
        node = self.target(user, path)
        parent = chain[-2][1]
        assert parent is not None
        self.need(user, parent, W | X)
        self.sticky(user, parent, node)
        if node.kind == DIR and self.has_children(path) and not recursive:
            raise Err("DIRECTORY_NOT_EMPTY")
        if node.kind == DIR and recursive:
            for p in self.under(path):
                e = self.tree[p]
                if e.kind == DIR and self.has_children(p) and not allowed(user, e, R | W | X):
                    raise Err("ACCESS_DENIED")
        self.remove(path)

    def trash(self, path: str, recursive: bool, now: int) -> str:
        """A delete by the superuser that may go to /user/hdfs/.Trash; returns where to."""
        if path == "/":
            raise Err("INVALID_PATH")
        node = self.target(SUPER, path)
        if node.kind == DIR and self.has_children(path) and not recursive:
            raise Err("DIRECTORY_NOT_EMPTY")
        if paths.is_ancestor(TRASH_ROOT, path):  # already in the trash: gone for good
            self.remove(path)
            return ""
        if paths.is_ancestor(path, TRASH_ROOT):
            raise Err("INVALID_ARGUMENT")
        parent = paths.parent(path)
        trash_parent = f"{TRASH_ROOT}/Current" + ("" if parent == "/" else parent)
        chain = self.chain(trash_parent)
        k = found(chain)
        if chain[k][1].kind != DIR:  # a file in the way gets the time added
            names = list(paths.split(trash_parent))
            names[k - 1] += str(now)
            trash_parent = paths.join(names)
            chain = self.chain(trash_parent)
        self.make_dirs(SUPER, chain, 0o700, True)
        target = paths.child(trash_parent, paths.basename(path))
        suffix = 0
        while (f"{target}{suffix}" if suffix else target) in self.tree:
            suffix = suffix + 1 if suffix else now
        target = f"{target}{suffix}" if suffix else target
        self.rename(SUPER, path, target, False)
        return target

    def expunge(
        self, user: str, now: int, interval: int, immediate: bool
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if user:
            users = [user]
        else:
            home = self.tree.get("/user")
            users = (
                []
                if home is None or home.kind != DIR
                else sorted(
                    paths.basename(p) for p in self.tree if p != "/" and paths.parent(p) == "/user"
                )
            )
        made: list[str] = []
        removed: list[str] = []
        for name in users:
            root = f"/user/{name}/.Trash"
            trash = self.tree.get(root)
            if trash is None or trash.kind != DIR:
                continue
            for p in sorted(p for p in self.tree if p != "/" and paths.parent(p) == root):
                stamp = checkpoint_time(paths.basename(p))
                if paths.basename(p) == "Current" or stamp is None:
                    continue
                if immediate or now - stamp >= interval:
                    self.remove(p)
                    removed.append(p)
            current = f"{root}/Current"
            if current not in self.tree:
                continue
            if immediate:
                self.remove(current)
                removed.append(current)
                continue
            base = target = f"{root}/{checkpoint_name(now)}"
            attempt = 0
            while target in self.tree:
                attempt += 1
                target = f"{base}-{attempt}"
            self.rename(SUPER, current, target, False)
            made.append(target)
        return tuple(made), tuple(removed)

    def set_permission(self, user: Caller, path: str, perm: int) -> None:
        node = self.target(user, path)
        if not user.superuser and node.owner != user.user:
            raise Err("ACCESS_DENIED")
        self.tree[path] = node._replace(perm=perm)

    def set_quota(self, user: Caller, path: str, quota: int) -> None:
        if not user.superuser:
            raise Err("ACCESS_DENIED")
        if self.target(user, path).kind != DIR:
            raise Err("INVALID_ARGUMENT")
        if quota == -1:
            self.quota.pop(path, None)
        else:
            self.quota[path] = quota

    def append(self, user: Caller, path: str) -> None:
        node = self.target(user, path)
        if node.kind == DIR:
            raise Err("IS_A_DIRECTORY")
        self.need(user, node, W)

    def set_replication(self, user: Caller, path: str) -> bool:
        node = self.target(user, path)
        self.need(user, node, W)
        return node.kind == FILE

    def set_safe_mode(self, user: Caller, on: bool, reason: str, now: int) -> SafeMode:
        if not user.superuser:
            raise Err("ACCESS_DENIED")
        if on != self.safe.on:
            self.safe = SafeMode(True, reason, user.user, now) if on else SafeMode()
        return self.safe

    def xattr_target(self, user: Caller, path: str, name: str) -> Entry:
        """Namespace, path, then the right to change (HDFS checkXAttrChangeAccess)."""
        if name.startswith("trusted.") and not user.superuser:
            raise Err("ACCESS_DENIED")
        node = self.target(user, path)
        if name.startswith("user."):
            if node.kind == DIR and node.perm & STICKY:
                if not user.superuser and node.owner != user.user:
                    raise Err("ACCESS_DENIED")
            else:
                self.need(user, node, W)
        return node

    def set_xattr(
        self,
        user: Caller,
        path: str,
        name: str,
        value: bytes,
        flag: int,
        compare: bool,
        expected: bytes | None,
    ) -> bool:
        node = self.xattr_target(user, path, name)
        if compare:
            self.need(user, node, R)
        current = dict(node.xattrs).get(name)
        if flag == XATTR_CREATE and current is not None:
            raise Err("XATTR_EXISTS")
        if flag == XATTR_REPLACE and current is None:
            raise Err("XATTR_NOT_FOUND")
        if compare and current != expected:
            return False
        if current is None and len(node.xattrs) >= MAX_XATTRS:
            raise Err("INVALID_ARGUMENT")
        values = {**dict(node.xattrs), name: value}
        self.tree[path] = node._replace(xattrs=tuple(sorted(values.items())))
        return True

    def remove_xattr(self, user: Caller, path: str, name: str) -> None:
        node = self.xattr_target(user, path, name)
        values = dict(node.xattrs)
        if values.pop(name, None) is None:
            raise Err("XATTR_NOT_FOUND")
        self.tree[path] = node._replace(xattrs=tuple(sorted(values.items())))


class NamespaceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ns = Namespace()
        self.ns.do(SetPermission("/", 0o777))
        self.model = Model({"/": Entry(DIR, 0o777, "hdfs")}, {})

    def step(self, cmd: object, user: Caller, predict: Callable[[Model], Any]) -> tuple[Any, Any]:
        """Run ``cmd``; assert the core's outcome is the model's; return (result, model value)."""
        self.ns.advance(1)
        model = self.model.copy()
        try:
            if model.safe.on and not isinstance(cmd, SetSafeMode):
                raise Err("SAFE_MODE")  # checked before the command's own checks
            value, expected = predict(model), "OK"
        except Err as e:
            value, expected = None, e.code
        result = self.ns.run(cmd, user)
        got = result.code if isinstance(result, Failed) else "OK"
        assert got == expected, f"{cmd!r} as {user.user}: core {result!r}, model {expected}"
        if got == "OK":
            self.model = model
        return result, value

    def pick(self, data: st.DataObject, root: bool = False, fresh: bool = False) -> str:
        """A path from the alphabet, or one that exists (trash included), or a new name
        in an existing directory (``fresh``)."""
        existing = sorted(p for p in self.model.tree if root or p != "/")
        choices = [PATHS]
        if existing:
            choices.append(st.sampled_from(existing))
        if fresh:
            dirs = sorted(p for p, e in self.model.tree.items() if e.kind == DIR)
            choices.append(st.builds(paths.child, st.sampled_from(dirs), st.sampled_from("abcd")))
        return data.draw(st.one_of(choices))

    @initialize(
        spec=st.lists(
            st.tuples(PATHS, USERS, st.sampled_from([0o755, 0o777, 0o1777, 0])), max_size=12
        )
    )
    def populate(self, spec: list[tuple[str, Caller, int]]) -> None:
        """Start from a random tree: a perm of 0 makes a file, anything else a directory."""
        for path, user, perm in spec:
            if perm:
                self.mkdir(user, path, perm, True, True)
            else:
                self.create(user, path, 0o666, False, True, 1)

    @rule(user=USERS, path=PATHS, perm=DIR_PERMS, parents=st.booleans(), exist_ok=st.booleans())
    def mkdir(self, user: Caller, path: str, perm: int, parents: bool, exist_ok: bool) -> None:
        self.step(
            Mkdir(path, perm, parents, exist_ok),
            user,
            lambda m: m.mkdir(user, path, perm, parents, exist_ok),
        )

    @rule(
        user=USERS,
        path=PATHS,
        perm=FILE_PERMS,
        overwrite=st.booleans(),
        create_parent=st.booleans(),
        replication=st.integers(1, 3),
    )
    def create(
        self,
        user: Caller,
        path: str,
        perm: int,
        overwrite: bool,
        create_parent: bool,
        replication: int,
    ) -> None:
        holder = f"w{self.ns.index}"
        cmd = Create(path, perm, holder, replication, BS, overwrite, create_parent)
        result, _ = self.step(
            cmd, user, lambda m: m.create(user, path, perm, overwrite, create_parent)
        )
        if not isinstance(result, Failed):
            assert self.ns.do(Complete(path, holder, result.inode_id), user) == Done()

    @rule(user=USERS, overwrite=st.booleans(), data=st.data())
    def rename(self, user: Caller, overwrite: bool, data: st.DataObject) -> None:
        src, dst = self.pick(data), self.pick(data, fresh=True)
        self.step(Rename(src, dst, overwrite), user, lambda m: m.rename(user, src, dst, overwrite))

    @rule(user=USERS, recursive=st.booleans(), data=st.data())
    def delete(self, user: Caller, recursive: bool, data: st.DataObject) -> None:
        path = self.pick(data)
        cmd = Delete(path, recursive, skip_trash=True, trash_interval=TRASH)
        self.step(cmd, user, lambda m: m.delete(user, path, recursive))

    @rule(recursive=st.booleans(), data=st.data())
    def delete_to_trash(self, recursive: bool, data: st.DataObject) -> None:
        path = self.pick(data)
        result, where = self.step(
            Delete(path, recursive, trash_interval=TRASH),
            SUPER,
            lambda m: m.trash(path, recursive, self.ns.now),
        )
        if not isinstance(result, Failed):
            assert result.trash_path == where

    @rule(
        user=st.sampled_from(["hdfs", ""]),
        interval=st.sampled_from([0, 10**12]),
        immediate=st.booleans(),
    )
    def expunge(self, user: str, interval: int, immediate: bool) -> None:
        result, expected = self.step(
            ExpungeTrash(user, interval, immediate),
            SUPER,
            lambda m: m.expunge(user, self.ns.now, interval, immediate),
        )
        if not isinstance(result, Failed):  # refused in safe mode
            assert (result.checkpoints, result.removed) == expected

    @rule(user=USERS, perm=DIR_PERMS, data=st.data())
    def set_permission(self, user: Caller, perm: int, data: st.DataObject) -> None:
        path = self.pick(data, root=True)
        self.step(SetPermission(path, perm), user, lambda m: m.set_permission(user, path, perm))

    @rule(user=USERS, quota=st.sampled_from([1, 2, 3, 5, 8, -1]), data=st.data())
    def set_quota(self, user: Caller, quota: int, data: st.DataObject) -> None:
        path = self.pick(data, root=True)
        self.step(SetQuota(path, ns_quota=quota), user, lambda m: m.set_quota(user, path, quota))

    @rule(user=USERS, size=st.integers(0, 5 * BS // 2), data=st.data())
    def append(self, user: Caller, size: int, data: st.DataObject) -> None:
        """Append ``size`` bytes as a writer does: fill the reopened block, add more, close."""
        path = self.pick(data)
        holder = f"w{self.ns.index}"
        result, _ = self.step(Append(path, holder), user, lambda m: m.append(user, path))
        if isinstance(result, Failed):
            return
        last, start = result.last_block, self.model.tree[path].length
        ref = None if last is None else (last.block_id, last.gen_stamp)
        filled = 0 if last is None else last.num_bytes
        remaining = size
        while ref is None or remaining:
            if ref is None or filled == BS:
                previous = None if ref is None else BlockRef(*ref, filled)
                block = self.ns.do(AddBlock(path, holder, previous=previous), user)
                assert block.offset == start + size - remaining
                ref, filled = (block.block_id, block.gen_stamp), 0
            take = min(BS - filled, remaining)
            filled, remaining = filled + take, remaining - take
        assert self.ns.do(Complete(path, holder, last=BlockRef(*ref, filled)), user) == Done()
        self.model.tree[path] = self.model.tree[path]._replace(length=start + size)

    @rule(user=USERS, replication=st.integers(1, 4), data=st.data())
    def set_replication(self, user: Caller, replication: int, data: st.DataObject) -> None:
        path = self.pick(data)
        result, is_file = self.step(
            SetReplication(path, replication), user, lambda m: m.set_replication(user, path)
        )
        if not isinstance(result, Failed):
            assert result == Done(is_file)

    @rule(
        user=USERS,
        name=XATTR_NAMES,
        value=XATTR_VALUES,
        flag=st.sampled_from([0, XATTR_CREATE, XATTR_REPLACE]),
        compare=st.booleans(),
        expected=st.one_of(st.none(), XATTR_VALUES),
        data=st.data(),
    )
    def set_xattr(
        self,
        user: Caller,
        name: str,
        value: bytes,
        flag: int,
        compare: bool,
        expected: bytes | None,
        data: st.DataObject,
    ) -> None:
        path = self.pick(data, root=True)
        expected = expected if compare else None
        cmd = SetXAttr(path, name, value, flag, compare, expected, max_count=MAX_XATTRS)
        stored = name.lower() if name.startswith("USER.") else name
        result, swapped = self.step(
            cmd,
            user,
            lambda m: m.set_xattr(user, path, stored, value, flag, compare, expected),
        )
        if not isinstance(result, Failed):
            assert result == Done(swapped)

    @rule(user=USERS, name=XATTR_NAMES, data=st.data())
    def remove_xattr(self, user: Caller, name: str, data: st.DataObject) -> None:
        path = self.pick(data, root=True)
        stored = name.lower() if name.startswith("USER.") else name
        self.step(RemoveXAttr(path, name), user, lambda m: m.remove_xattr(user, path, stored))

    @rule(
        user=USERS,
        on=st.sampled_from([True, False, False, False]),
        reason=st.sampled_from(["", "r"]),
    )
    def safe_mode(self, user: Caller, on: bool, reason: str) -> None:
        result, expected = self.step(
            SetSafeMode(on, reason),
            user,
            lambda m: m.set_safe_mode(user, on, reason, self.ns.now),
        )
        if not isinstance(result, Failed):
            assert result == expected

    @invariant()
    def safe_mode_is_the_model(self) -> None:
        with self.ns.store.read() as view:
            assert view.safe_mode() == self.model.safe

    @invariant()
    def the_tree_is_the_model(self) -> None:
        listed = {}
        stack = ["/"]
        root = self.ns.stat("/")
        listed["/"] = Entry(DIR, root.perm, root.owner)
        with self.ns.store.read() as view:
            while stack:
                directory, after = stack.pop(), ""
                while True:
                    page = queries.listing(view, SUPER, directory, after, 3)
                    for s in page.entries:
                        kind = DIR if s.kind is Kind.DIR else FILE
                        listed[s.path] = Entry(kind, s.perm, s.owner, s.length)
                        assert s.group == "supergroup"
                        if kind == DIR:
                            stack.append(s.path)
                    if not page.remaining:
                        break
                    after = page.entries[-1].path.rsplit("/", 1)[1]
            for path, entry in listed.items():
                found = xattrs.get_xattrs(view, SUPER, path)
                listed[path] = entry._replace(xattrs=tuple(sorted(found)))
        assert listed == self.model.tree

    @invariant()
    def the_tables_hold_together(self) -> None:
        self.ns.check_invariants()
        assert not self.ns.store._tables.leases  # every file the machine opens, it closes
        with self.ns.store.read() as view:
            quotas = {
                path_of(view, n): n for n in self.ns.store._tables.inodes.values() if n.has_quota
            }
        assert {p: n.ns_quota for p, n in quotas.items()} == self.model.quota
        for p, node in quotas.items():
            assert node.ns_used == len(self.model.under(p))


@pytest.mark.timeout(900)  # a failure shrinks for up to five minutes
def test_namespace_against_the_model() -> None:
    run_state_machine_as_test(
        NamespaceMachine,
        settings=settings(
            max_examples=150,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_namespace_against_the_model_soak() -> None:
    run_state_machine_as_test(
        NamespaceMachine,
        settings=settings(
            max_examples=2000,
            stateful_step_count=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
