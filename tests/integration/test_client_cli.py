"""The Python client and hactl against a real NameNode process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from hactl_runner import hactl_runner

from client import Client
from hafs_api.v1 import common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

pytestmark = pytest.mark.integration


@pytest.fixture
def trash_cluster(make_cluster):
    return make_cluster(namespace={"trash_interval_s": 3600})


@pytest.fixture
def fs(trash_cluster, superuser):
    with Client(addresses=trash_cluster.addresses, user=superuser) as client:
        yield client


@pytest.fixture
def hactl(trash_cluster):
    return hactl_runner(trash_cluster.client_conf)


def test_python_client_round_trip(fs, superuser):
    fs.mkdir("/user/alice/features", parents=True)
    fs.chown("/user/alice", owner="alice", group="ml")
    assert fs.exists("/user/alice/features") and not fs.exists("/user/alice/nope")
    fs.mv("/user/alice/features", "/user/alice/features-v2")
    names = [s.path for s in fs.ls("/user/alice")]
    assert names == ["/user/alice/features-v2"]
    status = fs.stat("/user/alice")
    assert (status.owner, status.group, status.is_dir) == ("alice", "ml", True)
    with pytest.raises(FileNotFoundError):
        fs.stat("/user/alice/features")
    with pytest.raises(FileExistsError):
        fs.mkdir("/user/alice/features-v2")
    make_file(fs.connection.addresses[0], fs.user, "/user/alice/notes")
    with pytest.raises(NotADirectoryError):
        fs.mkdir("/user/alice/notes/child", parents=True)
    with pytest.raises(IsADirectoryError):
        fs.rename("/user/alice/notes", "/user/alice/features-v2", overwrite=True)


def make_file(address: str, user: str, path: str) -> None:
    """An empty closed file, made with raw calls (the client's write path comes later)."""
    with grpc.insecure_channel(address) as channel:
        stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
        header = common_pb2.RequestHeader(client_id="maker", call_id=1, user=user)
        status = stub.Create(
            pb.CreateRequest(header=header, path=path, permission=0o644, replication=1)
        ).status
        header.call_id = 2
        stub.Complete(pb.CompleteRequest(header=header, path=path, file_id=status.inode_id))


def test_other_users_get_permission_errors(trash_cluster, fs):
    fs.mkdir("/team", permission=0o755)
    with Client(addresses=trash_cluster.addresses, user="bob") as bob:
        with pytest.raises(PermissionError, match="user=bob, access=WRITE"):
            bob.mkdir("/team/bob")
        assert [s.path for s in bob.ls("/")] == ["/team"]


def test_trash_and_expunge_through_the_client(fs, superuser):
    fs.mkdir(f"/user/{superuser}", parents=True, exist_ok=True)
    fs.mkdir("/scratch/run1", parents=True)
    where = fs.delete("/scratch", recursive=True)
    assert where == f"/user/{superuser}/.Trash/Current/scratch"
    assert fs.exists(where) and not fs.exists("/scratch")
    result = fs.expunge(immediate=True)
    assert f"/user/{superuser}/.Trash/Current" in result.removed
    assert not fs.exists(where)


def test_fs_commands_print_like_hdfs(hactl, superuser):
    hactl("fs", "-mkdir", "-p", "/data/a", "/data/b")
    out = hactl("fs", "-ls", "/data").output.splitlines()
    assert out[0] == "Found 2 items"
    assert re.fullmatch(
        rf"drwxr-xr-x\s+- {superuser} supergroup\s+0 \d{{4}}-\d\d-\d\d "
        r"\d\d:\d\d /data/a",
        out[1],
    ), out[1]
    assert out[2].endswith(" /data/b")
    assert (
        hactl("fs", "-stat", "%F %u:%g %a %n", "/data/a").output
        == f"directory {superuser}:supergroup 755 a\n"
    )
    hactl("fs", "-mv", "/data/a", "/data/b")  # into the existing directory
    assert hactl("fs", "-ls", "/data/b").output.splitlines()[-1].endswith(" /data/b/a")
    hactl("fs", "-chmod", "-R", "go-rx", "/data")
    assert hactl("fs", "-stat", "%A", "/data/b/a").output == "rwx------\n"  # as hdfs
    assert hactl("fs", "-test", "-d", "/data/b", code=0).output == ""
    hactl("fs", "-test", "-e", "/data/a", code=1)
    count = hactl("fs", "-count", "/data").output.split()
    assert count == ["3", "0", "0", "/data"]
    hactl("fs", "-mkdir", "-p", f"/user/{superuser}")
    moved = hactl("fs", "-rm", "-r", "/data/b").output
    assert moved == f"Moved: '/data/b' to trash at: /user/{superuser}/.Trash/Current/data/b\n"
    assert hactl("fs", "-rm", "-r", "-skipTrash", "/data").output == "Deleted /data\n"


def test_fs_errors_and_json(hactl):
    result = hactl("fs", "-ls", "/nope", code=1)
    assert "ls: '/nope': No such file or directory" in result.stderr
    hactl("fs", "-mkdir", "/x")
    result = hactl("fs", "-mkdir", "/x", code=1)
    assert "File exists" in result.stderr
    result = hactl("fs", "-mkdir", "/a/b/c", code=1)
    assert "No such file or directory" in result.stderr
    listing = json.loads(hactl("--json", "fs", "-ls", "/").output)
    assert [e["path"] for e in listing] == ["/x"] and listing[0]["permission"] == "755"
    error = json.loads(hactl("--json", "fs", "-ls", "/nope", code=1).stderr)
    assert error["error"]["code"] == "FILE_NOT_FOUND"


def test_quota_shows_in_count(hactl, fs):
    fs.mkdir("/q")
    fs.set_quota("/q", ns=10, ds=1 << 30)
    fs.mkdir("/q/one")
    out = hactl("fs", "-count", "-q", "/q").output.split()
    assert out == ["10", "8", str(1 << 30), str(1 << 30), "2", "0", "0", "/q"]


def test_ha_status_checkpoint_and_image_query(hactl, trash_cluster):
    status = json.loads(hactl("--json", "ha", "status").output)
    assert [(s["node_id"], s["state"]) for s in status] == [("nn1", "active")]
    assert "active" in hactl("ha", "status").output
    hactl("fs", "-mkdir", "/imaged")
    info = json.loads(hactl("--json", "ha", "checkpoint").output)
    image = info["image_path"]
    assert Path(image).exists()
    rows = json.loads(
        hactl("--json", "image", "query", image, "SELECT name FROM inodes WHERE parent = 1").output
    )
    assert rows == [{"name": "imaged"}]
    refused = hactl("image", "query", image, "DELETE FROM inodes", code=1)
    assert "not authorized" in refused.stderr or "read-only" in refused.stderr


def test_retried_mutation_returns_the_first_result(trash_cluster, superuser):
    """Exactly-once: the same (client_id, call_id) sent twice applies once."""
    with grpc.insecure_channel(trash_cluster.addresses[0]) as channel:
        stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
        header = common_pb2.RequestHeader(client_id="retrier", call_id=7, user=superuser)
        first = stub.Mkdir(pb.MkdirRequest(header=header, path="/once", permission=0o755))
        again = stub.Mkdir(pb.MkdirRequest(header=header, path="/once", permission=0o755))
        assert again.status == first.status
        header.call_id = 8  # a new call is a new operation, and fails
        with pytest.raises(grpc.RpcError) as info:
            stub.Mkdir(pb.MkdirRequest(header=header, path="/once", permission=0o755))
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_hactl_entry_point_exit_codes(trash_cluster):
    hactl = str(Path(sys.executable).parent / "hactl")
    conf = ["--conf", str(trash_cluster.client_conf)]
    ok = subprocess.run(
        [hactl, *conf, "fs", "-ls", "/"], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [hactl, *conf, "fs", "-stat", "/missing"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "No such file or directory" in bad.stderr
