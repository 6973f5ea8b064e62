"""Namespace core scenarios (HDFS semantics): files, blocks, append and leases.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table as it was; the fixture checks the tables' invariants
(children counts, orphans, quota usage against a recount, leases) after each test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nsharness import (
    ALICE,
    BS,
    FIRST_BLOCK,
    FIRST_GS,
    SUPER,
    Namespace,
    block_ref,
    build,
)

from ha_namenode.namespace.commands import (
    AbandonBlock,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    ExpireLeases,
    RecoverLease,
    RenewLease,
)
from ha_namenode.namespace.model import (
    Caller,
    Done,
    LeaseRecoveryResult,
    LocatedBlock,
)
from hafs_api.errors import (
    AccessDenied,
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    IsADirectory,
    LeaseConflict,
    LeaseExpired,
    ParentNotDirectory,
    RecoveryInProgress,
)

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
    # The open block's length is unknown until block recovery settles it.
    ns.fails(Create("/f", 0o644, "c2", 3, BS, overwrite=True), RecoveryInProgress)
    ns.fails(Append("/f", "c2"), RecoveryInProgress)
    ns.recover("/f", 100)
    assert set(ns.store._tables.leases) == set()
    # Without overwrite the create fails with FileAlreadyExists.
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


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda b: AddBlock("/f", "c1"), InvalidArgument),  # the open block is not passed
        (lambda b: AddBlock("/f", "c1", previous=block_ref(b, block=7)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=block_ref(b, gs=1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=block_ref(b, BS + 1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c1", previous=block_ref(b, -1)), InvalidArgument),
        (lambda b: AddBlock("/f", "c2", previous=block_ref(b)), LeaseExpired),
        (lambda b: AddBlock("/f", "c1", file_id=999, previous=block_ref(b)), LeaseExpired),
        (lambda b: AddBlock("/nope", "c1"), LeaseExpired),
        (lambda b: AddBlock("/d", "c1"), IsADirectory),
        (lambda b: Complete("/f", "c1"), InvalidArgument),
        (lambda b: Complete("/f", "c1", last=block_ref(b, gs=-1)), InvalidArgument),
        (lambda b: Complete("/f", "c2", last=block_ref(b)), LeaseExpired),
        (lambda b: Complete("/f", "c1", file_id=999, last=block_ref(b)), LeaseExpired),
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
    last = block_ref(block, 100)
    assert ns.do(Complete("/f", "c1", last=last)) == Done()
    before = ns.state()
    assert ns.do(Complete("/f", "c1", last=last)) == Done()
    assert ns.state() == before
    ns.fails(Complete("/f", "c1", last=block_ref(block, 99)), LeaseExpired)  # not what was closed
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
    ns.do(Complete("/f", "c1", last=block_ref(b2, 10)))
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
    ns.do(Complete("/f", "c3", last=block_ref(block, 1)))
    assert ns.stat("/f").length == 2 * BS + 1


def test_append_after_a_full_last_block_starts_a_new_block(ns: Namespace) -> None:
    ns.write("/f", [BS])
    result = ns.do(Append("/f", "c2"))
    assert result.last_block is None and result.status.under_construction
    block = ns.do(AddBlock("/f", "c2"))
    assert block.offset == BS
    ns.do(Complete("/f", "c2", last=block_ref(block, 5)))
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
    assert ns.do(ExpireLeases(hard)) == LeaseRecoveryResult(recovering=("/f1", "/f3"))
    assert set(ns.store._tables.leases) == {"c1", "c2", "c3"}  # held until recovered
    ns.recover("/f1", 0)
    ns.recover("/f3", 100)
    ns.write("/f4", [], holder="c4", close=False)  # open, but no open block
    ns.advance(hard + 1)
    assert ns.do(ExpireLeases(hard)) == LeaseRecoveryResult(closed=("/f4",), recovering=("/f2",))
    assert set(ns.store._tables.leases) == {"c2"}
    assert [(s.length, s.under_construction) for s in map(ns.stat, ("/f1", "/f2", "/f3"))] == [
        (BS, False),
        (0, True),
        (100, False),
    ]  # /f2's 10 bytes are not known until its recovery
    assert [b.num_bytes for b in ns.locations("/f1").blocks] == [BS]
    assert [b.num_bytes for b in ns.locations("/f3").blocks] == [100]


def test_recover_lease(ns: Namespace) -> None:
    build(ns, "/d/")
    ns.write("/f", [100], holder="c1", close=False)
    ns.fails(RecoverLease("/d", "c2"), IsADirectory)
    ns.fails(RecoverLease("/nope", "c2"), FileNotFound)
    ns.fails(RecoverLease("/f", "c2"), AccessDenied, ALICE)
    assert ns.do(RecoverLease("/f", "c2")) == Done(False)  # an open block: recovery first
    ns.recover("/f", 100)
    assert not ns.stat("/f").under_construction
    ns.write("/g", [], holder="c1", close=False)
    assert ns.do(RecoverLease("/g", "c2")) == Done()  # no open block: closed at once
    assert ns.store._tables.leases == {}
    ns.fails(AddBlock("/f", "c1"), LeaseExpired)
    before = ns.state()
    assert ns.do(RecoverLease("/f", "c2")) == Done()  # already closed
    assert ns.state() == before
