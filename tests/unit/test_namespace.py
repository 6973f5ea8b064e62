"""Scenario tests of the pure namespace core against HDFS semantics.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table as it was; the fixture checks the tables' invariants
(children counts, orphans, quota usage against a recount, leases) after each test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from nsharness import ALICE, BOB, START, SUPER, Namespace

from ha_namenode.namespace import applier, codec, queries
from ha_namenode.namespace.commands import (
    COMMANDS,
    AbandonBlock,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    Delete,
    Envelope,
    ExpireLeases,
    ExpireRetryCache,
    ExpungeTrash,
    Format,
    Mkdir,
    RecoverLease,
    Rename,
    RenewLease,
    SetOwner,
    SetPermission,
    SetQuota,
    SetReplication,
    SetTimes,
)
from ha_namenode.namespace.model import (
    AppendResult,
    BlockLocations,
    Caller,
    ContentSummary,
    DeleteResult,
    Done,
    ExpungeResult,
    Failed,
    FileStatus,
    Kind,
    LeaseRecoveryResult,
    Listing,
    LocatedBlock,
)
from ha_namenode.namespace.permission import mode_string
from ha_namenode.namespace.trash import checkpoint_name
from hafs_api import paths
from hafs_api.errors import (
    AccessDenied,
    DirectoryNotEmpty,
    DsQuotaExceeded,
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    InvalidPath,
    IsADirectory,
    LeaseConflict,
    LeaseExpired,
    NsQuotaExceeded,
    ParentNotDirectory,
)

BS = 1024  # block size of the test files; replication 3 unless said
FIRST_BLOCK = 1 << 30
FIRST_GS = 1001
TRASH = 3_600_000  # trash interval, ms
CAROL = Caller("carol", ("carol",))


@pytest.fixture
def ns() -> Iterator[Namespace]:
    space = Namespace()
    yield space
    space.check_invariants()


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


# ---- mkdir ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (Mkdir("/d", 0o755), FileAlreadyExists),
        (Mkdir("/", 0o755), FileAlreadyExists),
        (Mkdir("/d/f", 0o755, exist_ok=True), FileAlreadyExists),
        (Mkdir("/d/f", 0o755, parents=True, exist_ok=True), FileAlreadyExists),
        (Mkdir("/d/f/x", 0o755), ParentNotDirectory),
        (Mkdir("/d/f/x/y", 0o755, parents=True), ParentNotDirectory),
        (Mkdir("/m/x", 0o755), FileNotFound),
        (Mkdir("/d/m/x/y", 0o755), FileNotFound),
    ],
    ids=repr,
)
def test_mkdir_errors(ns: Namespace, cmd: Mkdir, error: type) -> None:
    build(ns, "/d/", "/d/f")
    ns.fails(cmd, error)


def test_mkdir_exist_ok_on_a_directory_changes_nothing(ns: Namespace) -> None:
    build(ns, "/d/")
    before = ns.state()
    status = ns.do(Mkdir("/d", 0o700, exist_ok=True))
    assert (status.path, status.kind, status.perm) == ("/d", Kind.DIR, 0o755)
    assert ns.state() == before


def test_mkdir_parents_gives_implicit_parents_u_wx(ns: Namespace) -> None:
    status = ns.do(Mkdir("/p/q/r", 0o444, parents=True))
    assert status.perm == 0o444
    assert [ns.stat(p).perm for p in ("/p", "/p/q", "/p/q/r")] == [0o744, 0o744, 0o444]
    assert [ns.stat(p).children for p in ("/", "/p", "/p/q", "/p/q/r")] == [1, 1, 1, 0]


def test_mkdir_inherits_group_and_touches_the_parent(ns: Namespace) -> None:
    ns.do(Mkdir("/g", 0o777))
    ns.do(SetOwner("/g", group="staff"))
    ns.advance(5000)
    ns.do(Mkdir("/g/x/y", 0o755, parents=True), ALICE)
    for path in ("/g/x", "/g/x/y"):
        assert (ns.stat(path).owner, ns.stat(path).group) == ("alice", "staff")
    assert ns.stat("/g").mtime == ns.now
    assert ns.stat("/g").children == 1
    assert ns.stat("/").mtime == START


# ---- create --------------------------------------------------------------------------


def test_create_overwrite(ns: Namespace) -> None:
    old = ns.write("/f", [100])
    ns.fails(Create("/f", 0o644, "c2", 3, BS), FileAlreadyExists)
    status = ns.do(Create("/f", 0o600, "c2", 2, BS, overwrite=True))
    assert status.inode_id != old
    assert (status.length, status.replication, status.perm) == (0, 2, 0o600)
    assert status.under_construction
    assert ns.store._tables.blocks == {}  # the old file's block went with it
    assert ns.stat("/").children == 1


@pytest.mark.parametrize(
    "cmd",
    [
        Create("/d", 0o644, "c1", 3, BS),
        Create("/d", 0o644, "c1", 3, BS, overwrite=True),
        Create("/", 0o644, "c1", 3, BS, overwrite=True),
    ],
    ids=repr,
)
def test_create_over_a_directory(ns: Namespace, cmd: Create) -> None:
    build(ns, "/d/")
    ns.fails(cmd, FileAlreadyExists)


def test_create_parent(ns: Namespace) -> None:
    build(ns, "/f")
    ns.fails(Create("/x/y/f", 0o640, "c1", 3, BS), FileNotFound)
    ns.fails(Create("/f/y/g", 0o640, "c1", 3, BS, create_parent=True), ParentNotDirectory)
    ns.fails(Create("/f/g", 0o640, "c1", 3, BS), ParentNotDirectory)
    ns.do(Create("/x/y/f", 0o640, "c1", 3, BS, create_parent=True))
    assert [ns.stat(p).perm for p in ("/x", "/x/y")] == [0o750, 0o750]
    assert [ns.stat(p).children for p in ("/x", "/x/y")] == [1, 1]
    assert ns.stat("/x/y/f").under_construction


@pytest.mark.parametrize(
    "bad",
    [
        Create("/f", 0o644, "c1", 0, BS),
        Create("/f", 0o644, "c1", 3, 0),
    ],
    ids=repr,
)
def test_create_needs_positive_replication_and_block_size(ns: Namespace, bad: Create) -> None:
    ns.fails(bad, InvalidArgument)


def test_second_writer_waits_for_the_soft_limit_then_takes_over(ns: Namespace) -> None:
    first = ns.write("/f", [100], holder="c1", close=False)
    ns.advance(30_000)
    ns.do(RenewLease("c1"))
    ns.advance(59_999)
    ns.fails(Create("/f", 0o644, "c2", 3, BS, overwrite=True), LeaseConflict)
    ns.fails(Append("/f", "c2"), LeaseConflict)
    ns.advance(1)
    # Without overwrite the take-over is undone with the FileAlreadyExists.
    ns.fails(Create("/f", 0o644, "c2", 3, BS), FileAlreadyExists)
    status = ns.do(Create("/f", 0o644, "c2", 3, BS, overwrite=True))
    assert status.inode_id != first
    assert set(ns.store._tables.leases) == {"c2"}
    ns.fails(AddBlock("/f", "c1"), LeaseExpired)


def test_the_holder_recreating_its_own_file_is_a_lease_conflict(ns: Namespace) -> None:
    ns.write("/f", holder="c1", close=False)
    ns.advance(10 * 60_000)
    ns.fails(Create("/f", 0o644, "c1", 3, BS, overwrite=True), LeaseConflict)
    ns.fails(Append("/f", "c1"), LeaseConflict)


# ---- blocks --------------------------------------------------------------------------


def test_blocks_get_ids_stamps_and_offsets(ns: Namespace) -> None:
    ns.do(Create("/f", 0o644, "c1", 3, BS))
    b1 = ns.do(AddBlock("/f", "c1", targets=("dn1", "dn2")))
    assert b1 == LocatedBlock(FIRST_BLOCK, FIRST_GS, 0, 0, True, ("dn1", "dn2"))
    b2 = ns.do(AddBlock("/f", "c1", previous=BlockRef(b1.block_id, b1.gen_stamp, BS)))
    assert (b2.block_id, b2.gen_stamp, b2.offset) == (FIRST_BLOCK + 1, FIRST_GS + 1, BS)
    open_view = ns.locations("/f").blocks
    assert [(b.offset, b.num_bytes, b.under_construction) for b in open_view] == [
        (0, BS, False),
        (BS, 0, True),
    ]
    b3 = ns.do(AddBlock("/f", "c1", previous=BlockRef(b2.block_id, b2.gen_stamp, BS)))
    assert ns.do(Complete("/f", "c1", last=BlockRef(b3.block_id, b3.gen_stamp, 100))) == Done()
    located = ns.locations("/f")
    assert not located.status.under_construction
    assert located.status.length == 2 * BS + 100
    assert [
        (b.block_id, b.gen_stamp, b.offset, b.num_bytes, b.under_construction)
        for b in located.blocks
    ] == [
        (FIRST_BLOCK, FIRST_GS, 0, BS, False),
        (FIRST_BLOCK + 1, FIRST_GS + 1, BS, BS, False),
        (FIRST_BLOCK + 2, FIRST_GS + 2, 2 * BS, 100, False),
    ]
    ranges = {
        (BS, 1): [1],
        (BS + 1, BS): [1, 2],
        (0, BS): [0],
        (2 * BS + 99, 0): [2],
        (5 * BS, 0): [],
    }
    for (offset, length), expected in ranges.items():
        got = ns.locations("/f", offset=offset, length=length).blocks
        assert [b.block_id - FIRST_BLOCK for b in got] == expected, (offset, length)


def _open_block(ns: Namespace) -> LocatedBlock:
    build(ns, "/d/")
    ns.do(Create("/f", 0o644, "c1", 3, BS))
    return ns.do(AddBlock("/f", "c1"))


def _ref(b: LocatedBlock, num_bytes: int = 10, *, block: int = 0, gs: int = 0) -> BlockRef:
    return BlockRef(b.block_id + block, b.gen_stamp + gs, num_bytes)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda b: AddBlock("/f", "c1"), InvalidArgument),  # the open block is not passed
        (lambda b: AddBlock("/f", "c1", previous=_ref(b, block=7)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=_ref(b, gs=1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=_ref(b, BS + 1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=_ref(b, -1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c2", previous=_ref(b)), LeaseExpired),
        (lambda b: AddBlock("/f", "c1", file_id=999, previous=_ref(b)), LeaseExpired),
        (lambda b: AddBlock("/nope", "c1"), LeaseExpired),
        (lambda b: AddBlock("/d", "c1"), IsADirectory),
        (lambda b: Complete("/f", "c1"), InvalidArgument),
        (lambda b: Complete("/f", "c1", last=_ref(b, gs=-1)), InvalidArgument),
        (lambda b: Complete("/f", "c2", last=_ref(b)), LeaseExpired),
        (lambda b: Complete("/f", "c1", file_id=999, last=_ref(b)), LeaseExpired),
        (lambda b: AbandonBlock("/f", "c1", b.block_id + 7), InvalidArgument),
        (lambda b: AbandonBlock("/f", "c2", b.block_id), LeaseExpired),
    ],
    ids=[
        "no-previous",
        "wrong-previous",
        "wrong-gen-stamp",
        "too-long",
        "negative",
        "holder-add",
        "file-id-add",
        "missing",
        "directory",
        "no-last",
        "last-gen-stamp",
        "holder-complete",
        "file-id-complete",
        "abandon-wrong",
        "holder-abandon",
    ],
)
def test_block_errors(ns: Namespace, make: Callable[[LocatedBlock], object], error: type) -> None:
    block = _open_block(ns)
    ns.fails(make(block), error)


def test_complete_is_idempotent_on_a_closed_file(ns: Namespace) -> None:
    block = _open_block(ns)
    last = _ref(block, 100)
    assert ns.do(Complete("/f", "c1", last=last)) == Done()
    before = ns.state()
    assert ns.do(Complete("/f", "c1", last=last)) == Done()
    assert ns.state() == before
    ns.fails(Complete("/f", "c1", last=_ref(block, 99)), LeaseExpired)  # not what was closed
    ns.fails(AddBlock("/f", "c1", previous=last), LeaseExpired)


def test_an_empty_last_block_is_dropped_on_close(ns: Namespace) -> None:
    ns.write("/f", [100, 0])
    located = ns.locations("/f")
    assert [b.num_bytes for b in located.blocks] == [100]
    assert located.status.length == 100
    assert len(ns.store._tables.blocks) == 1


def test_abandon_block(ns: Namespace) -> None:
    b1 = _open_block(ns)
    assert ns.do(AbandonBlock("/f", "c1", b1.block_id)) == Done()
    assert ns.locations("/f").blocks == ()
    b2 = ns.do(AddBlock("/f", "c1"))
    assert (b2.block_id, b2.offset) == (b1.block_id + 1, 0)
    ns.do(Complete("/f", "c1", last=_ref(b2, 10)))
    assert ns.stat("/f").length == 10


# ---- append --------------------------------------------------------------------------


def test_append_reopens_a_partial_last_block_with_a_new_gen_stamp(ns: Namespace) -> None:
    ns.write("/f", [BS, 100])
    old = ns.locations("/f").blocks[-1]
    result = ns.do(Append("/f", "c2"))
    assert result.status.under_construction
    last = result.last_block
    assert last is not None
    assert (last.block_id, last.num_bytes, last.offset) == (old.block_id, 100, BS)
    assert last.gen_stamp > old.gen_stamp and last.under_construction
    assert set(ns.store._tables.leases) == {"c2"}
    ns.fails(Complete("/f", "c2", last=BlockRef(old.block_id, old.gen_stamp, 300)), InvalidArgument)
    ns.do(Complete("/f", "c2", last=BlockRef(last.block_id, last.gen_stamp, 300)))
    located = ns.locations("/f")
    assert located.status.length == BS + 300
    assert [(b.gen_stamp, b.num_bytes) for b in located.blocks][-1] == (last.gen_stamp, 300)
    again = ns.do(Append("/f", "c3")).last_block
    assert again is not None and again.gen_stamp > last.gen_stamp
    block = ns.do(AddBlock("/f", "c3", previous=BlockRef(again.block_id, again.gen_stamp, BS)))
    assert block.offset == 2 * BS
    ns.do(Complete("/f", "c3", last=_ref(block, 1)))
    assert ns.stat("/f").length == 2 * BS + 1


def test_append_after_a_full_last_block_starts_a_new_block(ns: Namespace) -> None:
    ns.write("/f", [BS])
    result = ns.do(Append("/f", "c2"))
    assert result.last_block is None and result.status.under_construction
    block = ns.do(AddBlock("/f", "c2"))
    assert block.offset == BS
    ns.do(Complete("/f", "c2", last=_ref(block, 5)))
    assert ns.stat("/f").length == BS + 5
    ns.write("/empty")
    assert ns.do(Append("/empty", "c3")).last_block is None


@pytest.mark.parametrize(
    ("path", "caller", "error"),
    [
        ("/d", SUPER, IsADirectory),
        ("/nope", SUPER, FileNotFound),
        ("/d/nope", SUPER, FileNotFound),
        ("/d/f", ALICE, AccessDenied),
    ],
)
def test_append_errors(ns: Namespace, path: str, caller: Caller, error: type) -> None:
    build(ns, "/d/", "/d/f")
    ns.fails(Append(path, "c9"), error, caller)


# ---- rename --------------------------------------------------------------------------


RENAME_TREE = ("/a/b/c/", "/a/b/f", "/x/e/", "/x/g", "/x/full/h")


def test_rename_moves_a_subtree_atomically(ns: Namespace) -> None:
    build(ns, *RENAME_TREE)
    ids = {p: ns.stat(p).inode_id for p in ("/a/b", "/a/b/c", "/a/b/f")}
    blocks = ns.locations("/a/b/f").blocks
    ns.advance(10)
    assert ns.do(Rename("/a/b", "/x/b")) == Done()
    assert {p: ns.stat(p.replace("/a/", "/x/")).inode_id for p in ids} == ids
    assert not ns.exists("/a/b")
    assert ns.locations("/x/b/f").blocks == blocks
    assert (ns.stat("/a").children, ns.stat("/x").children) == (0, 4)
    assert ns.stat("/a").mtime == ns.stat("/x").mtime == ns.now


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (Rename("/a", "/a/b/z"), InvalidArgument),
        (Rename("/a", "/a/b", overwrite=True), InvalidArgument),
        (Rename("/a/b/f", "/x/g"), FileAlreadyExists),
        (Rename("/a/b", "/x/e"), FileAlreadyExists),
        (Rename("/a/b", "/x/full", overwrite=True), DirectoryNotEmpty),
        (Rename("/a/b/f", "/x/e", overwrite=True), IsADirectory),
        (Rename("/a/b", "/x/g", overwrite=True), ParentNotDirectory),
        (Rename("/a/b", "/a/b"), FileAlreadyExists),
        (Rename("/a/b", "/a/b", overwrite=True), FileAlreadyExists),
        (Rename("/", "/z"), InvalidPath),
        (Rename("/a", "/"), FileAlreadyExists),
        (Rename("/a/b/f", "/nope/f"), FileNotFound),
        (Rename("/a/b/f", "/x/g/f"), ParentNotDirectory),
        (Rename("/nope", "/x/nope"), FileNotFound),
        (Rename("/a/b/f/g", "/x/nope"), FileNotFound),
    ],
    ids=repr,
)
def test_rename_errors(ns: Namespace, cmd: Rename, error: type) -> None:
    build(ns, *RENAME_TREE)
    ns.fails(cmd, error)


def test_rename_overwrites_a_file_with_a_file(ns: Namespace) -> None:
    build(ns, *RENAME_TREE)
    moved = ns.stat("/a/b/f").inode_id
    replaced = ns.locations("/x/g").blocks[0].block_id
    ns.do(Rename("/a/b/f", "/x/g", overwrite=True))
    assert ns.stat("/x/g").inode_id == moved
    assert replaced not in ns.store._tables.blocks
    assert (ns.stat("/a/b").children, ns.stat("/x").children) == (1, 3)


def test_rename_overwrites_an_empty_directory(ns: Namespace) -> None:
    build(ns, *RENAME_TREE)
    ns.do(Rename("/a/b", "/x/e", overwrite=True))
    assert ns.ls("/x/e") == ["c", "f"]
    assert (ns.stat("/a").children, ns.stat("/x").children) == (0, 3)


def test_rename_within_a_directory_keeps_the_count(ns: Namespace) -> None:
    build(ns, *RENAME_TREE)
    ns.do(Rename("/x/g", "/x/g2"))
    assert ns.ls("/x") == ["e", "full", "g2"]


# ---- delete and trash ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (Delete("/a"), DirectoryNotEmpty),
        (Delete("/a", trash_interval=TRASH), DirectoryNotEmpty),
        (Delete("/a", skip_trash=True), DirectoryNotEmpty),
        (Delete("/"), InvalidPath),
        (Delete("/", recursive=True, skip_trash=True), InvalidPath),
        (Delete("/nope"), FileNotFound),
        (Delete("/a/b/f/x"), FileNotFound),
    ],
    ids=repr,
)
def test_delete_errors(ns: Namespace, cmd: Delete, error: type) -> None:
    build(ns, *RENAME_TREE)
    ns.fails(cmd, error)


def test_recursive_delete_removes_the_subtree(ns: Namespace) -> None:
    build(ns, *RENAME_TREE)
    blocks = {b.block_id for b in ns.locations("/a/b/f").blocks}
    assert ns.do(Delete("/a", recursive=True)) == DeleteResult()
    assert ns.ls("/") == ["x"]
    assert not blocks & set(ns.store._tables.blocks)
    assert ns.do(Delete("/x/e")) == DeleteResult()  # an empty directory needs no recursive


@pytest.fixture
def homes(ns: Namespace) -> Namespace:
    ns.do(Mkdir("/user", 0o755))
    ns.do(Mkdir("/user/alice", 0o700))
    ns.do(SetOwner("/user/alice", owner="alice"))
    ns.do(Mkdir("/data", 0o777))
    return ns


CURRENT = "/user/alice/.Trash/Current"


def test_delete_moves_to_trash_and_adds_a_time_when_taken(homes: Namespace) -> None:
    ns = homes
    first = ns.write("/data/f", [10], ALICE)
    result = ns.do(Delete("/data/f", trash_interval=TRASH), ALICE)
    assert result == DeleteResult(f"{CURRENT}/data/f")
    assert ns.stat(f"{CURRENT}/data/f").inode_id == first
    assert not ns.exists("/data/f")
    for path in ("/user/alice/.Trash", CURRENT, f"{CURRENT}/data"):
        assert (ns.stat(path).perm, ns.stat(path).owner) == (0o700, "alice")
    ns.write("/data/f", [], ALICE)
    ns.advance(1000)
    second = ns.do(Delete("/data/f", trash_interval=TRASH), ALICE)
    assert second.trash_path == f"{CURRENT}/data/f{ns.now}"
    ns.write("/data/f", [], ALICE)
    third = ns.do(Delete("/data/f", trash_interval=TRASH), ALICE)
    assert third.trash_path == f"{CURRENT}/data/f{ns.now + 1}"
    assert ns.ls(f"{CURRENT}/data") == ["f", f"f{ns.now}", f"f{ns.now + 1}"]


@pytest.mark.parametrize(
    "cmd",
    [
        Delete("/data/f", skip_trash=True, trash_interval=TRASH),
        Delete("/data/f"),  # trash disabled (interval 0)
    ],
)
def test_delete_without_trash_is_permanent(homes: Namespace, cmd: Delete) -> None:
    homes.write("/data/f", [10], ALICE)
    assert homes.do(cmd, ALICE) == DeleteResult()
    assert not homes.exists("/data/f") and not homes.exists("/user/alice/.Trash")
    assert homes.store._tables.blocks == {}


def test_delete_inside_the_trash_is_permanent(homes: Namespace) -> None:
    homes.write("/data/f", [10], ALICE)
    trashed = homes.do(Delete("/data/f", trash_interval=TRASH), ALICE).trash_path
    assert homes.do(Delete(trashed, trash_interval=TRASH), ALICE) == DeleteResult()
    assert homes.ls(f"{CURRENT}/data") == []
    assert homes.store._tables.blocks == {}


def test_deleting_a_path_that_contains_the_trash_is_refused(homes: Namespace) -> None:
    ns = homes
    ns.do(Mkdir("/user/hdfs", 0o755))
    ns.fails(Delete("/user", recursive=True, trash_interval=TRASH), InvalidArgument)
    ns.fails(Delete("/user/hdfs", recursive=True, trash_interval=TRASH), InvalidArgument)
    assert ns.do(Delete("/user/hdfs", skip_trash=True, trash_interval=TRASH)) == DeleteResult()


def test_trash_goes_around_a_file_in_the_way(ns: Namespace) -> None:
    root = "/user/hdfs/.Trash/Current"
    ns.write("/p")
    assert ns.do(Delete("/p", trash_interval=TRASH)).trash_path == f"{root}/p"
    ns.do(Mkdir("/p/q", 0o755, parents=True))
    ns.write("/p/q/f")
    ns.write("/p/g")
    ns.advance(1)
    deep = ns.do(Delete("/p/q/f", trash_interval=TRASH))
    assert deep.trash_path == f"{root}/p{ns.now}/q/f"
    assert ns.do(Delete("/p/g", trash_interval=TRASH)).trash_path == f"{root}/p{ns.now}/g"
    assert ns.stat(f"{root}/p").kind is Kind.FILE


def test_expunge_makes_a_checkpoint_then_deletes_it_after_the_interval(homes: Namespace) -> None:
    ns = homes
    ns.write("/data/f", [10], ALICE)
    ns.do(Delete("/data/f", trash_interval=TRASH), ALICE)
    checkpoint = f"/user/alice/.Trash/{checkpoint_name(START)}"
    assert checkpoint == "/user/alice/.Trash/231114221320"
    assert ns.do(ExpungeTrash(interval=TRASH)) == ExpungeResult(checkpoints=(checkpoint,))
    assert ns.ls("/user/alice/.Trash") == ["231114221320"]
    assert ns.exists(f"{checkpoint}/data/f")
    ns.advance(TRASH - 1)
    before = ns.state()
    assert ns.do(ExpungeTrash(user="alice", interval=TRASH)) == ExpungeResult()
    assert ns.state() == before
    ns.advance(1)
    assert ns.do(ExpungeTrash(interval=TRASH)) == ExpungeResult(removed=(checkpoint,))
    assert ns.ls("/user/alice/.Trash") == []
    assert ns.store._tables.blocks == {}


def test_checkpoints_in_the_same_second_get_a_counter(homes: Namespace) -> None:
    ns = homes
    names = []
    for name in ("f", "g"):
        ns.write(f"/data/{name}", [], ALICE)
        ns.do(Delete(f"/data/{name}", trash_interval=TRASH), ALICE)
        names += ns.do(ExpungeTrash(user="alice", interval=TRASH)).checkpoints
    assert names == ["/user/alice/.Trash/231114221320", "/user/alice/.Trash/231114221320-1"]


def test_expunge_immediate_deletes_current_and_checkpoints(homes: Namespace) -> None:
    ns = homes
    for name in ("f", "g"):
        ns.write(f"/data/{name}", [10], ALICE)
        ns.do(Delete(f"/data/{name}", trash_interval=TRASH), ALICE)
        if name == "f":
            ns.do(ExpungeTrash(user="alice", interval=TRASH))
    result = ns.do(ExpungeTrash(user="alice", interval=TRASH, immediate=True), ALICE)
    assert result == ExpungeResult(removed=("/user/alice/.Trash/231114221320", CURRENT))
    assert ns.ls("/user/alice/.Trash") == []
    assert ns.store._tables.blocks == {}


# ---- listing and reads ---------------------------------------------------------------


def test_listing_pages_with_start_after_and_limit(ns: Namespace) -> None:
    build(ns, *(f"/l/{n}/" for n in "edcba"))
    pages = []
    after = ""
    while True:
        page = ns.read(queries.listing, "/l", SUPER, after, 2)
        pages.append(([e.path for e in page.entries], page.remaining))
        if not page.remaining:
            break
        after = page.entries[-1].path.rsplit("/", 1)[1]
    assert pages == [(["/l/a", "/l/b"], 3), (["/l/c", "/l/d"], 1), (["/l/e"], 0)]
    assert ns.ls("/l", after="e") == []
    assert ns.ls("/l", limit=0) == list("abcde")  # 0 means the server's page size


def test_listing_a_file_returns_the_file(ns: Namespace) -> None:
    build(ns, "/d/f")
    listing = ns.read(queries.listing, "/d/f")
    assert listing == Listing((ns.stat("/d/f"),), 0)
    assert listing.entries[0].path == "/d/f"


@pytest.mark.parametrize("what", ["stat", "ls", "summary", "locations"])
def test_reading_a_missing_path_is_file_not_found(ns: Namespace, what: str) -> None:
    build(ns, "/d/f")
    for path in ("/nope", "/d/nope", "/d/f/nope"):
        with pytest.raises(FileNotFound):
            getattr(ns, what)(path)


def test_reads_of_the_wrong_kind(ns: Namespace) -> None:
    build(ns, "/d/f", "/d/g/h")
    with pytest.raises(IsADirectory):
        ns.locations("/d")
    summary = ns.summary("/d")
    assert summary == ContentSummary(
        length=200,
        file_count=2,
        directory_count=2,
        ns_quota=-1,
        ns_used=4,
        ds_quota=-1,
        space_consumed=600,
    )


# ---- attributes ----------------------------------------------------------------------


@pytest.fixture
def owned(ns: Namespace) -> Namespace:
    ns.do(Mkdir("/home", 0o777))
    ns.do(Mkdir("/home/al", 0o755), ALICE)
    ns.write("/home/al/f", [100], ALICE)
    return ns


@pytest.mark.parametrize(
    ("cmd", "caller", "error"),
    [
        (SetPermission("/home/al/f", 0o600), BOB, AccessDenied),
        (SetPermission("/home/al/f", 0o10000), ALICE, InvalidArgument),
        (SetPermission("/home/al/nope", 0o600), ALICE, FileNotFound),
        (SetOwner("/home/al/f", owner="bob"), ALICE, AccessDenied),
        (SetOwner("/home/al/f", group="wheel"), ALICE, AccessDenied),
        (SetOwner("/home/al/f", group="staff"), BOB, AccessDenied),
        (SetOwner("/home/al/f"), SUPER, InvalidArgument),
        (SetOwner("/home/al/f", owner="a b"), SUPER, InvalidArgument),
        (SetReplication("/home/al/f", 0), ALICE, InvalidArgument),
        (SetReplication("/home/al/f", 2), BOB, AccessDenied),
        (SetReplication("/home/al/nope", 2), ALICE, FileNotFound),
        (SetTimes("/home/al/f", mtime=-2), ALICE, InvalidArgument),
        (SetTimes("/home/al/f", mtime=5), BOB, AccessDenied),
        (SetQuota("/home/al", ns_quota=10), ALICE, AccessDenied),
        (SetQuota("/home/al/f", ns_quota=10), SUPER, InvalidArgument),
        (SetQuota("/home/al", ns_quota=0), SUPER, InvalidArgument),
        (SetQuota("/home/al", ds_quota=-2), SUPER, InvalidArgument),
        (SetQuota("/home/nope", ns_quota=5), SUPER, FileNotFound),
    ],
    ids=repr,
)
def test_attribute_errors(owned: Namespace, cmd: object, caller: Caller, error: type) -> None:
    owned.fails(cmd, error, caller)


def test_set_permission_and_owner(owned: Namespace) -> None:
    ns = owned
    assert ns.do(SetPermission("/home/al/f", 0o600), ALICE) == Done()
    assert ns.stat("/home/al/f").perm == 0o600
    ns.do(SetOwner("/home/al/f", owner="alice", group="staff"), ALICE)
    assert (ns.stat("/home/al/f").owner, ns.stat("/home/al/f").group) == ("alice", "staff")
    ns.do(SetOwner("/home/al/f", owner="bob", group="wheel"))
    assert (ns.stat("/home/al/f").owner, ns.stat("/home/al/f").group) == ("bob", "wheel")
    ns.fails(SetPermission("/home/al/f", 0o644), AccessDenied, ALICE)  # no longer hers
    assert ns.do(SetPermission("/home/al/f", 0o1777)) == Done()


def test_set_replication(owned: Namespace) -> None:
    ns = owned
    before = ns.state()
    assert ns.do(SetReplication("/home/al", 2), ALICE) == Done(False)
    assert ns.state() == before
    assert ns.do(SetReplication("/home/al/f", 5), ALICE) == Done()
    assert ns.stat("/home/al/f").replication == 5
    assert ns.summary("/home/al").space_consumed == 500


def test_set_times_minus_one_keeps(owned: Namespace) -> None:
    ns = owned
    ns.do(SetTimes("/home/al/f", mtime=5), ALICE)
    assert (ns.stat("/home/al/f").mtime, ns.stat("/home/al/f").atime) == (5, START)
    ns.do(SetTimes("/home/al/f", atime=7), ALICE)
    assert (ns.stat("/home/al/f").mtime, ns.stat("/home/al/f").atime) == (5, 7)
    before = ns.state()
    assert ns.do(SetTimes("/home/al/f"), ALICE) == Done()
    assert ns.state() == before


# ---- quotas --------------------------------------------------------------------------


def test_namespace_quota_counts_the_directory_itself(ns: Namespace) -> None:
    ns.do(Mkdir("/q", 0o777))
    ns.do(SetQuota("/q", ns_quota=1))
    assert usage(ns, "/q") == (1, 0)
    ns.fails(Mkdir("/q/x", 0o755), NsQuotaExceeded)
    ns.fails(Create("/q/f", 0o644, "c1", 3, BS), NsQuotaExceeded, ALICE)
    ns.do(SetQuota("/q", ns_quota=3))
    assert usage(ns, "/q") == (1, 0)
    ns.fails(Mkdir("/q/x/y/z", 0o755, parents=True), NsQuotaExceeded)
    ns.do(Mkdir("/q/x", 0o755))
    ns.write("/q/f")
    ns.fails(Create("/q/x/g", 0o644, "c1", 3, BS), NsQuotaExceeded)
    ns.fails(Create("/q/x/y/g", 0o644, "c1", 3, BS, create_parent=True), NsQuotaExceeded)
    ns.write("/q/f", overwrite=True)  # replacing a file needs no more room
    assert usage(ns, "/q") == (3, 0)
    summary = ns.summary("/q")
    assert (summary.ns_quota, summary.ns_used) == (3, 3)


def test_space_quota_charges_an_open_block_in_full(ns: Namespace) -> None:
    ns.do(Mkdir("/q", 0o777))
    ns.do(SetQuota("/q", ds_quota=3 * BS))
    ns.do(Create("/q/f", 0o644, "c1", 3, BS))
    assert usage(ns, "/q") == (2, 0)
    block = ns.do(AddBlock("/q/f", "c1"))
    assert usage(ns, "/q") == (2, 3 * BS)
    error = ns.fails(AddBlock("/q/f", "c1", previous=_ref(block, 100)), DsQuotaExceeded)
    assert error.message == (
        "The DiskSpace quota of /q is exceeded: quota = 3072 B but diskspace consumed = 3372 B"
    )
    ns.do(Complete("/q/f", "c1", last=_ref(block, 100)))
    assert usage(ns, "/q") == (2, 300)
    assert ns.summary("/q").space_consumed == 300


def test_append_and_abandon_charge_and_release_the_open_block(ns: Namespace) -> None:
    ns.do(Mkdir("/q", 0o777))
    ns.do(SetQuota("/q", ds_quota=10**6))
    ns.write("/q/f", [100])
    assert usage(ns, "/q") == (2, 300)
    ns.do(SetQuota("/q", ds_quota=3 * BS - 1))
    ns.fails(Append("/q/f", "c2"), DsQuotaExceeded)
    ns.do(SetQuota("/q", ds_quota=6 * BS))
    ns.do(Append("/q/f", "c2"))
    assert usage(ns, "/q") == (2, 3 * BS)
    ns.write("/q/g", [50], holder="c3", close=False)
    assert usage(ns, "/q") == (3, 6 * BS)
    ns.do(AbandonBlock("/q/g", "c3", ns.locations("/q/g").blocks[0].block_id))
    assert usage(ns, "/q") == (3, 3 * BS)


def test_rename_into_a_quota_directory_respects_its_quota(ns: Namespace) -> None:
    build(ns, "/q/", "/src/d/e/", "/src/f")
    ns.do(SetQuota("/q", ns_quota=2, ds_quota=200))
    ns.fails(Rename("/src/d", "/q/d"), NsQuotaExceeded)
    ns.fails(Rename("/src/f", "/q/f"), DsQuotaExceeded)
    ns.do(SetQuota("/q", ds_quota=300))
    ns.do(Rename("/src/f", "/q/f"))
    assert usage(ns, "/q") == (2, 300)
    ns.do(Rename("/q/f", "/q/f2"))  # inside the same quota: no change
    assert usage(ns, "/q") == (2, 300)
    ns.do(Rename("/q/f2", "/src/f"))
    assert usage(ns, "/q") == (1, 0)
    ns.do(SetQuota("/q", ns_quota=3))
    ns.do(Rename("/src/d", "/q/d"))
    assert usage(ns, "/q") == (3, 0)


def test_rename_overwrite_and_delete_release_usage(ns: Namespace) -> None:
    build(ns, "/q/f", "/q/g", "/q/d/h")
    ns.do(SetQuota("/q", ns_quota=10))
    assert usage(ns, "/q") == (5, 900)
    ns.do(Rename("/q/f", "/q/g", overwrite=True))
    assert usage(ns, "/q") == (4, 600)
    ns.do(Delete("/q/d", recursive=True))
    assert usage(ns, "/q") == (2, 300)
    ns.do(Delete("/q/g", trash_interval=TRASH))  # to a trash outside the quota
    assert usage(ns, "/q") == (1, 0)


def test_set_replication_charges_the_space_quota(ns: Namespace) -> None:
    build(ns, "/q/f")
    ns.do(SetQuota("/q", ds_quota=500))
    assert usage(ns, "/q") == (2, 300)
    ns.do(SetReplication("/q/f", 5))
    assert usage(ns, "/q") == (2, 500)
    ns.fails(SetReplication("/q/f", 6), DsQuotaExceeded)
    ns.do(SetReplication("/q/f", 1))
    assert usage(ns, "/q") == (2, 100)


def test_set_quota_on_an_existing_tree_counts_it(ns: Namespace) -> None:
    build(ns, "/t/a/", "/t/e/")
    ns.write("/t/a/f", [100, 50])
    ns.write("/t/g", [10], replication=2)
    ns.write("/t/o", [7], holder="c1", close=False)  # an open block counts in full
    ns.do(SetQuota("/t/a", ns_quota=10))
    assert usage(ns, "/t/a") == (2, 450)
    ns.do(SetQuota("/t", ns_quota=100))
    expected = (6, 450 + 20 + 3 * BS)
    assert usage(ns, "/t") == expected
    ns.do(SetQuota("/t", ds_quota=10**9))  # changing a quota keeps the usage
    assert usage(ns, "/t") == expected
    ns.write("/t/a/new", [1])
    assert usage(ns, "/t/a") == (3, 453)
    assert usage(ns, "/t") == (7, expected[1] + 3)
    ns.do(SetQuota("/t", ns_quota=-1, ds_quota=-1))
    assert usage(ns, "/t") == (0, 0)
    ns.do(SetQuota("/t", ds_quota=10**9))
    assert usage(ns, "/t") == (7, expected[1] + 3)
    ns.do(Complete("/t/o", "c1", last=BlockRef(FIRST_BLOCK + 3, FIRST_GS + 3, 7)))
    assert usage(ns, "/t") == (7, 450 + 20 + 21 + 3)


def test_lease_expiry_and_recovery_release_the_open_block(ns: Namespace) -> None:
    build(ns, "/q/")
    ns.do(SetQuota("/q", ds_quota=10**9))
    ns.write("/q/a", [BS, 0], holder="c1", close=False)
    ns.write("/q/b", [5], holder="c2", close=False)
    assert usage(ns, "/q") == (3, 9 * BS)
    ns.do(RecoverLease("/q/b", "c9"))
    assert usage(ns, "/q") == (3, 6 * BS)
    ns.advance(10)
    assert ns.do(ExpireLeases(hard_limit=5)).closed == ("/q/a",)
    assert usage(ns, "/q") == (3, 3 * BS)


# ---- permissions ---------------------------------------------------------------------


def test_traverse_needs_execute_on_every_ancestor(ns: Namespace) -> None:
    ns.do(Mkdir("/private/sub", 0o777, parents=True))
    ns.do(SetPermission("/private", 0o700))
    ns.write("/private/sub/f", [100])
    with pytest.raises(AccessDenied) as e:
        ns.stat("/private/sub/f", ALICE)
    assert e.value.message == (
        'Permission denied: user=alice, access=EXECUTE, inode="/private":hdfs:supergroup:drwx------'
    )
    for cmd in (
        Mkdir("/private/sub/x", 0o755),
        Mkdir("/private/nope/x", 0o755),
        Mkdir("/private/sub/f/x", 0o755),
        Delete("/private/sub/f"),
        Create("/private/sub/g", 0o644, "c1", 3, BS),
        SetTimes("/private/sub", 1),
        Rename("/private/sub/f", "/g"),
    ):
        ns.fails(cmd, AccessDenied, ALICE)
    assert ns.stat("/private/sub/f", SUPER).length == 100  # the superuser passes
    ns.do(SetPermission("/private", 0o711))
    assert ns.stat("/private/sub/f", ALICE).length == 100


def test_permission_denied_message_names_user_access_and_inode(ns: Namespace) -> None:
    error = ns.fails(Create("/f", 0o644, "c1", 3, BS), AccessDenied, ALICE)
    assert re.fullmatch(
        r"Permission denied: user=alice, access=WRITE(_EXECUTE)?, "
        r'inode="/":hdfs:supergroup:drwxr-xr-x',
        error.message,
    ), error.message


def test_sticky_bit_lets_only_owners_delete_or_rename(ns: Namespace) -> None:
    ns.do(Mkdir("/tmp", 0o1777))
    ns.do(SetOwner("/tmp", owner="carol"))
    assert mode_string(Kind.DIR, ns.stat("/tmp").perm) == "drwxrwxrwt"
    for name, who in (("a", ALICE), ("b", BOB), ("c", ALICE), ("d", ALICE)):
        ns.write(f"/tmp/{name}", [], who, perm=0o666)
    ns.fails(Delete("/tmp/a"), AccessDenied, BOB)
    ns.fails(Rename("/tmp/a", "/tmp/z"), AccessDenied, BOB)
    ns.fails(Rename("/tmp/b", "/tmp/a", overwrite=True), AccessDenied, BOB)
    ns.fails(Create("/tmp/a", 0o644, "cb", 3, BS, overwrite=True), AccessDenied, BOB)
    assert "sticky bit" in ns.fails(Delete("/tmp/a"), AccessDenied, BOB).message
    ns.do(Rename("/tmp/b", "/tmp/b2"), BOB)  # his own
    ns.do(Delete("/tmp/a"), ALICE)  # her own
    ns.do(Delete("/tmp/c"), CAROL)  # the directory's owner
    ns.do(Delete("/tmp/d"))  # the superuser
    ns.do(SetPermission("/tmp", 0o777))
    ns.write("/tmp/e", [], ALICE, perm=0o666)
    ns.do(Delete("/tmp/e"), BOB)  # without the sticky bit, write on the directory is enough
    assert ns.ls("/tmp") == ["b2"]


def test_overwrite_needs_write_on_the_file(ns: Namespace) -> None:
    ns.do(Mkdir("/open", 0o777))
    ns.write("/open/f", [10], ALICE)
    ns.fails(Create("/open/f", 0o644, "cb", 3, BS, overwrite=True), AccessDenied, BOB)
    ns.do(SetPermission("/open/f", 0o666), ALICE)
    ns.do(Create("/open/f", 0o644, "cb", 3, BS, overwrite=True), BOB)
    assert ns.stat("/open/f").owner == "bob"


def test_recursive_delete_needs_all_on_every_subdirectory(ns: Namespace) -> None:
    ns.do(Mkdir("/data", 0o777))
    ns.do(Mkdir("/data/sub", 0o777), ALICE)
    ns.do(Mkdir("/data/sub/inner", 0o755), BOB)
    ns.write("/data/sub/inner/f", [], BOB)
    error = ns.fails(Delete("/data/sub", recursive=True), AccessDenied, ALICE)
    assert 'access=ALL, inode="/data/sub/..."' in error.message
    ns.do(SetPermission("/data/sub/inner", 0o777), BOB)
    ns.do(Delete("/data/sub", recursive=True), ALICE)
    assert ns.ls("/data") == []
    ns.do(Mkdir("/data/bobs", 0o755), BOB)  # the top of the subtree counts too
    ns.write("/data/bobs/f", [], BOB)
    error = ns.fails(Delete("/data/bobs", recursive=True), AccessDenied, ALICE)
    assert 'access=ALL, inode="/data/bobs":bob:' in error.message
    ns.do(Delete("/data/bobs/f"), BOB)
    ns.do(Delete("/data/bobs", recursive=True), ALICE)  # empty: no subtree check


def test_the_superuser_bypasses_permissions(ns: Namespace) -> None:
    ns.do(Mkdir("/locked", 0o000))
    ns.do(SetOwner("/locked", owner="alice"))
    ns.do(Mkdir("/locked/x", 0o000))
    ns.write("/locked/x/f", [1], perm=0o000)
    assert ns.ls("/locked/x") == ["f"]
    ns.do(Append("/locked/x/f", "c1"))
    ns.do(Delete("/locked", recursive=True))
    ns.fails(Mkdir("/locked", 0o755), AccessDenied, ALICE)


# ---- retry cache ---------------------------------------------------------------------


def test_a_retried_create_returns_the_first_result_after_a_delete(ns: Namespace) -> None:
    cmd = Create("/f", 0o644, "c1", 3, BS)
    first = ns.run(cmd, client_id="cl", call_id=1)
    assert isinstance(first, FileStatus)
    ns.do(Delete("/f"))
    before = ns.state()
    ns.advance(1000)
    assert ns.run(cmd, client_id="cl", call_id=1) == first
    assert ns.state() == before and not ns.exists("/f")
    assert ns.run(cmd, client_id="cl", call_id=2).inode_id != first.inode_id
    assert ns.run(cmd, client_id="other", call_id=1) == Failed(
        "LEASE_CONFLICT", "c1 is already the holder of the file", "/f"
    )


def test_a_retried_failure_returns_the_first_failure(ns: Namespace) -> None:
    build(ns, "/d/")
    first = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=7)
    assert first.code == "FILE_ALREADY_EXISTS"
    ns.do(Delete("/d"))
    assert ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=7) == first
    assert not ns.exists("/d")


def test_duplicates_in_one_batch_apply_once(ns: Namespace) -> None:
    env = Envelope(Mkdir("/d", 0o755), SUPER, ns.now, "cl", 1)
    one, two = ns.batch([env, env])
    assert one == two and isinstance(one, FileStatus)


def test_expire_retry_cache_drops_entries_older_than_the_ttl() -> None:
    ns = Namespace(retry_ttl_ms=1000)
    first = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1)
    ns.advance(1000)
    assert ns.do(ExpireRetryCache()) == Done(False)
    assert ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1) == first
    ns.advance(1)
    assert ns.do(ExpireRetryCache()) == Done(True)
    assert set(ns.store._tables.retry) == set()
    again = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1)
    assert again.code == "FILE_ALREADY_EXISTS"  # executed afresh
    ns.check_invariants()


# ---- leases --------------------------------------------------------------------------


def test_renew_lease(ns: Namespace) -> None:
    ns.write("/f", holder="c1", close=False)
    ns.advance(10)
    assert ns.do(RenewLease("c1")) == Done()
    assert ns.store._tables.leases["c1"].renewed == ns.now
    before = ns.state()
    assert ns.do(RenewLease("ghost")) == Done(False)
    assert ns.state() == before


def test_expire_leases_closes_only_holders_past_the_hard_limit(ns: Namespace) -> None:
    hard = 3_600_000
    ns.write("/f1", [BS, 100], holder="c1", close=False)  # open second block, 0 bytes known
    ns.write("/f3", [100])
    ns.do(Append("/f3", "c3"))  # a reopened block with 100 bytes
    ns.advance(hard // 2)
    ns.write("/f2", [10], holder="c2", close=False)
    ns.advance(hard // 2)
    before = ns.state()
    assert ns.do(ExpireLeases(hard)) == LeaseRecoveryResult()  # renewed exactly at the cutoff
    assert ns.state() == before
    ns.advance(1)
    assert ns.do(ExpireLeases(hard)) == LeaseRecoveryResult(closed=("/f1", "/f3"))
    assert set(ns.store._tables.leases) == {"c2"}
    assert [(s.length, s.under_construction) for s in map(ns.stat, ("/f1", "/f2", "/f3"))] == [
        (BS, False),
        (0, True),
        (100, False),
    ]
    assert [b.num_bytes for b in ns.locations("/f1").blocks] == [BS]
    assert [b.num_bytes for b in ns.locations("/f3").blocks] == [100]


def test_recover_lease(ns: Namespace) -> None:
    build(ns, "/d/")
    ns.write("/f", [100], holder="c1", close=False)
    ns.fails(RecoverLease("/d", "c2"), IsADirectory)
    ns.fails(RecoverLease("/nope", "c2"), FileNotFound)
    ns.fails(RecoverLease("/f", "c2"), AccessDenied, ALICE)
    assert ns.do(RecoverLease("/f", "c2")) == Done()
    assert not ns.stat("/f").under_construction
    assert ns.store._tables.leases == {}
    ns.fails(AddBlock("/f", "c1"), LeaseExpired)
    before = ns.state()
    assert ns.do(RecoverLease("/f", "c2")) == Done()  # already closed
    assert ns.state() == before


# ---- bad input -----------------------------------------------------------------------


BAD_PATHS = {
    "relative": "a/b",
    "empty": "",
    "dotdot": "/a/../b",
    "dot": "/a/./b",
    "double-slash": "/a//b",
    "trailing-slash": "/a/",
    "nul": "/a\x00b",
    "name-256-bytes": "/" + "n" * 256,
    "name-256-utf8-bytes": "/" + "é" * 128,
    "path-over-8000-bytes": "/" + "/".join(["p" * 199] * 40) + "/q",
    "over-1000-components": "/d" * 1001,
    "surrogate": "/a\udc80b",
    "not-a-string": 5,
}
BAD_COMMANDS = {
    "mkdir": lambda p: Mkdir(p, 0o755, parents=True),
    "create": lambda p: Create(p, 0o644, "c1", 3, BS, create_parent=True),
    "delete": lambda p: Delete(p, recursive=True),
    "rename-src": lambda p: Rename(p, "/ok/x"),
    "rename-dst": lambda p: Rename("/ok", p),
    "set-permission": lambda p: SetPermission(p, 0o700),
    "append": lambda p: Append(p, "c1"),
}


def _ascii_payload(env: Envelope) -> bytes:
    """The batch with non-ASCII escaped, so that it can carry lone surrogates."""
    return json.dumps({"v": codec.FORMAT_VERSION, "e": [codec.to_plain(env)]}).encode()


@pytest.mark.parametrize("make", BAD_COMMANDS.values(), ids=BAD_COMMANDS.keys())
@pytest.mark.parametrize("path", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_bad_paths_are_invalid_and_change_nothing(ns: Namespace, path: str, make) -> None:
    build(ns, "/ok/")
    before = ns.state()
    [result] = ns.apply_raw(_ascii_payload(Envelope(make(path), SUPER, ns.now, "cl", 1)))
    assert isinstance(result, Failed) and result.code == "INVALID_PATH", result
    assert ns.state() == before
    with pytest.raises(InvalidPath):
        ns.stat(path)


@pytest.mark.parametrize(
    "path",
    [
        "/" + "n" * 255,
        "/" + "é" * 127 + "e",
        "/" + "/".join(["p" * 199] * 40),
        "/d" * 1000,
        "/a b/ünï/.hidden/..x",
    ],
    ids=["name-255", "utf8-name-255", "path-8000", "1000-components", "odd-but-valid"],
)
def test_paths_at_the_limits_are_valid(ns: Namespace, path: str) -> None:
    ns.do(Mkdir(path, 0o755, parents=True))
    assert ns.stat(path).kind is Kind.DIR


# ---- no exception escapes apply ------------------------------------------------------


def test_an_unexpected_exception_is_internal_and_rolled_back(
    ns: Namespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = applier.HANDLERS[Mkdir]

    def crash(ctx, cmd):
        real(ctx, cmd)
        ctx.txn.set_meta("junk", 1)
        return 1 // 0

    monkeypatch.setitem(applier.HANDLERS, Mkdir, crash)
    before = ns.state()
    crashed, created = ns.batch(
        [
            Envelope(Mkdir("/x", 0o755), SUPER, ns.now, "cl", 1),
            Envelope(Create("/f", 0o644, "c1", 3, BS), SUPER, ns.now),
        ]
    )
    assert crashed == Failed("INTERNAL", "ZeroDivisionError: integer division or modulo by zero")
    assert isinstance(created, FileStatus)
    assert ns.store.applied_index() == ns.index
    assert not ns.exists("/x") and "junk" not in ns.state()["meta"]
    assert ns.state()["inodes"].keys() - before["inodes"].keys() == {created.inode_id}
    monkeypatch.undo()
    ns.do(Mkdir("/x", 0o755))  # later commands still apply
    assert ns.store.applied_index() == ns.index


def _envelope_json(**changes: object) -> dict:
    plain = codec.to_plain(Envelope(Mkdir("/x", 0o755), SUPER, 5, "cl", 1))
    plain.update(changes)
    return plain


INVALID_PAYLOADS = {
    "empty": b"",
    "not-json": b"not json",
    "not-utf8": b"\xff\xfe\x00",
    "list": b"[]",
    "null": b"null",
    "new-version": b'{"v": 2, "e": []}',
    "no-version": b'{"e": []}',
    "entries-int": b'{"v": 1, "e": 5}',
    "entries-null": b'{"v": 1, "e": null}',
    "entries-dict": b'{"v": 1, "e": {"_": "Done"}}',
    "entry-int": b'{"v": 1, "e": [1]}',
    "unknown-type": b'{"v": 1, "e": [{"_": "Nope"}]}',
    "not-envelope": b'{"v": 1, "e": [{"_": "Done", "value": true}]}',
    "bad-enum": b'{"v": 1, "e": [{"_": "FileStatus", "kind": 9}]}',
    "extra-field": json.dumps({"v": 1, "e": [_envelope_json(bogus=1)]}).encode(),
    "deep-json": b"[" * 100_000,
    "deep-values": b'{"v": 1, "e": [' + b"[" * 900 + b"]" * 900 + b"]}",
}


@pytest.mark.parametrize("payload", INVALID_PAYLOADS.values(), ids=INVALID_PAYLOADS.keys())
def test_an_invalid_payload_applies_as_empty(ns: Namespace, payload: bytes) -> None:
    before = ns.state()
    assert ns.apply_raw(payload) == []
    assert ns.store.applied_index() == ns.index
    assert ns.state() == before
    ns.do(Mkdir("/after", 0o755))


@pytest.mark.parametrize(
    "changes",
    [
        {"now": "x"},
        {"caller": "hdfs"},
        {"command": {"_": "Done", "value": True}},
        {"command": {"_": "Mkdir", "path": "/x", "perm": "rwx"}},
        {"caller": {"_": "Caller", "user": "u\udc80", "groups": [], "superuser": True}},
    ],
    ids=["now-str", "caller-str", "not-a-command", "perm-str", "unencodable-result"],
)
def test_a_malformed_envelope_fails_alone(ns: Namespace, changes: dict) -> None:
    before = ns.state()
    payload = json.dumps(
        {
            "v": 1,
            "e": [
                _envelope_json(**changes),
                _envelope_json(call_id=2, command=codec.to_plain(Mkdir("/ok", 0o755))),
            ],
        }
    ).encode()
    crashed, made = ns.apply_raw(payload)
    assert crashed.code == "INTERNAL" and made.path == "/ok"
    assert ns.state()["inodes"].keys() - before["inodes"].keys() == {made.inode_id}
    assert ns.store.applied_index() == ns.index


def test_reapplying_an_applied_index_returns_none(ns: Namespace) -> None:
    build(ns, "/d/")
    before = ns.state()
    payload = codec.encode_batch([Envelope(Mkdir("/again", 0o755), SUPER, ns.now)])
    assert ns.machine.apply(ns.index, payload) is None
    assert ns.machine.apply(1, payload) is None
    assert ns.state() == before and ns.store.applied_index() == ns.index


def test_format_only_once(ns: Namespace) -> None:
    build(ns, "/d/")
    before = ns.state()
    assert ns.do(Format("other", "others")) == Done(False)
    assert ns.state() == before
    assert (ns.stat("/").owner, ns.stat("/").group, ns.stat("/").perm) == (
        "hdfs",
        "supergroup",
        0o755,
    )


# ---- codec ---------------------------------------------------------------------------


_STATUS = FileStatus("/f", Kind.FILE, 10, 3, BS, 1, 2, 0o644, "u", "g", 1000, 0, True)
_BLOCK = LocatedBlock(FIRST_BLOCK, FIRST_GS, 10, 0, True, ("dn1", "dn2"))
_REF = BlockRef(FIRST_BLOCK, FIRST_GS, 10)
ROUND_TRIP = [
    Format("hdfs", "supergroup"),
    Mkdir("/a", 0o1700, parents=True, exist_ok=True),
    Rename("/a", "/b", overwrite=True),
    Delete("/a", recursive=True, skip_trash=True, trash_interval=5),
    ExpungeTrash("u", 5, immediate=True),
    Create("/f", 0o600, "c", 2, 4096, overwrite=True, create_parent=True, soft_limit=5),
    AddBlock("/f", "c", 7, _REF, ("dn1", "dn2")),
    AbandonBlock("/f", "c", FIRST_BLOCK, 7),
    Complete("/f", "c", 7, _REF),
    Append("/f", "c", 5),
    RenewLease("c"),
    RecoverLease("/f", "c"),
    ExpireLeases(5),
    SetPermission("/f", 0o1777),
    SetOwner("/f", "o", "g"),
    SetReplication("/f", 2),
    SetTimes("/f", 1, 2),
    SetQuota("/d", 3, None),
    ExpireRetryCache(),
    _REF,
    Envelope(Mkdir("/ü", 0o755), Caller("u", ("g", "h"), False), 5, "cl", 7),
    Caller("u", (), True),
    _STATUS,
    FileStatus("/", Kind.DIR, 0, 0, 0, 1, 2, 0o755, "u", "g", 1, 4, False),
    _BLOCK,
    Listing((_STATUS, _STATUS), 3),
    BlockLocations(_STATUS, (_BLOCK,)),
    ContentSummary(1, 2, 3, 4, 5, 6, 7),
    AppendResult(_STATUS, _BLOCK),
    AppendResult(_STATUS, None),
    DeleteResult("/t"),
    ExpungeResult(("/a",), ("/b", "/c")),
    LeaseRecoveryResult(("/f",)),
    Done(False),
    Failed("FILE_NOT_FOUND", "No such file", "/p"),
]


def test_round_trip_samples_cover_every_registered_type() -> None:
    assert {type(v) for v in ROUND_TRIP} == set(codec._REGISTRY.values())
    assert set(COMMANDS) <= {type(v) for v in ROUND_TRIP}


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_codec_round_trips(value: object) -> None:
    back = codec.loads(codec.dumps(value))
    assert back == value and type(back) is type(value)
    if isinstance(value, FileStatus):
        assert back.kind is value.kind


def test_batches_round_trip() -> None:
    envelopes = [Envelope(cmd, SUPER, i, f"c{i}", i) for i, cmd in enumerate(ROUND_TRIP[:19])]
    assert codec.decode_batch(codec.encode_batch(envelopes)) == envelopes


@pytest.mark.parametrize(
    "data",
    [
        b'{"_": "Inode", "id": 1}',
        b'{"_": "subprocess.Popen", "args": "sh"}',
        b'{"_": "__main__.Evil"}',
        b'{"id": 1}',
        b'{"_": 5}',
        b'{"_": "Mkdir", "path": "/a", "perm": 1, "bogus": 2}',
        b'{"_": "Mkdir"}',
        b'{"_": "FileStatus", "kind": 7}',
        b"{",
    ],
)
def test_unknown_or_malformed_values_are_codec_errors(data: bytes) -> None:
    with pytest.raises(codec.CodecError):
        codec.loads(data)
    with pytest.raises(codec.CodecError):
        codec.decode_batch(b'{"v": 1, "e": [' + data + b"]}")


def test_unregistered_values_do_not_encode() -> None:
    from ha_namenode.namespace.model import Lease

    with pytest.raises(TypeError):
        codec.dumps(Lease("c", 1))
