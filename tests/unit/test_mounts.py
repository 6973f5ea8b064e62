"""The mount table's matching rule: deepest mount by whole path components."""

from __future__ import annotations

import pytest

from hafs_api.errors import InvalidArgument
from hafs_api.mounts import Mount, MountTable, covers, from_proto, to_proto
from hafs_api.v1 import common_pb2

TABLE = MountTable(
    7,
    "ns1",
    (
        Mount("/data", "ns2"),
        Mount("/data/archive", "ns3", read_only=True),
        Mount("/user/a", "ns2"),
    ),
)


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/", "ns1"),
        ("/tmp/x", "ns1"),
        ("/data", "ns2"),
        ("/data/x", "ns2"),
        ("/database", "ns1"),  # a prefix of the name, not of the components
        ("/data/archive", "ns3"),
        ("/data/archive/2024/x", "ns3"),  # the deepest mount wins
        ("/data/archived", "ns2"),
        ("/user", "ns1"),
        ("/user/a", "ns2"),
        ("/user/a1", "ns1"),  # /user/a1 does not match /user/a
        ("/user/a/b", "ns2"),
    ],
)
def test_the_deepest_mount_by_components_owns_a_path(path, owner):
    assert TABLE.owner(path) == owner


def test_read_only_and_the_views_across_mounts():
    assert TABLE.read_only("/data/archive/x") and not TABLE.read_only("/data/x")
    assert [m.path for m in TABLE.mounts_below("/data")] == ["/data/archive"]
    assert [m.path for m in TABLE.mounts_below("/")] == ["/data", "/data/archive", "/user/a"]
    assert TABLE.children_mounts("/") == ["data", "user"]
    assert TABLE.children_mounts("/user") == ["a"]
    assert TABLE.children_mounts("/user/a") == []
    assert covers("/", "/x") and covers("/a", "/a") and not covers("/a", "/ab")


def test_changes_make_new_versions_and_check_mount_points():
    added = TABLE.with_mount(Mount("/logs", "ns3"))
    assert added.version == 8 and added.owner("/logs/x") == "ns3"
    replaced = added.with_mount(Mount("/logs", "ns2"))
    assert replaced.owner("/logs") == "ns2" and len(replaced.mounts) == 4
    removed = replaced.without("/logs")
    assert removed.version == 10 and removed.owner("/logs") == "ns1"
    for bad in ("/", "relative", "/a//b", ""):
        with pytest.raises(ValueError):  # InvalidArgument or InvalidPath
            TABLE.with_mount(Mount(bad, "ns2"))
    with pytest.raises(InvalidArgument):
        TABLE.without("/nope")


def test_proto_round_trip():
    assert from_proto(to_proto(TABLE, common_pb2.MountTable)) == TABLE
    assert from_proto(common_pb2.MountTable()) == MountTable()
