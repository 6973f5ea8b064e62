"""The client against real in-process gRPC servers on 127.0.0.1.

Small servicers stand in for NameNodes where a real one cannot show the case:
one that fails with chosen hafs errors, a follower that answers NOT_LEADER with a
hint, a flaky one, one that records where calls land, and HaAdmins in several
states. The namespace and ``hactl fs`` tests run against a real NameNode started
in this process. Every server is stopped by its fixture, even when a test fails.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from click.testing import CliRunner
from datanode_stub import DatanodeStub

from client import Client, RetryPolicy
from client.cli.main import cli
from client.rpc import NamenodeConnection
from ha_namenode.config import NameNodeConfig
from ha_namenode.node import NameNode
from hafs_api.errors import (
    AccessDenied,
    DeadlineExceeded,
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotFound,
    InvalidPath,
    NotLeader,
    RequestTooLarge,
    Unavailable,
)
from hafs_api.status import abort
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

# -- servicers ----------------------------------------------------------------------


class Recording(namenode_pb2_grpc.ClientNamenodeServicer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, common_pb2.RequestHeader, object]] = []
        self.lock = threading.Lock()

    def record(self, method: str, request) -> None:
        header = common_pb2.RequestHeader()
        header.CopyFrom(request.header)
        with self.lock:
            self.calls.append((method, header, request))


class ErrorNamenode(Recording):
    ERRORS = {
        "/nope": FileNotFound("File does not exist", "/nope"),
        "/secret": AccessDenied("user=alice, access=READ", "/secret"),
        "/taken": FileAlreadyExists("already exists", "/taken"),
        "/full": DirectoryNotEmpty("directory is not empty", "/full"),
    }

    def GetFileInfo(self, request, context):
        self.record("GetFileInfo", request)
        abort(context, self.ERRORS[request.path])


class FollowerNamenode(Recording):
    def __init__(self, leader: str) -> None:
        super().__init__()
        self.leader = leader

    def GetFileInfo(self, request, context):
        self.record("GetFileInfo", request)
        abort(context, NotLeader("this NameNode is a follower", leader_hint=self.leader))


class DirectoryNamenode(Recording):
    """Says every path is a directory: enough to see where the client's calls go."""

    def GetFileInfo(self, request, context):
        self.record("GetFileInfo", request)
        return namenode_pb2.GetFileInfoResponse(
            status=common_pb2.FileStatus(path=request.path, kind=common_pb2.DIRECTORY)
        )


