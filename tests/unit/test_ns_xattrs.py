"""Namespace core scenarios: extended attributes (HDFS XAttrs) and compare-and-set.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table (the xattrs too) as it was; the fixture checks the
tables' invariants after each test, among them that no xattr outlives its inode.
"""

from __future__ import annotations

import pytest
from nsharness import ALICE, BOB, SUPER, TRASH, Namespace

from ha_namenode.namespace import xattrs
from ha_namenode.namespace.commands import (
    XATTR_CREATE,
    XATTR_REPLACE,
    Create,
    Delete,
    ExpungeTrash,
    Mkdir,
    RemoveXAttr,
    Rename,
    SetXAttr,
)
from ha_namenode.namespace.model import Caller, Done, Failed
from hafs_api.errors import (
    AccessDenied,
    FileNotFound,
    InvalidArgument,
    XAttrExists,
    XAttrNotFound,
)

F = "/home/al/f"


@pytest.fixture
def owned(ns: Namespace) -> Namespace:
    """``/home`` (777), ``/home/al`` (alice, 755) holding ``f`` (alice, 644)."""
    ns.do(Mkdir("/home", 0o777))
    ns.do(Mkdir("/home/al", 0o755), ALICE)
    ns.write(F, [100], ALICE)
    return ns


def get(ns: Namespace, path: str, *names: str, caller: Caller = SUPER) -> dict[str, bytes]:
    return dict(ns.read(xattrs.get_xattrs, path, caller, tuple(names)))


def names(ns: Namespace, path: str, caller: Caller = SUPER) -> list[str]:
    return list(ns.read(xattrs.list_xattrs, path, caller))


def stored(ns: Namespace) -> dict[int, dict[str, bytes]]:
    return {i: dict(x) for i, x in ns.store._tables.xattrs.items() if x}


# ---- set, get, list, remove ----------------------------------------------------------


def test_set_get_list_and_remove(owned: Namespace) -> None:
    ns = owned
    assert ns.do(SetXAttr(F, "user.b", b"2"), ALICE) == Done(True)
    assert ns.do(SetXAttr(F, "user.a", b"\x00\xff"), ALICE) == Done(True)
    assert ns.do(SetXAttr(F, "user.empty"), ALICE) == Done(True)
    assert get(ns, F, caller=ALICE) == {"user.a": b"\x00\xff", "user.b": b"2", "user.empty": b""}
    assert list(get(ns, F, caller=ALICE)) == ["user.a", "user.b", "user.empty"]  # by name
    assert get(ns, F, "user.b", "user.a", "user.b", caller=ALICE) == {
        "user.b": b"2",
        "user.a": b"\x00\xff",
    }
    assert names(ns, F, ALICE) == ["user.a", "user.b", "user.empty"]
    assert ns.do(RemoveXAttr(F, "user.a"), ALICE) == Done()
    assert names(ns, F, ALICE) == ["user.b", "user.empty"]
    with pytest.raises(XAttrNotFound):
        get(ns, F, "user.a")


def test_a_plain_set_replaces(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    assert ns.do(SetXAttr(F, "user.a", b"22"), ALICE) == Done(True)
    assert get(ns, F, "user.a") == {"user.a": b"22"}


def test_flags(owned: Namespace) -> None:
    ns = owned
    ns.fails(SetXAttr(F, "user.a", b"1", XATTR_REPLACE), XAttrNotFound, ALICE)
    assert ns.do(SetXAttr(F, "user.a", b"1", XATTR_CREATE), ALICE) == Done(True)
    failed = ns.fails(SetXAttr(F, "user.a", b"2", XATTR_CREATE), XAttrExists, ALICE)
    assert "already exists" in failed.message and failed.path == F
    assert ns.do(SetXAttr(F, "user.a", b"3", XATTR_REPLACE), ALICE) == Done(True)
    assert get(ns, F) == {"user.a": b"3"}


def test_the_namespace_is_case_insensitive_and_stored_lower_case(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "USER.Mixed", b"v"), ALICE)
    assert names(ns, F) == ["user.Mixed"]
    assert get(ns, F, "User.Mixed") == {"user.Mixed": b"v"}
    ns.do(RemoveXAttr(F, "uSeR.Mixed"), ALICE)
    assert names(ns, F) == []


