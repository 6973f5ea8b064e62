"""Extended attributes against real NameNode processes: the Python client on a
3-NameNode Raft nameservice (compare-and-set across a leader failover), and
``hactl fs -setfattr/-getfattr`` on one NameNode."""

from __future__ import annotations

import json
import signal

import pytest
from hactl_runner import hactl_runner

from client import Client, XAttrExists, XAttrNotFound
from hafs_api.errors import AccessDenied, InvalidArgument

pytestmark = pytest.mark.integration


def test_xattrs_through_the_client_on_a_raft_group(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/data", permission=0o777)
        fs.set_xattr("/data", "user.owner-team", "ml")
        fs.set_xattr("/data", "user.blob", b"\x00\xff")
        fs.set_xattr("/data", "trusted.audit", b"yes")
        assert fs.get_xattr("/data", "user.owner-team") == b"ml"
        assert fs.get_xattrs("/data") == {
            "trusted.audit": b"yes",
            "user.blob": b"\x00\xff",
            "user.owner-team": b"ml",
        }
        assert fs.list_xattrs("/data") == ["trusted.audit", "user.blob", "user.owner-team"]
        with pytest.raises(XAttrExists):
            fs.set_xattr("/data", "user.blob", b"x", flag="create")
        with pytest.raises(XAttrNotFound):
            fs.set_xattr("/data", "user.nope", b"x", flag="replace")
        with pytest.raises(LookupError):  # XAttrNotFound is a LookupError
            fs.get_xattr("/data", "user.nope")
        with pytest.raises(InvalidArgument, match=r"user\. or trusted\."):
            fs.set_xattr("/data", "color", b"x")
        with pytest.raises(InvalidArgument, match="too big"):
            fs.set_xattr("/data", "user.big", b"x" * 20000)
        assert fs.compare_and_set_xattr("/data", "user.lock", None, "me")
        assert not fs.compare_and_set_xattr("/data", "user.lock", None, "you")
        assert not fs.compare_and_set_xattr("/data", "user.lock", b"you", "them")
        assert fs.compare_and_set_xattr("/data", "user.lock", b"me", "them")
        fs.remove_xattr("/data", "user.lock")
        with pytest.raises(XAttrNotFound):
            fs.remove_xattr("/data", "user.lock")
        fs.mv("/data", "/renamed")
        assert fs.get_xattr("/renamed", "user.blob") == b"\x00\xff"
    with Client(addresses=cluster.addresses, user="bob") as bob:
        assert bob.list_xattrs("/renamed") == ["user.blob", "user.owner-team"]
        with pytest.raises(AccessDenied):
            bob.get_xattr("/renamed", "trusted.audit")
        with pytest.raises(AccessDenied):  # 777 minus the umask: no write for others
            bob.set_xattr("/renamed", "user.mine", b"1")


def test_a_compare_and_set_retried_after_a_failover_keeps_its_result(make_cluster, superuser):
    """The retry carries the first call id: it gets ``swapped`` from the retry cache
    (a fresh compare would now be a mismatch)."""
    import grpc

    from hafs_api.v1 import common_pb2, namenode_pb2_grpc
    from hafs_api.v1 import namenode_pb2 as pb

    cluster = make_cluster(namenodes=3)
    old = cluster.wait_leader()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/jobs")

    def cas(address: str, call_id: int) -> bool:
        header = common_pb2.RequestHeader(client_id="cas-retrier", call_id=call_id, user=superuser)
        request = pb.SetXAttrRequest(
            header=header, path="/jobs", name="user.lock", value=b"me", compare=True
        )
        with grpc.insecure_channel(address) as channel:
            stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
            return stub.SetXAttr(request, timeout=10).swapped

    assert cas(old.address, 1)
    old.signal(signal.SIGKILL)
    new = cluster.wait_leader(timeout=30)
    assert new is not old
    assert cas(new.address, 1)  # the same call, retried: its first result
    assert not cas(new.address, 2)  # a new call: the lock is taken
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        assert fs.get_xattrs("/jobs") == {"user.lock": b"me"}


@pytest.fixture
def limited(make_cluster):
    """One NameNode with small XAttr limits, to see the [namespace] settings apply."""
    return make_cluster(
        namespace={"trash_interval_s": 0, "max_xattrs_per_inode": 8, "max_xattr_size": 64}
    )


@pytest.fixture
def hactl(limited):
    return hactl_runner(limited.client_conf)


def test_setfattr_and_getfattr_print_like_hdfs(hactl):
    hactl("fs", "-mkdir", "-p", "/d/sub")
    hactl("fs", "-setfattr", "-n", "user.text", "-v", '"hello world"', "/d")
    hactl("fs", "-setfattr", "-n", "user.hex", "-v", "0x00ff", "/d")
    hactl("fs", "-setfattr", "-n", "user.b64", "-v", "0sAP8=", "/d")
    hactl("fs", "-setfattr", "-n", "user.plain", "-v", "bare", "/d")
    hactl("fs", "-setfattr", "-n", "user.empty", "/d")
    hactl("fs", "-setfattr", "-n", "user.child", "-v", "c", "/d/sub")
    assert hactl("fs", "-getfattr", "-d", "/d").output == (
        "# file: /d\n"
        'user.b64="\x00\ufffd"\n'
        "user.empty\n"
        'user.hex="\x00\ufffd"\n'
        'user.plain="bare"\n'
        'user.text="hello world"\n'
    )
    assert hactl("fs", "-getfattr", "-n", "user.hex", "-e", "hex", "/d").output == (
        "# file: /d\nuser.hex=0x00ff\n"
    )
    assert hactl("fs", "-getfattr", "-n", "user.b64", "-e", "base64", "/d").output == (
        "# file: /d\nuser.b64=0sAP8=\n"
    )
    assert hactl("fs", "-getfattr", "-R", "-n", "user.child", "/d/sub").output == (
        '# file: /d/sub\nuser.child="c"\n'
    )
    out = hactl("fs", "-getfattr", "-R", "-d", "-e", "hex", "/d").output.splitlines()
    assert out[0] == "# file: /d" and out[-2:] == ["# file: /d/sub", "user.child=0x63"]
    hactl("fs", "-setfattr", "-x", "user.text", "/d")
    assert "user.text" not in hactl("fs", "-getfattr", "-d", "/d").output
    data = json.loads(hactl("--json", "fs", "-getfattr", "-d", "-e", "base64", "/d/sub").output)
    assert data == [{"path": "/d/sub", "xattrs": {"user.child": "0sYw=="}}]


def test_setfattr_and_getfattr_errors(hactl):
    hactl("fs", "-mkdir", "/e")
    missing = hactl("fs", "-getfattr", "-n", "user.nope", "/e", code=1)
    assert missing.stdout == "# file: /e\n"
    assert "getfattr: At least one of the attributes provided was not found" in missing.stderr
    removed = hactl("fs", "-setfattr", "-x", "user.nope", "/e", code=1)
    assert "setfattr: No matching attributes found" in removed.stderr
    bad = hactl("fs", "-setfattr", "-n", "color", "-v", "x", "/e", code=1)
    assert "user. or trusted." in bad.stderr
    nofile = hactl("fs", "-getfattr", "-d", "/nope", code=1)
    assert "getfattr: '/nope': No such file or directory" in nofile.stderr
    assert "Must specify '-n name' or '-d'" in hactl("fs", "-getfattr", "/e", code=2).stderr
    both = hactl("fs", "-setfattr", "-n", "user.a", "-x", "user.a", "/e", code=2)
    assert "Can not specify both" in both.stderr
    assert "bad hex" in hactl("fs", "-setfattr", "-n", "user.a", "-v", "0xz", "/e", code=2).stderr
    error = json.loads(hactl("--json", "fs", "-setfattr", "-x", "user.a", "/e", code=1).stderr)
    assert error["error"]["code"] == "XATTR_NOT_FOUND"


def test_the_configured_limits_apply(hactl):
    hactl("fs", "-mkdir", "/l")
    big = hactl("fs", "-setfattr", "-n", "user.big", "-v", "x" * 62, "/l", code=1)
    assert "maximum combined size of the name and value is 64" in big.stderr
    hactl("fs", "-setfattr", "-n", "user.ok", "-v", "x" * 62, "/l")
    for i in range(7):
        hactl("fs", "-setfattr", "-n", f"user.{i}", "/l")
    full = hactl("fs", "-setfattr", "-n", "user.ninth", "/l", code=1)
    assert "would exceed limit of 8" in full.stderr
