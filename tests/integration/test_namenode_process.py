"""A real NameNode process on 127.0.0.1: serving, bad input, restart, images, shutdown."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys

import grpc
import pytest
from datanode_stub import DatanodeStub

from chaos.cluster import free_port, write_toml
from hafs_api.errors import (
    AccessDenied,
    FileNotFound,
    InvalidArgument,
    InvalidPath,
    NsQuotaExceeded,
    RequestTooLarge,
)
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

pytestmark = pytest.mark.integration
_calls = itertools.count(1)


class Raw:
    """Raw gRPC calls, bypassing the client's own checks, to test the server's."""

    def __init__(self, address: str, user: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = namenode_pb2_grpc.ClientNamenodeStub(self.channel)
        self.admin = admin_pb2_grpc.HaAdminStub(self.channel)
        self.user = user

    def header(self, user: str | None = None) -> common_pb2.RequestHeader:
        return common_pb2.RequestHeader(
            client_id="raw-client", call_id=next(_calls), user=self.user if user is None else user
        )

    def call(self, method: str, user: str | None = None, **fields):
        request_type = getattr(pb, f"{method}Request")
        try:
            return getattr(self.stub, method)(
                request_type(header=self.header(user), **fields), timeout=10
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def names(self, path: str = "/") -> list[str]:
        return [e.path for e in self.call("GetListing", path=path).entries]

    def close(self) -> None:
        self.channel.close()


@pytest.fixture
def raw(cluster, superuser):
    client = Raw(cluster.addresses[0], superuser)
    yield client
    client.close()


def test_serves_then_stops_cleanly_on_sigterm(cluster, raw):
    raw.call("Mkdir", path="/a/b", permission=0o755, parents=True)
    assert raw.names("/a") == ["/a/b"]
    node = cluster.nodes[0]
    assert node.stop() == 0
    assert "stopping" in node.log_path.read_text()
    with pytest.raises(Exception):  # noqa: B017 - connection refused, any transport error
        raw.call("GetFileInfo", path="/a")


BAD_PATHS = [
    ("relative/path", "not absolute"),
    ("/a/../b", "'..' is not allowed"),
    ("/a/./b", "'.' is not allowed"),
    ("/a//b", "empty component"),
    ("/a/b\x00c", "NUL"),
    ("/" + "n" * 256, "over the limit of 255"),
    ("/" + "/".join(["d" * 200] * 45), "over the limit of 8000"),
    ("", "empty"),
]


@pytest.mark.parametrize(("path", "why"), BAD_PATHS)
def test_malformed_paths_are_refused_and_change_nothing(raw, path, why):
    raw.call("Mkdir", path="/keep", permission=0o755)
    before = raw.names()
    for method, fields in [
        ("Mkdir", {"permission": 0o755, "parents": True}),
        ("Create", {"permission": 0o644}),
        ("Delete", {"recursive": True}),
        ("GetFileInfo", {}),
    ]:
        with pytest.raises(InvalidPath, match=why.replace(".", r"\.").replace("'", ".")):
            raw.call(method, path=path, **fields)
    with pytest.raises(InvalidPath):
        raw.call("Rename", src="/keep", dst=path)
    assert raw.names() == before
    assert raw.call("GetFileInfo", path="/keep").status.path == "/keep"


def test_oversized_request_is_refused_and_the_server_keeps_serving(raw):
    with pytest.raises(RequestTooLarge):
        raw.call("Mkdir", path="/" + "x" * (17 << 20), permission=0o755)
    assert raw.names() == []
    raw.call("Mkdir", path="/after", permission=0o755)
    assert raw.names() == ["/after"]


def test_permission_denial_and_quota_overrun_change_nothing(raw):
    raw.call("Mkdir", path="/private", permission=0o700)
    with pytest.raises(AccessDenied, match="user=mallory, access=EXECUTE"):
        raw.call("Mkdir", user="mallory", path="/private/x", permission=0o755)
    with pytest.raises(AccessDenied):
        raw.call("SetQuota", user="mallory", path="/private", ns_quota=5)
    raw.call("SetQuota", path="/private", ns_quota=2)
    raw.call("Mkdir", path="/private/one", permission=0o755)
    with pytest.raises(NsQuotaExceeded, match="quota=2"):
        raw.call("Mkdir", path="/private/two", permission=0o755)
    assert raw.names("/private") == ["/private/one"]


@pytest.mark.parametrize(
    "fields",
    [
        {"replication": 1000},
        {"block_size": 1000},
        {"block_size": (1 << 20) + 1},
    ],
)
def test_bad_create_arguments(raw, fields):
    with pytest.raises(InvalidArgument):
        raw.call("Create", path="/f", permission=0o644, **fields)
    with pytest.raises(FileNotFound):
        raw.call("GetFileInfo", path="/f")


def test_bad_user_names_are_refused(raw):
    for user in ["", "bad user", "a:b", "x\x00y"]:
        with pytest.raises(AccessDenied):
            raw.call("GetFileInfo", user=user, path="/")


def test_unknown_users_refused_when_configured(make_cluster, superuser):
    cluster = make_cluster(
        namespace={"allow_unknown_users": False, "trash_interval_s": 0}, users={"alice": ["ml"]}
    )
    raw = Raw(cluster.addresses[0], superuser)
    try:
        raw.call("Mkdir", path="/shared", permission=0o777)
        raw.call("Mkdir", user="alice", path="/shared/a", permission=0o755)
        with pytest.raises(AccessDenied, match="unknown user 'nobody-here'"):
            raw.call("Mkdir", user="nobody-here", path="/shared/b", permission=0o755)
        assert raw.names("/shared") == ["/shared/a"]
    finally:
        raw.close()


def test_state_survives_restart(cluster, raw):
    raw.call("Mkdir", path="/data/train", permission=0o755, parents=True)
    created = raw.call("Create", path="/data/train/part-0", permission=0o644, replication=1)
    datanodes = DatanodeStub(cluster.addresses[0])
    block = raw.stub.AddBlock(
        pb.AddBlockRequest(
            header=raw.header(), path="/data/train/part-0", file_id=created.status.inode_id
        )
    ).block
    datanodes.finalize(block, 1234)
    datanodes.close()
    raw.stub.Complete(
        pb.CompleteRequest(
            header=raw.header(),
            path="/data/train/part-0",
            file_id=created.status.inode_id,
            last=common_pb2.Block(
                block_id=block.block.block_id, gen_stamp=block.block.gen_stamp, num_bytes=1234
            ),
        )
    )
    cluster.stop()
    cluster.start()
    raw2 = Raw(cluster.addresses[0], raw.user)
    try:
        status = raw2.call("GetFileInfo", path="/data/train/part-0").status
        assert (status.length, status.replication, status.under_construction) == (1234, 1, False)
        located = raw2.call("GetBlockLocations", path="/data/train/part-0")
        assert [b.block.block_id for b in located.blocks] == [block.block.block_id]
        # replica locations are replicated state: served with no block report since
        assert [n.datanode_id for n in located.blocks[0].locations] == [
            n.datanode_id for n in block.locations
        ]
    finally:
        raw2.close()


def test_checkpoint_restore_and_offline_query(cluster, raw):
    raw.call("Mkdir", path="/ckpt/a", permission=0o750, parents=True)
    reply = raw.admin.Checkpoint(admin_pb2.CheckpointRequest(), timeout=10)
    assert reply.applied_index > 0 and reply.size_bytes > 0
    with sqlite3.connect(f"file:{reply.image_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT name, perm FROM inodes WHERE name IN ('ckpt', 'a') ORDER BY id"
        ).fetchall()
    assert rows == [("ckpt", 0o750), ("a", 0o750)]  # implicit parents: mode | u+wx
    raw.call("Mkdir", path="/after-image", permission=0o755)
    cluster.stop()
    live = cluster.base_dir / "nn1" / "namespace.db"
    live.unlink()
    cluster.start()
    raw2 = Raw(cluster.addresses[0], raw.user)
    try:  # restored from the image: what came after it is gone, the rest is there
        assert raw2.names() == ["/ckpt"]
    finally:
        raw2.close()


def test_second_namenode_on_the_same_data_dir_refuses(cluster, tmp_path):
    node = cluster.nodes[0]
    config = tmp_path / "twin.toml"
    write_toml(
        config,
        {
            "namenode": {
                "id": "twin",
                "rpc_address": f"127.0.0.1:{free_port()}",
                "data_dir": str(cluster.base_dir / "nn1"),
            }
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "ha_namenode", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "in use by another NameNode" in result.stderr
    assert node.running


def test_bad_config_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[namenode]\nrpc_address = "nope"\n')
    result = subprocess.run(
        [sys.executable, "-m", "ha_namenode", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "namenode.rpc_address" in result.stderr


def test_status_and_transfer(raw):
    status = raw.admin.GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert status.state == admin_pb2.ACTIVE and status.node_id == "nn1"
    assert status.applied_index >= 1 and status.leader_id == "nn1"
    with pytest.raises(grpc.RpcError) as info:
        raw.admin.TransferLeadership(
            admin_pb2.TransferLeadershipRequest(to_node_id="nn2"), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