@pytest.mark.parametrize(
    "name",
    ["a", "", "user", "user.", ".a", "system.a", "security.a", "raw.a", "other.a", "user.a\x00b"],
)
def test_names_without_a_supported_namespace_are_invalid(owned: Namespace, name: str) -> None:
    ns = owned
    failed = owned.fails(SetXAttr(F, name, b"v"), InvalidArgument)
    assert failed.path == F
    ns.fails(RemoveXAttr(F, name), InvalidArgument)
    with pytest.raises(InvalidArgument):
        get(ns, F, name)


def test_a_bare_name_says_what_is_wrong(owned: Namespace) -> None:
    failed = owned.fails(SetXAttr(F, "color", b"v"), InvalidArgument)
    assert "user. or trusted." in failed.message


def test_errors_on_paths(owned: Namespace) -> None:
    ns = owned
    ns.fails(SetXAttr("/home/al/nope", "user.a", b"v"), FileNotFound, ALICE)
    ns.fails(RemoveXAttr("/home/al/nope", "user.a"), FileNotFound, ALICE)
    ns.fails(RemoveXAttr(F, "user.a"), XAttrNotFound, ALICE)
    with pytest.raises(FileNotFound):
        get(ns, "/home/al/nope")
    with pytest.raises(FileNotFound):
        names(ns, "/home/al/nope")


def test_directories_and_the_root_take_xattrs(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr("/home/al", "user.d", b"1"), ALICE)
    ns.do(SetXAttr("/", "trusted.r", b"2"))
    assert get(ns, "/home/al") == {"user.d": b"1"}
    assert get(ns, "/") == {"trusted.r": b"2"}


# ---- permissions -----------------------------------------------------------------------


