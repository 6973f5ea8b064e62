"""Scenarios of the replicated mount table: AddMount and RemoveMount (the authority),
InstallMountTable (every other nameservice), and the apply hook that keeps the
in-memory copy current."""

from __future__ import annotations

from nsharness import ALICE, SUPER, Namespace

from ha_namenode.namespace import mounts
from ha_namenode.namespace.commands import AddMount, InstallMountTable, Mkdir, RemoveMount
from hafs_api.errors import AccessDenied, InvalidArgument, InvalidPath
from hafs_api.mounts import Mount, MountTable


def held(ns: Namespace) -> MountTable:
    with ns.store.read() as view:
        return mounts.table(view)


def test_add_mount_makes_a_new_version_and_returns_the_table(ns: Namespace) -> None:
    assert held(ns) == MountTable(0, "", ())
    one = ns.do(AddMount("/data", "ns2"))
    assert one == MountTable(1, "", (Mount("/data", "ns2"),))
    two = ns.do(AddMount("/user/a", "ns3", read_only=True))
    assert two.version == 2
    assert two.mounts == (Mount("/data", "ns2"), Mount("/user/a", "ns3", True))
    assert held(ns) == two


def test_the_same_mount_again_changes_nothing_and_a_changed_one_is_a_new_version(
    ns: Namespace,
) -> None:
    ns.do(AddMount("/data", "ns2"))
    before = ns.state()
    assert ns.do(AddMount("/data", "ns2")).version == 1
    assert ns.state() == before
    changed = ns.do(AddMount("/data", "ns2", read_only=True))
    assert changed == MountTable(2, "", (Mount("/data", "ns2", True),))
    moved = ns.do(AddMount("/data", "ns3"))
    assert moved == MountTable(3, "", (Mount("/data", "ns3"),))


def test_nested_mounts_and_the_deepest_owns(ns: Namespace) -> None:
    ns.do(AddMount("/user", "ns2"))
    table = ns.do(AddMount("/user/ml", "ns3"))
    assert [m.path for m in table.mounts] == ["/user", "/user/ml"]
    assert table.owner("/user/ml/x") == "ns3"
    assert table.owner("/user/mlx") == "ns2"


def test_bad_mounts_are_refused_and_change_nothing(ns: Namespace) -> None:
    ns.do(AddMount("/data", "ns2"))
    before = held(ns)
    ns.fails(AddMount("/", "ns2"), InvalidArgument)
    ns.fails(AddMount("/data/", "ns2"), InvalidPath)
    ns.fails(AddMount("relative", "ns2"), InvalidPath)
    ns.fails(AddMount("/a/../b", "ns2"), InvalidPath)
    ns.fails(AddMount("/x", ""), InvalidArgument)
    ns.fails(AddMount("/x", "ns 2"), InvalidArgument)
    assert held(ns) == before


def test_only_the_superuser_changes_the_table(ns: Namespace) -> None:
    ns.do(AddMount("/data", "ns2"))
    ns.fails(AddMount("/x", "ns2"), AccessDenied, ALICE)
    ns.fails(RemoveMount("/data"), AccessDenied, ALICE)
    ns.fails(InstallMountTable(9, ()), AccessDenied, ALICE)
    assert held(ns).version == 1


def test_remove_mount(ns: Namespace) -> None:
    ns.do(AddMount("/a", "ns2"))
    ns.do(AddMount("/b", "ns3"))
    assert ns.do(RemoveMount("/a")) == MountTable(3, "", (Mount("/b", "ns3"),))
    ns.fails(RemoveMount("/a"), InvalidArgument)  # no mount there any more
    ns.fails(RemoveMount("/b/c"), InvalidArgument)  # under a mount is not a mount
    assert ns.do(RemoveMount("/b")) == MountTable(4, "", ())
    assert held(ns) == MountTable(4, "", ())


def test_install_replaces_the_whole_table_when_newer(ns: Namespace) -> None:
    ns.do(InstallMountTable(3, (("/a", "ns2", False), ("/b", "ns3", True))))
    assert held(ns) == MountTable(3, "", (Mount("/a", "ns2"), Mount("/b", "ns3", True)))
    table = ns.do(InstallMountTable(5, (("/c", "ns2", False), ("/b", "ns3", False))))
    assert table == MountTable(5, "", (Mount("/b", "ns3"), Mount("/c", "ns2")))
    assert held(ns) == table


def test_install_of_an_older_or_the_same_version_is_a_no_op(ns: Namespace) -> None:
    ns.do(InstallMountTable(5, (("/a", "ns2", False),)))
    before = ns.state()
    assert ns.do(InstallMountTable(5, (("/z", "ns9", True),))).version == 5
    assert ns.do(InstallMountTable(4, ())).mounts == (Mount("/a", "ns2"),)
    assert ns.state() == before


def test_a_bad_installed_table_is_refused_whole(ns: Namespace) -> None:
    ns.do(InstallMountTable(2, (("/a", "ns2", False),)))
    ns.fails(InstallMountTable(3, (("/a", "ns2", False), ("/a", "ns3", False))), InvalidArgument)
    ns.fails(InstallMountTable(3, (("/b", "ns2", False), ("/", "ns3", False))), InvalidArgument)
    ns.fails(InstallMountTable(3, (("/b", "", False),)), InvalidArgument)
    assert held(ns) == MountTable(2, "", (Mount("/a", "ns2"),))


def test_a_retried_mount_change_gets_its_first_result(ns: Namespace) -> None:
    first = ns.do(AddMount("/data", "ns2"), client_id="admin", call_id=1)
    ns.do(AddMount("/other", "ns2"))
    again = ns.do(AddMount("/data", "ns2"), client_id="admin", call_id=1)
    assert again == first and held(ns).version == 2


def test_mounts_do_not_touch_the_tree(ns: Namespace) -> None:
    ns.do(Mkdir("/data", 0o755))
    before = ns.state()["inodes"]
    ns.do(AddMount("/data", "ns2"))
    ns.do(AddMount("/nothing/here", "ns2"))
    assert ns.state()["inodes"] == before
    assert not ns.exists("/nothing")


def test_watchers_hear_of_committed_mount_batches_only(ns: Namespace) -> None:
    heard: list[str] = []
    ns.machine.watch((AddMount, RemoveMount, InstallMountTable), lambda: heard.append("m"))
    ns.do(Mkdir("/d", 0o755))
    assert heard == []
    ns.do(AddMount("/d", "ns2"))
    assert heard == ["m"]
    ns.run(RemoveMount("/nope"))  # failed: the watcher may reload, nothing more
    ns.machine.state_replaced()
    assert len(heard) == 3


def test_a_failing_watcher_does_not_fail_apply(ns: Namespace) -> None:
    def broken() -> None:
        raise RuntimeError("bug")

    ns.machine.watch((AddMount,), broken)
    assert ns.do(AddMount("/d", "ns2"), SUPER).version == 1
    assert held(ns).version == 1