class FlakyNamenode(Recording):
    """Mkdir fails with UNAVAILABLE ``failures`` times per call before it succeeds."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.pending = 0

    def Mkdir(self, request, context):
        self.record("Mkdir", request)
        if self.pending == 0:
            self.pending = self.failures + 1
        self.pending -= 1
        if self.pending:
            abort(context, Unavailable("raft commit timed out, try again"))
        return namenode_pb2.MkdirResponse(
            status=common_pb2.FileStatus(
                path=request.path, kind=common_pb2.DIRECTORY, permission=request.permission
            )
        )


def seed(address: str) -> None:
    """The tree the tests below expect, made through a real NameNode's own RPCs.

    /user/alice, /data with a.csv (1234 bytes), b.csv (1536) and c.bin (empty),
    all files with replication 3 and every mtime at 2023-11-14 22:13:20 UTC.
    """
    with grpc.insecure_channel(address) as channel:
        stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
        calls = iter(range(1, 1000))

        def header():
            return common_pb2.RequestHeader(client_id="seed", call_id=next(calls), user="alice")

        datanodes = DatanodeStub(address)
        for path in ("/user/alice", "/data"):
            stub.Mkdir(pb.MkdirRequest(header=header(), path=path, permission=0o755, parents=True))
        for name, size in (("a.csv", 1234), ("b.csv", 1536), ("c.bin", 0)):
            path = f"/data/{name}"
            st = stub.Create(
                pb.CreateRequest(header=header(), path=path, permission=0o644, replication=3)
            ).status
            last = None
            if size:
                located = stub.AddBlock(
                    pb.AddBlockRequest(header=header(), path=path, file_id=st.inode_id)
                ).block
                datanodes.finalize(located, size)
                block = located.block
                last = common_pb2.Block(
                    block_id=block.block_id, gen_stamp=block.gen_stamp, num_bytes=size
                )
            stub.Complete(
                pb.CompleteRequest(header=header(), path=path, file_id=st.inode_id, last=last)
            )
        for path in (
            "/",
            "/user",
            "/user/alice",
            "/data",
            *(f"/data/{n}" for n in ("a.csv", "b.csv", "c.bin")),
        ):
            stub.SetTimes(
                pb.SetTimesRequest(header=header(), path=path, mtime_ms=MTIME, atime_ms=MTIME)
            )
        datanodes.close()


MTIME = 1_700_000_000_000


@pytest.fixture
def namenode(tmp_path):
    """A real NameNode in this process: alice is its superuser, listings page by two."""
    config = NameNodeConfig.from_dict(
        {
            "namenode": {"rpc_address": "127.0.0.1:0", "data_dir": str(tmp_path / "nn1")},
            "namespace": {"superuser": "alice", "listing_limit": 2, "trash_interval_s": 3600},
        }
    )
    node = NameNode.from_config(config).start()
    try:
        seed(node.address)
        yield node
    finally:
        node.stop()


class FakeHaAdmin(admin_pb2_grpc.HaAdminServicer):
    def __init__(self, node_id, state, term=3, commit=10, applied=10, leader=("", "")):
        self.response = admin_pb2.GetStatusResponse(
            node_id=node_id,
            nameservice="ns1",
            state=state,
            term=term,
            commit_index=commit,
            applied_index=applied,
            leader_id=leader[0],
            leader_address=leader[1],
        )
        self.transfers: list[str] = []

    def GetStatus(self, request, context):
        return self.response

    def TransferLeadership(self, request, context):
        self.transfers.append(request.to_node_id)
        return admin_pb2.TransferLeadershipResponse()


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def serve():
    """``serve(namenode=..., admin=..., options=...)`` starts a server; returns its address."""
    servers: list[grpc.Server] = []

    def start(namenode=None, admin=None, options=()):
        server = grpc.server(ThreadPoolExecutor(max_workers=4), options=list(options))
        if namenode is not None:
            namenode_pb2_grpc.add_ClientNamenodeServicer_to_server(namenode, server)
        if admin is not None:
            admin_pb2_grpc.add_HaAdminServicer_to_server(admin, server)
        port = server.add_insecure_port("127.0.0.1:0")
        servers.append(server)
        server.start()
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=None).wait()


@pytest.fixture
def dead_address():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(addresses, deadline=5.0, sleep=None, **kwargs) -> Client:
    retry = RetryPolicy(
        deadline=deadline,
        base_delay=0.01,
        max_delay=0.05,
        **({"sleep": sleep} if sleep is not None else {}),
    )
    return Client(addresses, user="alice", retry=retry, **kwargs)


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, cls, builtin, code",
    [
        ("/nope", FileNotFound, FileNotFoundError, errno.ENOENT),
        ("/secret", AccessDenied, PermissionError, errno.EACCES),
        ("/taken", FileAlreadyExists, FileExistsError, errno.EEXIST),
        ("/full", DirectoryNotEmpty, OSError, errno.ENOTEMPTY),
    ],
)
def test_server_errors_arrive_as_builtin_compatible_classes(serve, path, cls, builtin, code):
    servicer = ErrorNamenode()
    with make_client([serve(servicer)]) as client, pytest.raises(builtin) as info:
        client.stat(path)
    err = info.value
    assert type(err) is cls
    assert err.errno == code
    assert err.path == path
    assert err.message == ErrorNamenode.ERRORS[path].message
    assert len(servicer.calls) == 1  # not retryable: asked once


def test_invalid_paths_fail_before_any_rpc(serve):
    servicer = DirectoryNamenode()
    with make_client([serve(servicer)]) as client:
        for bad in ("relative", "/a//b", "/a/../b", ""):
            with pytest.raises(InvalidPath):
                client.stat(bad)
        assert servicer.calls == []
        assert client.stat("/data/").path == "/data"  # trailing slash dropped
        assert servicer.calls[-1][2].path == "/data"


# -- failover and retries ------------------------------------------------------------------


def test_follows_the_leader_hint_at_once(serve):
    leader = DirectoryNamenode()
    leader_address = serve(leader)
    follower = FollowerNamenode(leader_address)
    sleeps = Sleeps()
    with make_client([serve(follower)], sleep=sleeps) as client:
        assert client.stat("/data").is_dir
        assert client.connection.leader == leader_address
        assert sleeps == []
        assert len(follower.calls) == 1 and len(leader.calls) == 1
        assert follower.calls[0][1].call_id == leader.calls[0][1].call_id
        client.stat("/user")
        assert len(follower.calls) == 1  # the guess stays on the leader


def test_rotates_past_an_unreachable_namenode(serve, dead_address):
    live = DirectoryNamenode()
    live_address = serve(live)
    with make_client([dead_address, live_address]) as client:
        assert client.exists("/data")
        assert client.connection.leader == live_address


def test_call_id_is_kept_across_retries_and_grows_between_calls(serve):
    flaky = FlakyNamenode(failures=2)
    with make_client([serve(flaky)], sleep=Sleeps()) as client:
        client.mkdir("/one")
        client.mkdir("/two")
    headers = [header for _, header, _ in flaky.calls]
    assert len(headers) == 6
    first, second = headers[:3], headers[3:]
    assert len({h.call_id for h in first}) == 1 and len({h.call_id for h in second}) == 1
    assert second[0].call_id > first[0].call_id > 0
    assert {h.client_id for h in headers} == {client.client_id}
    assert len(client.client_id) == 32 and {h.user for h in headers} == {"alice"}
    assert flaky.calls[0][2].permission == 0o755  # 0o777 masked by the default umask 022


def test_each_client_has_its_own_client_id(serve):
    address = serve(DirectoryNamenode())
    with make_client([address]) as a, make_client([address]) as b:
        assert a.client_id != b.client_id


def test_deadline_exceeded_when_no_namenode_answers(dead_address):
    with (
        make_client([dead_address], deadline=0.3) as client,
        pytest.raises(DeadlineExceeded) as info,
    ):
        client.stat("/")
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value.__cause__, Unavailable)
    assert dead_address in str(info.value.__cause__)


def test_oversized_request_is_refused_before_sending(serve):
    servicer = DirectoryNamenode()
    connection = NamenodeConnection(
        "ns1", [serve(servicer)], user="alice", client_id="c", max_message_bytes=1024
    )
    try:
        with pytest.raises(
            RequestTooLarge,
            match=r"GetFileInfo request is \d+ bytes, over the "
            r"limit of 1024 bytes",
        ):
            connection.call(
                "GetFileInfo",
                namenode_pb2.GetFileInfoRequest(path="/" + "a" * 2000),
                mutation=False,
            )
    finally:
        connection.close()
    assert servicer.calls == []


def test_server_message_limit_maps_to_request_too_large(serve):
    address = serve(DirectoryNamenode(), options=[("grpc.max_receive_message_length", 512)])
    with make_client([address]) as client, pytest.raises(RequestTooLarge):
        client.mkdir("/" + "x" * 250 + "/" + "y" * 250 + "/" + "z" * 250, parents=True)


# -- the namespace through the client --------------------------------------------------------


def test_listing_follows_pages_until_nothing_remains(namenode):
    with make_client([namenode.address]) as client:  # the server pages by two
        assert client.ls("/data", detail=False) == ["/data/a.csv", "/data/b.csv", "/data/c.bin"]
        assert [e.name for e in client.ls("/data")] == ["a.csv", "b.csv", "c.bin"]
        assert list(client.walk("/")) == [
            ("/", ["data", "user"], []),
            ("/data", [], ["a.csv", "b.csv", "c.bin"]),
            ("/user", ["alice"], []),
            ("/user/alice", [], []),
        ]


def test_namespace_changes(namenode):
    with make_client([namenode.address]) as client:
        made = client.mkdir("/x/y", parents=True, permission=0o750)
        assert (made.path, made.permission, made.is_dir) == ("/x/y", 0o750, True)
        assert client.mv("/data/a.csv", "/x") == "/x/a.csv"
        assert client.exists("/x/a.csv") and not client.exists("/data/a.csv")
        assert client.delete("/x", recursive=True) == "/user/alice/.Trash/Current/x"
        assert client.delete("/data/c.bin", skip_trash=True) is None
        client.mkdir("/gone")
        assert client.rm("/gone", skip_trash=True) is None and not client.exists("/gone")
        assert client.set_replication("/data/b.csv", 2) is True
        assert client.stat("/data/b.csv").replication == 2
        usage = {s.path: (s.length, s.space_consumed) for s in client.du("/data")}
        assert usage == {"/data/b.csv": (1536, 3072)}
        summary = client.content_summary("/data")
        assert (summary.file_count, summary.directory_count, summary.length) == (1, 1, 1536)


# -- HA administration -----------------------------------------------------------------------


def test_ha_status_asks_every_namenode_and_marks_unreachable(serve, dead_address):
    active = serve(admin=FakeHaAdmin("nn1", admin_pb2.ACTIVE, commit=12, applied=12))
    standby = serve(admin=FakeHaAdmin("nn2", admin_pb2.STANDBY, commit=12, applied=9))
    with make_client([active, standby, dead_address]) as client:
        nodes = client.ha_status(timeout=1.0)
    assert [(n.node_id, n.address, n.state, n.lag) for n in nodes] == [
        ("nn1", active, "active", 0),
        ("nn2", standby, "standby", 3),
        ("", dead_address, "unreachable", None),
    ]
    assert nodes[2].error and not nodes[2].reachable


def test_transfer_leadership_asks_the_active_namenode(serve):
    leader_admin = FakeHaAdmin("nn1", admin_pb2.ACTIVE)
    follower_admin = FakeHaAdmin("nn2", admin_pb2.STANDBY)
    addresses = [serve(admin=follower_admin), serve(admin=leader_admin)]
    with make_client(addresses) as client:
        client.transfer_leadership("nn2")
        with pytest.raises(ValueError, match=r"unknown NameNode 'nn9' \(known: nn2, nn1\)"):
            client.transfer_leadership("nn9")
    assert leader_admin.transfers == ["nn2"] and follower_admin.transfers == []


# -- hactl against a real NameNode in this process ----------------------------------------


@pytest.fixture
def hactl(namenode, tmp_path):
    address = namenode.address
    conf = tmp_path / "client.toml"
    conf.write_text(
        f'[nameservices.ns1]\nnamenodes = ["{address}"]\n[client]\nuser = "alice"\ndeadline_s = 5\n'
    )

    def run(*args):
        return CliRunner().invoke(cli, ["--conf", str(conf), *args])

    run.address = address
    return run


def test_hactl_ls_prints_found_and_hdfs_columns(hactl):
    result = hactl("fs", "-ls", "/data")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Found 3 items"
    assert lines[1].startswith("-rw-r--r--   3 alice supergroup       1234 ")
    assert lines[1].endswith(" /data/a.csv")
    assert len(lines) == 4
    recursive = hactl("fs", "ls", "-R", "/").stdout.splitlines()
    assert [line.split()[-1] for line in recursive] == [
        "/data",
        "/data/a.csv",
        "/data/b.csv",
        "/data/c.bin",
        "/user",
        "/user/alice",
    ]
    assert hactl("fs", "-ls", "-d", "/data").stdout.startswith("drwxr-xr-x   - alice")


def test_hactl_errors_print_like_hdfs_and_exit_1(hactl):
    result = hactl("fs", "-ls", "/nope", "/data")
    assert result.exit_code == 1
    assert result.stderr == "ls: '/nope': No such file or directory\n"
    assert "Found 3 items" in result.stdout  # carries on with the other paths
    relative = hactl("fs", "-ls", "nope")
    assert relative.stderr == "ls: 'nope': No such file or directory\n"


def test_hactl_json_output(hactl):
    for args in (("--json", "fs", "-ls", "/data"), ("fs", "-ls", "/data", "--json")):
        result = hactl(*args)
        assert result.exit_code == 0, result.output
        entries = json.loads(result.stdout)
        assert [e["path"] for e in entries] == ["/data/a.csv", "/data/b.csv", "/data/c.bin"]
        assert entries[0]["permission"] == "644" and entries[0]["kind"] == "file"
        assert entries[0]["mtime"] == 1_700_000_000_000
    failed = hactl("--json", "fs", "-stat", "/nope")
    assert failed.exit_code == 1 and json.loads(failed.stdout) == []
    assert json.loads(failed.stderr)["error"] == {
        "command": "stat",
        "code": "FILE_NOT_FOUND",
        "message": "No such file or directory",
        "path": "/nope",
    }


def test_hactl_mkdir_rm_and_trash(hactl):
    assert hactl("fs", "-mkdir", "/a/b").stderr == "mkdir: '/a/b': No such file or directory\n"
    assert hactl("fs", "-mkdir", "-p", "/a/b").exit_code == 0
    assert hactl("fs", "-mkdir", "/a").stderr == "mkdir: '/a': File exists\n"
    assert hactl("fs", "-rm", "/a").stderr == "rm: '/a': Is a directory\n"
    moved = hactl("fs", "-rm", "-r", "/a")
    assert moved.stdout == "Moved: '/a' to trash at: /user/alice/.Trash/Current/a\n"
    assert hactl("fs", "-rm", "-skipTrash", "/data/c.bin").stdout == "Deleted /data/c.bin\n"
    quiet = hactl("fs", "-rm", "-f", "/gone")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert hactl("fs", "-rmdir", "/data").stderr == "rmdir: '/data': Directory is not empty\n"


def test_hactl_test_exit_codes(hactl):
    cases = [
        ("-e", "/data", 0),
        ("-d", "/data", 0),
        ("-f", "/data", 1),
        ("-e", "/nope", 1),
        ("-z", "/data/c.bin", 0),
        ("-s", "/data/a.csv", 0),
        ("-s", "/data/c.bin", 1),
    ]
    for flag, path, code in cases:
        result = hactl("fs", "-test", flag, path)
        assert (result.exit_code, result.stdout, result.stderr) == (code, "", ""), (flag, path)


def test_hactl_stat_setrep_chmod_mv(hactl):
    assert (
        hactl("fs", "-stat", "%F %b %r %u:%g %n", "/data/a.csv").stdout
        == "regular file 1234 3 alice:supergroup a.csv\n"
    )
    assert hactl("fs", "-stat", "/data").stdout == "2023-11-14 22:13:20\n"
    assert hactl("fs", "-setrep", "2", "/data").stdout == (
        "Replication 2 set: /data/a.csv\nReplication 2 set: /data/b.csv\n"
        "Replication 2 set: /data/c.bin\n"
    )
    assert hactl("fs", "-chmod", "go-r,u+x", "/data/a.csv").exit_code == 0
    assert hactl("fs", "-stat", "%a %A", "/data/a.csv").stdout == "700 rwx------\n"
    bad = hactl("fs", "-chmod", "u+q", "/data/a.csv")
    assert bad.exit_code == 2 and "does not match the expected pattern" in bad.stderr
    assert hactl("fs", "-mv", "/data/a.csv", "/data/b.csv", "/user").exit_code == 0
    assert hactl("fs", "-ls", "/user").stdout.splitlines()[0] == "Found 3 items"


def test_hactl_du_and_count(hactl):
    assert hactl("fs", "-du", "/data").stdout.splitlines() == [
        "1234  3702  /data/a.csv",
        "1536  4608  /data/b.csv",
        "0     0     /data/c.bin",
    ]
    assert hactl("fs", "-du", "-s", "-h", "/data").stdout == "2.7 K  8.1 K  /data\n"
    assert (
        hactl("fs", "-count", "/data").stdout
        == "           1            3               2770 /data\n"
    )
    assert hactl("fs", "-count", "-q", "/").stdout.startswith(
        "        none             inf            none             inf "
    )


def test_hactl_ha_status_table_and_json(hactl):
    table = hactl("ha", "status")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "nn1" in line)
    assert hactl.address in row and "active" in row
    nodes = json.loads(hactl("ha", "status", "--json").stdout)
    assert nodes[0]["state"] == "active" and nodes[0]["node_id"] == "nn1"


def test_hactl_without_config_explains_itself(monkeypatch):
    monkeypatch.delenv("HAFS_CONF", raising=False)
    result = CliRunner().invoke(cli, ["fs", "-ls", "/"])
    assert result.exit_code == 1
    assert "pass --conf FILE or set $HAFS_CONF" in result.stderr


def test_hactl_recursive_chmod_chown_chgrp(hactl):
    assert hactl("fs", "-chmod", "-R", "a-w,o-r", "/data").exit_code == 0
    modes = hactl("fs", "-ls", "-R", "/data").stdout.splitlines()
    assert [line.split()[0] for line in modes] == ["-r--r-----"] * 3
    assert hactl("fs", "-stat", "%A", "/data").stdout == "r-xr-x--x\n"
    assert hactl("fs", "-chown", "-R", "bob:staff", "/data").exit_code == 0
    assert hactl("fs", "-stat", "%u:%g", "/data", "/data/c.bin").stdout == "bob:staff\nbob:staff\n"
    assert hactl("fs", "-chgrp", "ops", "/data/c.bin").exit_code == 0
    assert hactl("fs", "-stat", "%u:%g", "/data/c.bin").stdout == "bob:ops\n"
    bad = hactl("fs", "-chown", "a:b:c", "/data")
    assert bad.exit_code == 2 and "[owner][:group]" in bad.stderr