def test_user_xattrs_need_write_to_change_and_read_to_read(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    ns.fails(SetXAttr(F, "user.a", b"2"), AccessDenied, BOB)  # 644: bob may only read
    ns.fails(RemoveXAttr(F, "user.a"), AccessDenied, BOB)
    ns.fails(SetXAttr(F, "user.a", b"2", compare=True, expected=b"1"), AccessDenied, BOB)
    assert get(ns, F, caller=BOB) == {"user.a": b"1"}
    ns.do(Create("/home/al/secret", 0o600, "w", 3, 1024), ALICE)
    ns.do(SetXAttr("/home/al/secret", "user.s", b"x"), ALICE)
    with pytest.raises(AccessDenied):
        get(ns, "/home/al/secret", caller=BOB)
    with pytest.raises(AccessDenied):
        get(ns, "/home/al/secret", "user.s", caller=BOB)
    assert names(ns, "/home/al/secret", BOB) == ["user.s"]  # names need only traverse


def test_write_only_may_set_but_not_compare(owned: Namespace) -> None:
    ns = owned
    ns.do(Create("/home/al/drop", 0o622, "w", 3, 1024), ALICE)
    assert ns.do(SetXAttr("/home/al/drop", "user.a", b"1"), BOB) == Done(True)
    ns.fails(
        SetXAttr("/home/al/drop", "user.a", b"2", compare=True, expected=b"1"), AccessDenied, BOB
    )
    with pytest.raises(AccessDenied):
        get(ns, "/home/al/drop", caller=BOB)


def test_traverse_is_needed_for_everything(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    ns.do(Mkdir("/home/al/closed", 0o700), ALICE)
    ns.do(Create("/home/al/closed/g", 0o666, "w", 3, 1024), ALICE)
    ns.fails(SetXAttr("/home/al/closed/g", "user.a", b"1"), AccessDenied, BOB)
    with pytest.raises(AccessDenied):
        names(ns, "/home/al/closed/g", BOB)
    with pytest.raises(AccessDenied):
        get(ns, "/home/al/closed/g", caller=BOB)


def test_a_sticky_directory_takes_changes_from_its_owner_only(ns: Namespace) -> None:
    ns.do(Mkdir("/tmp", 0o1777))
    ns.do(SetXAttr("/tmp", "user.a", b"1"))
    ns.fails(SetXAttr("/tmp", "user.a", b"2"), AccessDenied, ALICE)  # though 777
    ns.fails(RemoveXAttr("/tmp", "user.a"), AccessDenied, ALICE)
    ns.do(Mkdir("/tmp/al", 0o1777), ALICE)
    assert ns.do(SetXAttr("/tmp/al", "user.a", b"2"), ALICE) == Done(True)
    assert ns.do(SetXAttr("/tmp/al", "user.b", b"3")) == Done(True)  # the superuser
    ns.fails(SetXAttr("/tmp/al", "user.a", b"4"), AccessDenied, BOB)


def test_trusted_xattrs_are_for_the_superuser_only(owned: Namespace) -> None:
    ns = owned
    ns.fails(SetXAttr(F, "trusted.t", b"1"), AccessDenied, ALICE)  # even the owner
    ns.do(SetXAttr(F, "trusted.t", b"1"))
    ns.do(SetXAttr(F, "user.u", b"2"), ALICE)
    ns.fails(RemoveXAttr(F, "trusted.t"), AccessDenied, ALICE)
    ns.fails(SetXAttr(F, "trusted.t", b"2", compare=True, expected=b"1"), AccessDenied, ALICE)
    ns.fails(SetXAttr(F, "trusted.t", b"2", XATTR_CREATE), AccessDenied, ALICE)
    with pytest.raises(AccessDenied):
        get(ns, F, "trusted.t", caller=ALICE)
    assert get(ns, F, caller=ALICE) == {"user.u": b"2"}
    assert names(ns, F, ALICE) == ["user.u"]
    assert names(ns, F) == ["trusted.t", "user.u"]
    assert get(ns, F) == {"trusted.t": b"1", "user.u": b"2"}
    ns.do(Create("/home/al/ro", 0o444, "w", 3, 1024), ALICE)
    assert ns.do(SetXAttr("/home/al/ro", "trusted.t", b"1")) == Done(True)


def test_the_namespace_check_comes_before_the_path(owned: Namespace) -> None:
    owned.fails(SetXAttr("/home/al/nope", "trusted.t", b"1"), AccessDenied, ALICE)


# ---- compare-and-set -----------------------------------------------------------------


def test_compare_and_set(owned: Namespace) -> None:
    ns = owned

    def cas(expected: bytes | None, value: bytes) -> Done:
        return ns.do(SetXAttr(F, "user.v", value, compare=True, expected=expected), ALICE)

    assert cas(None, b"1") == Done(True)  # absent == absent
    before = ns.state()
    assert cas(None, b"2") == Done(False)  # present: not swapped, nothing changed
    assert cas(b"0", b"2") == Done(False)
    assert cas(b"", b"2") == Done(False)
    assert ns.state() == before
    assert cas(b"1", b"2") == Done(True)
    assert get(ns, F) == {"user.v": b"2"}
    ns.do(RemoveXAttr(F, "user.v"), ALICE)
    assert cas(b"2", b"3") == Done(False)  # absent != a value
    ns.do(SetXAttr(F, "user.e", b""), ALICE)
    assert ns.do(SetXAttr(F, "user.e", b"x", compare=True, expected=None), ALICE) == Done(False)
    assert ns.do(SetXAttr(F, "user.e", b"x", compare=True, expected=b""), ALICE) == Done(True)


def test_compare_with_flags_checks_the_flag_first(owned: Namespace) -> None:
    ns = owned
    ns.fails(SetXAttr(F, "user.v", b"1", XATTR_REPLACE, compare=True), XAttrNotFound, ALICE)
    ns.do(SetXAttr(F, "user.v", b"1"), ALICE)
    ns.fails(
        SetXAttr(F, "user.v", b"2", XATTR_CREATE, compare=True, expected=b"1"), XAttrExists, ALICE
    )
    cmd = SetXAttr(F, "user.v", b"2", XATTR_REPLACE, compare=True, expected=b"1")
    assert ns.do(cmd, ALICE) == Done(True)


def test_expected_without_compare_is_invalid(owned: Namespace) -> None:
    owned.fails(SetXAttr(F, "user.v", b"1", expected=b"0"), InvalidArgument, ALICE)
    owned.fails(SetXAttr(F, "user.v", b"1", flag=3), InvalidArgument, ALICE)


def test_a_retried_compare_and_set_returns_its_first_result(owned: Namespace) -> None:
    ns = owned
    cmd = SetXAttr(F, "user.lock", b"me", compare=True, expected=None)
    assert ns.do(cmd, ALICE, client_id="c1", call_id=7) == Done(True)
    assert ns.do(cmd, ALICE, client_id="c1", call_id=7) == Done(True)  # not a mismatch now
    assert ns.do(cmd, ALICE, client_id="c1", call_id=8) == Done(False)  # a new call
    ns.do(RemoveXAttr(F, "user.lock"), ALICE)
    assert ns.do(cmd, ALICE, client_id="c1", call_id=7) == Done(True)
    assert names(ns, F) == []  # the retry applied nothing


def test_a_retried_failure_returns_the_first_failure(owned: Namespace) -> None:
    ns = owned
    cmd = RemoveXAttr(F, "user.a")
    first = ns.run(cmd, ALICE, client_id="c1", call_id=1)
    assert isinstance(first, Failed) and first.code == "XATTR_NOT_FOUND"
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    assert ns.run(cmd, ALICE, client_id="c1", call_id=1) == first
    assert names(ns, F) == ["user.a"]


# ---- limits ------------------------------------------------------------------------------


def test_size_limit_counts_the_name_without_its_namespace_and_the_value(
    owned: Namespace,
) -> None:
    ns = owned
    assert ns.do(SetXAttr(F, "user.ab", b"x" * 16382), ALICE) == Done(True)
    failed = ns.fails(SetXAttr(F, "user.ab", b"x" * 16383), InvalidArgument, ALICE)
    assert "16384" in failed.message and "16385" in failed.message
    ns.fails(SetXAttr(F, "user.é", b"x" * 16383), InvalidArgument, ALICE)  # é is 2 bytes
    assert ns.do(SetXAttr(F, "user.a", b"xy", max_size=3), ALICE) == Done(True)
    ns.fails(SetXAttr(F, "user.a", b"xyz", max_size=3), InvalidArgument, ALICE)


def test_count_limit_per_inode(owned: Namespace) -> None:
    ns = owned
    for i in range(3):
        ns.do(SetXAttr(F, f"user.{i}", b"v", max_count=3), ALICE)
    failed = ns.fails(SetXAttr(F, "user.new", b"v", max_count=3), InvalidArgument, ALICE)
    assert "limit of 3" in failed.message
    assert ns.do(SetXAttr(F, "user.0", b"w", max_count=3), ALICE) == Done(True)  # a replace
    ns.do(SetXAttr(F, "trusted.t", b"v", max_count=4))  # trusted ones count too
    ns.fails(SetXAttr(F, "user.new", b"v", max_count=4), InvalidArgument, ALICE)
    ns.do(Create("/home/al/g", 0o644, "w", 3, 1024), ALICE)
    assert ns.do(SetXAttr("/home/al/g", "user.x", b"v", max_count=3), ALICE) == Done(True)


# ---- the tree: delete, rename, trash, overwrite ----------------------------------------


def test_rename_keeps_xattrs(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    ns.do(SetXAttr("/home/al", "user.d", b"2"), ALICE)
    ns.do(Rename("/home/al", "/home/moved"))
    assert get(ns, "/home/moved/f") == {"user.a": b"1"}
    assert get(ns, "/home/moved") == {"user.d": b"2"}


def test_delete_removes_xattrs_of_the_whole_subtree(owned: Namespace) -> None:
    ns = owned
    ns.do(Mkdir("/home/al/sub", 0o755), ALICE)
    ns.write("/home/al/sub/g", [10], ALICE)
    for path in (F, "/home/al", "/home/al/sub", "/home/al/sub/g"):
        ns.do(SetXAttr(path, "user.a", path.encode()), ALICE)
    ns.do(SetXAttr("/home", "user.keep", b"1"))
    ns.do(Delete("/home/al", recursive=True))
    assert list(stored(ns).values()) == [{"user.keep": b"1"}]


def test_trash_keeps_xattrs_until_expunged(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    result = ns.do(Delete(F, trash_interval=TRASH))
    assert get(ns, result.trash_path) == {"user.a": b"1"}
    ns.do(ExpungeTrash("hdfs", TRASH, immediate=True))
    assert stored(ns) == {}


def test_overwriting_a_file_or_a_rename_target_drops_its_xattrs(owned: Namespace) -> None:
    ns = owned
    ns.do(SetXAttr(F, "user.a", b"1"), ALICE)
    ns.write(F, [5], ALICE, overwrite=True)
    assert get(ns, F) == {} and stored(ns) == {}
    ns.write("/home/al/g", [5], ALICE)
    ns.do(SetXAttr("/home/al/g", "user.g", b"g"), ALICE)
    ns.do(SetXAttr(F, "user.f", b"f"), ALICE)
    ns.do(Rename(F, "/home/al/g", overwrite=True), ALICE)
    assert get(ns, "/home/al/g") == {"user.f": b"f"}
    assert list(stored(ns).values()) == [{"user.f": b"f"}]
