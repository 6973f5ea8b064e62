"""The routing client and hactl on two real nameservices (ns1, the default, and ns2;
one NameNode each, three DataNodes shared), from the harness's
``LocalCluster(nameservices=2)``.

Files land in their owner's namespace and block pool. Mount changes reach a
client that cached the table at its next call. ``ls``, ``du`` and ``count``
span the mounts. A cross-namespace rename fails with EXDEV. A read-only
mount refuses writes. ``hactl mount``, ``ha status`` and ``report`` cover both
nameservices. With the default nameservice's NameNode killed, ns2's paths keep
working: from a client that has the table, and from a fresh ``hactl``, which
reads ns2's copy of the table.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from click.testing import CliRunner

from client import Client, CrossNamespace, ReadOnlyMount, RetryPolicy
from client.cli.main import cli
from client.config import load
from hafs_api.errors import HafsError

pytestmark = pytest.mark.integration

SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": 64 * 1024}


@pytest.fixture
def fed(make_cluster):
    return make_cluster(nameservices=2, datanodes=3, namespace=SMALL)


def clients(fed, user, *nameservices):
    config = load(fed.client_conf)
    return [Client(config=config, user=user, nameservice=ns) for ns in nameservices]


def hactl(fed, user, *args, code=0):
    argv = ["--conf", str(fed.client_conf), "--user", user, *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def test_files_go_to_their_owners_and_mount_changes_apply_at_once(fed, superuser):
    fs, other, ns1, ns2 = clients(fed, superuser, None, None, "ns1", "ns2")
    with fs, other, ns1, ns2:
        assert fs.routing and not ns2.routing
        other.mkdir("/home")
        table, pending = fs.add_mount("/data", "ns2")
        assert table.owner("/data/x") == "ns2" and pending == ()
        data = os.urandom(150_000)
        fs.write_bytes("/data/a.bin", data)
        fs.write_bytes("/home/h.txt", b"h" * 1000)
        assert fs.read_bytes("/data/a.bin") == data
        assert ns2.read_bytes("/data/a.bin") == data and not ns1.exists("/data/a.bin")
        assert ns1.exists("/home/h.txt") and not ns2.exists("/home/h.txt")
        assert (ns1.fsck("/").files, ns2.fsck("/").files) == (1, 1)  # one block pool each
        assert ns2.fsck("/").blocks == 3 and fs.fsck("/").blocks == 4

        assert [s.path for s in fs.ls("/")] == ["/data", "/home"]
        total = fs.content_summary("/")
        assert (total.length, total.file_count) == (151_000, 2)
        with pytest.raises(CrossNamespace) as cross:
            fs.rename("/home/h.txt", "/data/h.txt")
        assert cross.value.errno == errno.EXDEV

        assert other.read_bytes("/data/a.bin") == data  # caches the table with /data
        fs.add_mount("/logs", "ns2")
        other.mkdir("/logs/today")
        assert ns2.exists("/logs/today") and not ns1.exists("/logs/today")
        fs.remove_mount("/logs")
        other.mkdir("/logs/tomorrow", parents=True)
        assert ns1.exists("/logs/tomorrow") and not ns2.exists("/logs/tomorrow")

        fs.add_mount("/frozen", "ns2", read_only=True)
        with pytest.raises(ReadOnlyMount):
            other.mkdir("/frozen/x")
        assert other.stat("/frozen").is_dir


def test_hactl_mount_ha_status_report_and_fs_views(fed, superuser):
    added = hactl(fed, superuser, "mount", "add", "/data", "ns2", "--ns-quota", "100")
    assert added.stdout.startswith("Mounted ns2 at /data (read-write); mount table version 2")
    listed = hactl(fed, superuser, "mount", "list").stdout.splitlines()
    assert listed[0] == "Mount table version 2, default nameservice ns1"
    assert listed[2].split() == ["/data", "ns2", "rw"]
    hactl(fed, superuser, "fs", "-mkdir", "/home")
    hactl(fed, superuser, "fs", "-touchz", "/home/a", "/data/b")
    ls = hactl(fed, superuser, "fs", "-ls", "/").stdout.splitlines()
    assert ls[0] == "Found 2 items" and [line.split()[-1] for line in ls[1:]] == ["/data", "/home"]
    count = hactl(fed, superuser, "fs", "-count", "-q", "/data").stdout.split()
    assert count[0] == "100"  # the quota the mount point got in ns2
    mv = hactl(fed, superuser, "fs", "-mv", "/home/a", "/data", code=1)
    assert "cannot rename across nameservices (ns1 to ns2)" in mv.stderr

    status = hactl(fed, superuser, "ha", "status").stdout
    assert "Nameservice ns1 (default)" in status and "Nameservice ns2" in status
    rows = json.loads(hactl(fed, superuser, "ha", "status", "--json").stdout)
    assert sorted((r["nameservice"], r["state"]) for r in rows) == [
        ("ns1", "active"),
        ("ns2", "active"),
    ]
    report = hactl(fed, superuser, "report").stdout
    assert report.count("Live datanodes (3):") == 2 and "Nameservice ns2" in report
    doc = json.loads(hactl(fed, superuser, "report", "--live", "--json").stdout)
    assert [(r["nameservice"], len(r["live"])) for r in doc] == [("ns1", 3), ("ns2", 3)]
    removed = json.loads(hactl(fed, superuser, "mount", "remove", "/data", "--json").stdout)
    assert removed["mounts"] == [] and removed["version"] == 3


def test_the_other_nameservice_works_without_the_default(fed, superuser):
    config = load(fed.client_conf)
    retry = RetryPolicy(deadline=3.0)
    with Client(config=config, user=superuser, retry=retry) as fs:
        fs.add_mount("/data", "ns2")
        fs.write_bytes("/data/a", b"before")
        for node in fed.namenode_nodes_of("ns1"):
            node.kill()
        assert fs.read_bytes("/data/a") == b"before"
        fs.write_bytes("/data/b", b"after")
        assert fs.read_bytes("/data/b") == b"after"
        with pytest.raises(HafsError):
            fs.stat("/")  # the default's own paths are unavailable
    fresh = hactl(fed, superuser, "fs", "-cat", "/data/b")  # the table from ns2's copy
    assert fresh.stdout == "after"


def test_fsspec_sees_the_federated_tree(fed, superuser, monkeypatch):
    import fsspec

    from client.filesystem import HafsFileSystem

    monkeypatch.setenv("HAFS_CONF", str(fed.client_conf))
    HafsFileSystem.clear_instance_cache()
    (fs,) = clients(fed, superuser, None)
    with fs:
        fs.add_mount("/data", "ns2")
    tree = fsspec.filesystem("hafs")  # hafs:/// routes by the mount table
    tree.pipe_file("/data/x.txt", b"in ns2")
    tree.pipe_file("/top.txt", b"in ns1")
    direct = fsspec.filesystem("hafs", host="ns2")  # hafs://ns2/ is ns2 alone
    assert direct.cat_file("/data/x.txt") == b"in ns2"
    assert not direct.exists("/top.txt")
    assert sorted(tree.ls("/", detail=False)) == ["/data", "/top.txt"]
    HafsFileSystem.clear_instance_cache()
