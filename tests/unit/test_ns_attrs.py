"""Namespace core scenarios (HDFS semantics): attributes, quotas and permissions.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table as it was; the fixture checks the tables' invariants
(children counts, orphans, quota usage against a recount, leases) after each test.
"""

from __future__ import annotations

import re

import pytest
from nsharness import (
    ALICE,
    BOB,
    BS,
    CAROL,
    FIRST_BLOCK,
    FIRST_GS,
    START,
    SUPER,
    TRASH,
    Namespace,
    block_ref,
    build,
    usage,
)

from ha_namenode.namespace.commands import (
    AbandonBlock,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    Delete,
    ExpireLeases,
    Mkdir,
    RecoverLease,
    Rename,
    SetOwner,
    SetPermission,
    SetQuota,
    SetReplication,
    SetTimes,
)
from ha_namenode.namespace.model import (
    Caller,
    Done,
    Kind,
)
from ha_namenode.namespace.permission import mode_string
from hafs_api.errors import (
    AccessDenied,
    DsQuotaExceeded,
    FileNotFound,
    InvalidArgument,
    NsQuotaExceeded,
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
    error = ns.fails(AddBlock("/q/f", "c1", previous=block_ref(block, 100)), DsQuotaExceeded)
    assert error.message == (
        "The DiskSpace quota of /q is exceeded: quota = 3072 B but diskspace consumed = 3372 B"
    )
    ns.do(Complete("/q/f", "c1", last=block_ref(block, 100)))
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
    assert ns.do(RecoverLease("/q/b", "c9")) == Done(False)  # its open block comes first
    ns.recover("/q/b", 5)
    assert usage(ns, "/q") == (3, 6 * BS + 5 * 3)
    ns.advance(10)
    assert ns.do(ExpireLeases(hard_limit=5)).recovering == ("/q/a",)
    ns.recover("/q/a", 0)  # nothing reached the DataNodes: the empty block is dropped
    assert usage(ns, "/q") == (3, 3 * BS + 5 * 3)


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
