"""Namespace core scenarios (HDFS semantics): directories, rename, delete, trash and listings.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table as it was; the fixture checks the tables' invariants
(children counts, orphans, quota usage against a recount, leases) after each test.
"""

from __future__ import annotations

import pytest
from nsharness import (
    ALICE,
    START,
    SUPER,
    TRASH,
    Namespace,
    build,
)

from ha_namenode.namespace import queries
from ha_namenode.namespace.commands import (
    Delete,
    ExpungeTrash,
    Mkdir,
    Rename,
    SetOwner,
)
from ha_namenode.namespace.model import (
    ContentSummary,
    DeleteResult,
    Done,
    ExpungeResult,
    Kind,
    Listing,
)
from ha_namenode.namespace.trash import checkpoint_name
from hafs_api.errors import (
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    InvalidPath,
    IsADirectory,
    ParentNotDirectory,
)

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
