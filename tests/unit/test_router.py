"""The client side of federation against in-process fake nameservices over real gRPC.

Each nameservice is a ``fake_cluster`` NameNode (with its own fake DataNodes)
that also checks ownership as a real one does: a request whose header carries
a mount version is refused with ``WrongNamespace`` (and the NameNode's version)
when the NameNode's table gives the path to another nameservice; a header
newer than the NameNode's table makes it pull the authority's table first.
The default nameservice also answers the HaAdmin mount calls. The tests cover
routing, refresh and retry, the views across mounts, the data path and leases
per nameservice, the mount API and ``hactl mount``/``ha status``/``report``.
"""

from __future__ import annotations

import json
import threading
import time

import grpc
import pytest
from click.testing import CliRunner
from fake_cluster import FakeCluster, FakeNamenode

from client import Client, CrossNamespace, MountChange, RetryPolicy, WrongNamespace
from client import router as router_module
from client.cli.main import cli
from client.config import ConfigError, from_mapping
from hafs_api import mounts, paths
from hafs_api.errors import FileNotFound, HafsError, InvalidArgument, XAttrNotFound
from hafs_api.mounts import Mount, MountTable
from hafs_api.status import abort
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

# -- fakes -----------------------------------------------------------------------------


class Authority:
    """The default nameservice's authoritative table; changes are pushed to every
    NameNode at once unless it is marked ``lagging``."""

    def __init__(self, default: str) -> None:
        self.table = MountTable(0, default)
        self.history = [self.table]
        self.namenodes: list[OwningNamenode] = []
        self.lock = threading.Lock()

    def add(self, path: str, nameservice: str, read_only: bool = False) -> MountTable:
        return self._set(self.table.with_mount(Mount(path, nameservice, read_only)))

    def remove(self, path: str) -> MountTable:
        return self._set(self.table.without(path))

    def _set(self, table: MountTable) -> MountTable:
        with self.lock:
            self.table = table
            self.history.append(table)
            for nn in self.namenodes:
                if not nn.lagging:
                    nn.table = table
        return table


_ONE_PATH = (
    "GetFileInfo",
    "GetListing",
    "GetContentSummary",
    "Mkdir",
    "Delete",
    "Create",
    "Append",
    "AddBlock",
    "AbandonBlock",
    "UpdatePipeline",
    "Complete",
    "GetBlockLocations",
    "RecoverLease",
    "SetXAttr",
    "GetXAttrs",
    "ListXAttrs",
    "RemoveXAttr",
)


class OwningNamenode(FakeNamenode):
    """A fake NameNode of nameservice ``name`` with the ownership check."""

    def __init__(self, cluster: FakeCluster, name: str, authority: Authority) -> None:
        super().__init__(cluster, 64 * 1024, 512, 3)
        self.name = name
        self.authority = authority
        self.table = authority.table
        self.lagging = False  # not pushed to: pulls when a header is newer
        self.always_wrong = False  # refuses every routed call
        self.refused: list[str] = []
        self.versions: list[tuple[str, int]] = []  # (method, header mount_version)
        self.xattrs: dict[tuple[str, str], bytes] = {}  # (path, name) -> value

    def check(self, method: str, request, context, *names: str) -> None:
        version = request.header.mount_version
        with self.lock:
            self.versions.append((method, version))
        if not version:
            return
        if version > self.table.version:
            self.table = self.authority.table  # pull
        for path in names:
            if self.always_wrong or self.table.owner(path) != self.name:
                with self.lock:
                    self.refused.append(path)
                abort(
                    context,
                    WrongNamespace(
                        f"{path} is not in {self.name}", path, mount_version=self.table.version
                    ),
                )

    # Extended attributes by (path, name), with no checks of the path: enough to route.
    def SetXAttr(self, request, context):
        with self.lock:
            self.xattrs[request.path, request.name] = request.value
        return pb.SetXAttrResponse(swapped=True)

    def GetXAttrs(self, request, context):
        with self.lock:
            values = [(n, self.xattrs.get((request.path, n))) for n in request.names]
        missing = [n for n, v in values if v is None]
        if missing:
            abort(context, XAttrNotFound(f"not set: {missing}", request.path))
        return pb.GetXAttrsResponse(xattrs=[pb.XAttr(name=n, value=v) for n, v in values])

    def ListXAttrs(self, request, context):
        with self.lock:
            names = sorted(n for p, n in self.xattrs if p == request.path)
        return pb.ListXAttrsResponse(names=names)

    def RemoveXAttr(self, request, context):
        with self.lock:
            self.xattrs.pop((request.path, request.name), None)
        return pb.RemoveXAttrResponse()

    def ExpungeTrash(self, request, context):
        self.check("ExpungeTrash", request, context)
        return pb.ExpungeTrashResponse(checkpoint=f"{self.name}-cp", removed=[f"{self.name}-old"])

    def GetContentSummary(self, request, context):
        with self.lock:
            path = request.path
            if path not in self.dirs and path not in self.files:
                abort(context, FileNotFound("no such path", path))
            files = [f for p, f in self.files.items() if paths.is_ancestor(path, p)]
            dirs = [d for d in self.dirs if paths.is_ancestor(path, d)]
            length = sum(f.length for f in files)
            summary = common_pb2.ContentSummary(
                length=length,
                file_count=len(files),
                directory_count=len(dirs),
                ns_quota=-1,
                ns_used=len(files) + len(dirs),
                ds_quota=-1,
                space_consumed=sum(f.length * f.replication for f in files),
            )
            return pb.GetContentSummaryResponse(summary=summary)


def _checked(name: str):
    """``name`` of OwningNamenode (else FakeNamenode), after the ownership check."""
    unchecked = OwningNamenode.__dict__.get(name) or getattr(FakeNamenode, name)

    def method(self, request, context):
        self.check(name, request, context, request.path)
        return unchecked(self, request, context)

    return method


for _name in _ONE_PATH:
    setattr(OwningNamenode, _name, _checked(_name))


def _checked_rename(self, request, context):
    self.check("Rename", request, context, request.src, request.dst)
    return FakeNamenode.Rename(self, request, context)


def _renew(self, request, context):
    self.check("RenewLease", request, context)
    return FakeNamenode.RenewLease(self, request, context)


OwningNamenode.Rename = _checked_rename
OwningNamenode.RenewLease = _renew


class FakeAdmin(admin_pb2_grpc.HaAdminServicer):
    """HaAdmin of one fake nameservice: status, DataNodes, fsck, and (the default's)
    the mount calls, recorded."""

    def __init__(self, name: str, namenode: OwningNamenode, address: list[str]) -> None:
        self.name = name
        self.namenode = namenode
        self.address = address
        self.calls: list[tuple[str, object]] = []
        self.stale = 0  # answers GetMountTable from the previous version this many times

    def GetMountTable(self, request, context):
        self.calls.append(("GetMountTable", request))
        table = self.namenode.authority.table
        if self.stale > 0:
            self.stale -= 1
            table = self.namenode.authority.history[-2]  # a follower's copy, behind
        return admin_pb2.GetMountTableResponse(table=mounts.to_proto(table, common_pb2.MountTable))

    def AddMount(self, request, context):
        self.calls.append(("AddMount", request))
        table = self.namenode.authority.add(request.path, request.nameservice, request.read_only)
        wire = mounts.to_proto(table, common_pb2.MountTable)
        return admin_pb2.AddMountResponse(table=wire, pending=["ns3"])

    def RemoveMount(self, request, context):
        self.calls.append(("RemoveMount", request))
        try:
            table = self.namenode.authority.remove(request.path)
        except HafsError as err:
            abort(context, err)
        return admin_pb2.RemoveMountResponse(table=mounts.to_proto(table, common_pb2.MountTable))

    def GetStatus(self, request, context):
        return admin_pb2.GetStatusResponse(
            node_id=f"{self.name}-nn1",
            nameservice=self.name,
            address=self.address[0],
            state=admin_pb2.ACTIVE,
            term=3,
            commit_index=10,
            applied_index=10,
        )

    def GetDatanodeReport(self, request, context):
        nodes = [
            admin_pb2.DatanodeReport(
                datanode_id=dn.datanode_id,
                address=dn.address,
                rack="/r1",
                liveness=admin_pb2.DEAD if dn.dead else admin_pb2.LIVE,
                admin_state=admin_pb2.IN_SERVICE,
                capacity_bytes=10 << 30,
                used_bytes=1 << 30,
                remaining_bytes=8 << 30,
                last_heartbeat_ms=1500,
            )
            for dn in self.namenode.cluster.datanodes
        ]
        return admin_pb2.GetDatanodeReportResponse(datanodes=nodes)

    def SetDatanodeAdminState(self, request, context):
        self.calls.append(("SetDatanodeAdminState", request))
        node = admin_pb2.DatanodeReport(
            datanode_id=request.datanode_id, admin_state=request.admin_state
        )
        return admin_pb2.SetDatanodeAdminStateResponse(datanode=node)

    def Fsck(self, request, context):
        self.calls.append(("Fsck", request))
        files = len(self.namenode.files)
        return admin_pb2.FsckResponse(files=files, directories=1, under_replicated=1, healthy=True)

    def called(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


class Federation:
    """Fake nameservices ``names`` (the first the default), each a NameNode and DataNodes."""

    def __init__(self, names=("ns1", "ns2", "ns3"), *, admin: bool = True) -> None:
        self.names = list(names)
        self.authority = Authority(self.names[0])
        self.clusters: dict[str, FakeCluster] = {}
        self.admins: dict[str, FakeAdmin] = {}
        self.servers: dict[str, grpc.Server] = {}
        self.clients: list[Client] = []
        for name in self.names:
            cluster = FakeCluster(datanodes=3)
            namenode = OwningNamenode(cluster, name, self.authority)
            cluster.namenode = namenode
            self.authority.namenodes.append(namenode)
            for dn in cluster.datanodes:
                dn.start()
            server = grpc.server(futures_pool())
            namenode_pb2_grpc.add_ClientNamenodeServicer_to_server(namenode, server)
            address: list[str] = []
            self.admins[name] = FakeAdmin(name, namenode, address)
            if admin:
                admin_pb2_grpc.add_HaAdminServicer_to_server(self.admins[name], server)
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            cluster.address = f"127.0.0.1:{port}"
            address.append(cluster.address)
            self.clusters[name] = cluster
            self.servers[name] = server

    def nn(self, name: str) -> OwningNamenode:
        return self.clusters[name].namenode  # type: ignore[return-value]

    def mapping(self, names=None) -> dict:
        names = names or self.names
        return {
            "default_nameservice": self.names[0],
            "nameservices": {n: {"namenodes": [self.clusters[n].address]} for n in names},
            "client": {"user": "alice"},
        }

    def client(self, names=None, deadline: float = 5.0, **kwargs) -> Client:
        retry = RetryPolicy(deadline=deadline, base_delay=0.001, max_delay=0.02)
        fs = Client(config=from_mapping(self.mapping(names)), retry=retry, **kwargs)
        fs.packet_size, fs.window = 8192, 4
        self.clients.append(fs)
        return fs

    def fetches(self) -> int:
        return self.admins[self.names[0]].called("GetMountTable")

    def stop(self) -> None:
        for fs in self.clients:
            fs.close()
        for name, server in self.servers.items():
            server.stop(0).wait()
            for dn in self.clusters[name].datanodes:
                dn.stop()


def futures_pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=32)


@pytest.fixture
def fed():
    started = Federation()
    yield started
    started.stop()


@pytest.fixture
def mounted(fed):
    """/data on ns2, /data/hot on ns3, /user/a on ns3 (ns1 has no /user)."""
    for ns, path in (("ns2", "/data"), ("ns3", "/data/hot"), ("ns3", "/user/a")):
        fed.nn(ns).dirs.update(paths.join(paths.split(path)[:i]) for i in range(1, 4))
        fed.authority.add(path, ns)
    fed.nn("ns1").dirs.add("/home")
    return fed


# -- routing -----------------------------------------------------------------------------


def test_a_single_nameservice_config_never_fetches_a_table(fed):
    fs = fed.client(["ns1"])
    fs.mkdir("/home/x", parents=True)
    fs.write_bytes("/home/x/f", b"abc")
    assert fs.read_bytes("/home/x/f") == b"abc"
    assert [s.name for s in fs.ls("/home/x")] == ["f"]
    assert not fs.routing and fed.fetches() == 0
    assert {version for _, version in fed.nn("ns1").versions} == {0}


def test_a_bound_client_talks_to_its_nameservice_with_version_zero(mounted):
    fs = mounted.client(nameservice="ns1")
    fs.mkdir("/data/shadow", parents=True)  # no ownership check: ns1's own /data
    assert "/data/shadow" in mounted.nn("ns1").dirs
    assert mounted.fetches() == 0
    assert fs.nameservice_of("/data/x") == "ns1"
    two = mounted.client(nameservice="ns2")
    assert two.stat("/data").is_dir and mounted.fetches() == 0


def test_paths_go_to_their_owners_by_deepest_whole_component(mounted):
    fs = mounted.client()
    assert fs.routing
    fs.mkdir("/data/x")
    fs.mkdir("/data/hot/y")
    fs.mkdir("/home/z")
    fs.mkdir("/user/a1", parents=True)  # not under /user/a
    assert "/data/x" in mounted.nn("ns2").dirs
    assert "/data/hot/y" in mounted.nn("ns3").dirs
    assert "/home/z" in mounted.nn("ns1").dirs
    assert "/user/a1" in mounted.nn("ns1").dirs
    assert mounted.fetches() == 1  # once, then cached
    version = mounted.authority.table.version
    assert ("Mkdir", version) in mounted.nn("ns2").versions
    assert [fs.nameservice_of(p) for p in ("/data/hot/z", "/data/hotter", "/")] == [
        "ns3",
        "ns2",
        "ns1",
    ]


def test_xattr_calls_go_to_the_owner_of_their_path(mounted):
    fs = mounted.client()
    fs.set_xattr("/data/hot/f", "user.a", "hot")
    fs.set_xattr("/data/f", "user.a", b"cold")
    assert fs.compare_and_set_xattr("/home/f", "user.lock", None, "me")
    version = mounted.authority.table.version
    assert ("SetXAttr", version) in mounted.nn("ns3").versions
    assert mounted.nn("ns3").xattrs == {("/data/hot/f", "user.a"): b"hot"}
    assert mounted.nn("ns2").xattrs == {("/data/f", "user.a"): b"cold"}
    assert mounted.nn("ns1").xattrs == {("/home/f", "user.lock"): b"me"}
    assert fs.get_xattr("/data/hot/f", "user.a") == b"hot"
    assert fs.list_xattrs("/data/f") == ["user.a"]
    with pytest.raises(XAttrNotFound):
        fs.get_xattr("/data/f", "user.b")
    fs.remove_xattr("/data/f", "user.a")
    assert fs.list_xattrs("/data/f") == []
    assert ("RemoveXAttr", version) in mounted.nn("ns2").versions


def test_a_new_mount_reaches_a_client_that_cached_the_table(mounted):
    fs = mounted.client()
    fs.mkdir("/home/warm")  # caches the table
    mounted.nn("ns2").dirs.add("/logs")
    mounted.authority.add("/logs", "ns2")
    fs.mkdir("/logs/today")  # ns1 refuses, the client refreshes and goes to ns2
    assert "/logs/today" in mounted.nn("ns2").dirs
    assert mounted.nn("ns1").refused == ["/logs/today"]
    assert mounted.fetches() == 2


def test_a_removed_mount_reaches_a_client_that_cached_the_table(mounted):
    fs = mounted.client()
    fs.mkdir("/data/x")
    mounted.authority.remove("/data")
    fs.mkdir("/data", exist_ok=True)
    fs.mkdir("/data/y")  # ns2 refuses now: /data is ns1's again
    assert "/data/y" in mounted.nn("ns1").dirs and "/data/y" not in mounted.nn("ns2").dirs
    assert fs.router.cached.version == mounted.authority.table.version


def test_a_stale_copy_of_the_table_is_asked_for_again(mounted):
    fs = mounted.client()
    fs.mkdir("/home/warm")
    mounted.nn("ns2").dirs.add("/logs")
    mounted.authority.add("/logs", "ns2")
    mounted.admins["ns1"].stale = 1
    fs.mkdir("/logs/x")
    assert "/logs/x" in mounted.nn("ns2").dirs and mounted.nn("ns1").refused == ["/logs/x"]
    assert mounted.fetches() == 3  # the first, the stale answer, the fresh one


def test_a_lagging_namenode_pulls_the_newer_table_itself(mounted):
    mounted.nn("ns2").lagging = True
    mounted.nn("ns2").dirs.add("/logs")
    mounted.authority.add("/logs", "ns2")
    assert mounted.nn("ns2").table.version < mounted.authority.table.version
    fs = mounted.client()
    fs.mkdir("/logs/x")
    assert "/logs/x" in mounted.nn("ns2").dirs and not mounted.nn("ns2").refused
    assert mounted.fetches() == 1


def test_refreshes_per_call_are_bounded(mounted):
    fs = mounted.client()
    mounted.nn("ns2").always_wrong = True
    with pytest.raises(WrongNamespace) as caught:
        fs.stat("/data")
    assert caught.value.mount_version == mounted.authority.table.version
    assert len(mounted.nn("ns2").refused) == router_module.MAX_REFRESHES + 1
    assert mounted.fetches() == 1 + router_module.MAX_REFRESHES


def test_a_version_0_table_is_trusted_for_a_moment_only(fed):
    """Version 0 is a server without federation (a federated default nameservice starts
    at version 1): kept for UNFEDERATED_TTL, then asked again."""
    fs = fed.client()
    fs.mkdir("/a")
    fs.mkdir("/b")
    assert fed.fetches() == 1
    assert {v for _, v in fed.nn("ns1").versions} == {0}
    fed.nn("ns2").dirs.add("/c")
    fed.authority.add("/c", "ns2")
    table, _ = fs.router._unfederated
    fs.router._unfederated = (table, 0.0)  # the moment has passed
    fs.mkdir("/c/d")  # the first mount is seen
    assert "/c/d" in fed.nn("ns2").dirs
    fs.mkdir("/c/e")
    assert fed.fetches() == 2  # a table with a mount is cached


def test_no_mount_table_on_the_server_means_no_federation():
    fed = Federation(admin=False)
    try:
        fs = fed.client()
        fs.mkdir("/a")
        fs.mkdir("/b")
        assert fs.router.fetches == 1 and "/b" in fed.nn("ns1").dirs
        assert {v for _, v in fed.nn("ns1").versions} == {0}
    finally:
        fed.stop()


def test_a_mount_on_an_unconfigured_nameservice_is_a_clear_error(mounted):
    mounted.authority.add("/far", "ns9")
    fs = mounted.client()
    with pytest.raises(ConfigError, match="ns9"):
        fs.stat("/far/x")


def test_the_table_comes_from_another_nameservice_when_the_default_is_down(mounted, monkeypatch):
    monkeypatch.setattr(router_module, "FALLBACK_AFTER", 0.3)
    fs = mounted.client(deadline=1.0)
    mounted.servers["ns1"].stop(0).wait()
    assert fs.stat("/data").is_dir  # ns2's copy of the table routes it
    with pytest.raises(HafsError):
        fs.stat("/home")


# -- views -------------------------------------------------------------------------------


def test_rename_across_nameservices_fails_before_any_rpc(mounted):
    fs = mounted.client()
    fs.write_bytes("/home/f", b"x")
    with pytest.raises(CrossNamespace) as caught:
        fs.rename("/home/f", "/data/f")
    assert caught.value.errno == 18  # EXDEV
    with pytest.raises(CrossNamespace):
        fs.mv("/home/f", "/data")
    assert not any(m == "Rename" for n in mounted.names for m, _ in mounted.nn(n).versions)
    fs.write_bytes("/data/g", b"y")
    fs.rename("/data/g", "/data/h")  # within ns2
    assert "/data/h" in mounted.nn("ns2").files


def test_ls_shows_mount_points_and_the_directories_leading_to_them(mounted):
    fs = mounted.client()
    fs.write_bytes("/zeta", b"z")
    assert [(s.name, s.is_dir) for s in fs.ls("/")] == [
        ("data", True),
        ("home", True),
        ("user", True),
        ("zeta", False),
    ]
    assert fs.stat("/user").is_dir  # no nameservice holds /user
    assert fs.ls("/user", detail=False) == ["/user/a"]
    assert [s.name for s in fs.ls("/data")] == ["hot"]
    mounted.nn("ns2").dirs.discard("/data/hot")
    assert [s.name for s in fs.ls("/data")] == ["hot"]  # from the table
    with pytest.raises(FileNotFoundError):
        fs.ls("/nope")


def test_walk_and_glob_follow_into_mounts(mounted):
    fs = mounted.client()
    fs.write_bytes("/data/hot/h.csv", b"1")
    fs.write_bytes("/data/g.csv", b"2")
    fs.write_bytes("/user/a/u.csv", b"3")
    found = sorted(paths.child(d, f) for d, _, files in fs.walk("/") for f in files)
    assert found == ["/data/g.csv", "/data/hot/h.csv", "/user/a/u.csv"]
    assert fs.glob("/*/*/*.csv") == ["/data/hot/h.csv", "/user/a/u.csv"]


def test_content_summary_and_du_add_the_mounts_below_once(mounted):
    fs = mounted.client()
    fs.write_bytes("/home/f", b"a" * 10)
    fs.write_bytes("/data/g", b"b" * 20)
    fs.write_bytes("/data/hot/h", b"c" * 30)
    fs.write_bytes("/user/a/u", b"d" * 40)
    total = fs.content_summary("/")
    assert (total.length, total.file_count) == (100, 4)
    data = fs.content_summary("/data")
    assert (data.length, data.file_count) == (50, 2)  # ns2's /data/hot is not counted again
    assert fs.content_summary("/user").length == 40  # a directory no nameservice holds
    assert {s.path: s.length for s in fs.du("/")} == {
        "/data": 50,
        "/home": 10,
        "/user": 40,
    }


def test_fsck_adds_the_mounts_below(mounted):
    fs = mounted.client()
    fs.write_bytes("/home/f", b"1")
    fs.write_bytes("/data/g", b"2")
    report = fs.fsck("/")
    assert report.files == 2 and report.under_replicated == 4  # ns1 and 3 mounts
    assert report.path == "/"


def test_decommission_reaches_every_nameservice_and_expunge_every_mounted_one(mounted):
    fs = mounted.client()
    assert fs.decommission("dn1").admin_state == "decommissioning"
    assert [mounted.admins[n].called("SetDatanodeAdminState") for n in mounted.names] == [1, 1, 1]
    bound = mounted.client(nameservice="ns2")
    bound.recommission("dn1")
    assert [mounted.admins[n].called("SetDatanodeAdminState") for n in mounted.names] == [1, 2, 1]
    result = fs.expunge()
    assert result.checkpoint == "ns1-cp"
    assert result.removed == ("ns1-old", "ns2-old", "ns3-old")
    assert bound.expunge().removed == ("ns2-old",)


# -- data path and leases ----------------------------------------------------------------------


def test_files_are_written_and_read_through_their_owner(mounted):
    fs = mounted.client()
    data = bytes(range(256)) * 1000
    fs.write_bytes("/data/hot/big", data)
    assert fs.read_bytes("/data/hot/big") == data
    assert "/data/hot/big" in mounted.nn("ns3").files
    blocks = mounted.nn("ns3").files["/data/hot/big"].blocks
    holders = {dn.datanode_id for dn in mounted.clusters["ns3"].datanodes}
    assert blocks and all(set(b.locations) <= holders for b in blocks)
    assert mounted.nn("ns1").called("Create") == [] and mounted.nn("ns1").called("AddBlock") == []
    version = mounted.authority.table.version
    assert {v for m, v in mounted.nn("ns3").versions if m in ("AddBlock", "Complete")} == {version}
    assert fs.checksum("/data/hot/big").length == len(data)
    assert fs.block_locations("/data/hot/big")[0].offset == 0


def test_one_lease_renewer_per_nameservice_with_open_files(mounted):
    fs = mounted.client()
    fs.leases.interval = 0.02
    with fs.open("/home/a", "wb") as one, fs.open("/data/b", "wb") as two:
        one.write(b"1")
        two.write(b"2")
        assert fs.leases.open_paths() == ["/data/b", "/home/a"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            mounted.nn("ns1").called("RenewLease") and mounted.nn("ns2").called("RenewLease")
        ):
            time.sleep(0.01)
    assert mounted.nn("ns1").called("RenewLease") and mounted.nn("ns2").called("RenewLease")
    assert not mounted.nn("ns3").called("RenewLease")
    assert fs.leases.renewer("ns3") is None and not fs.leases.open_paths()


# -- the mount API -------------------------------------------------------------------------


def test_mount_api_changes_the_table_and_the_cache(fed):
    fs = fed.client()
    change = fs.add_mount("/proj/", "ns2", read_only=True, ns_quota=5, ds_quota=1 << 20)
    assert isinstance(change, MountChange)
    table, pending = change
    assert table.mounts == (Mount("/proj", "ns2", True),) and pending == ("ns3",)
    _, request = fed.admins["ns1"].calls[-1]
    assert (request.path, request.ns_quota, request.ds_quota, request.user) == (
        "/proj",
        5,
        1 << 20,
        "alice",
    )
    assert fs.router.cached == table and fs.nameservice_of("/proj/x") == "ns2"
    fetched = fed.fetches()
    assert fs.mounts() == table and fed.fetches() == fetched + 1
    removed = fs.remove_mount("/proj")
    assert removed.table.mounts == () and fs.nameservice_of("/proj/x") == "ns1"
    with pytest.raises(InvalidArgument):
        fs.add_mount("/", "ns2")
    with pytest.raises(InvalidArgument):
        fs.add_mount("/x", "")
    bound = fed.client(nameservice="ns2")
    assert bound.mounts().version == removed.table.version  # from the default, still


# -- hactl -------------------------------------------------------------------------------------


@pytest.fixture
def hactl(mounted, tmp_path):
    conf = tmp_path / "fed.toml"
    lines = ['default_nameservice = "ns1"']
    for name in mounted.names:
        lines.append(f'[nameservices.{name}]\nnamenodes = ["{mounted.clusters[name].address}"]')
    lines.append('[client]\nuser = "alice"')
    conf.write_text("\n".join(lines) + "\n")

    def run(*args: str, code: int = 0):
        result = CliRunner().invoke(cli, ["--conf", str(conf), *args], catch_exceptions=False)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result

    return run


def test_hactl_mount_list_add_remove(hactl, mounted):
    listed = hactl("mount", "list").stdout.splitlines()
    assert listed[0] == "Mount table version 3, default nameservice ns1"
    assert listed[1].split() == ["Mount", "Nameservice", "Mode"]
    assert [line.split() for line in listed[2:]] == [
        ["/data", "ns2", "rw"],
        ["/data/hot", "ns3", "rw"],
        ["/user/a", "ns3", "rw"],
    ]
    added = hactl("mount", "add", "/logs", "ns2", "--read-only", "--ds-quota", "10g")
    assert added.stdout.startswith("Mounted ns2 at /logs (read-only); mount table version 4")
    assert "not yet installed in ns3" in added.stdout
    _, request = mounted.admins["ns1"].calls[-1]
    assert request.ds_quota == 10 << 30 and not request.HasField("ns_quota")
    doc = json.loads(hactl("mount", "list", "--json").stdout)
    assert doc["version"] == 4 and doc["default_nameservice"] == "ns1"
    assert {"path": "/logs", "nameservice": "ns2", "read_only": True} in doc["mounts"]
    removed = json.loads(hactl("--json", "mount", "remove", "/logs").stdout)
    assert removed["version"] == 5 and removed["pending"] == []
    failed = hactl("mount", "remove", "/logs", code=1)
    assert "no mount at /logs" in failed.stderr
    assert hactl("mount", "add", "/x", "ns2", "--ds-quota", "lots", code=2).exit_code == 2


def test_hactl_ls_and_mv_across_mounts(hactl, mounted):
    ls = hactl("fs", "-ls", "/").stdout.splitlines()
    assert ls[0] == "Found 3 items" and [line.split()[-1] for line in ls[1:]] == [
        "/data",
        "/home",
        "/user",
    ]
    hactl("fs", "-touchz", "/home/t")
    refused = hactl("fs", "-mv", "/home/t", "/data/", code=1)
    assert "cannot rename across nameservices (ns1 to ns2)" in refused.stderr
    hactl("fs", "-mv", "--copy", "/home/t", "/data/")
    assert "/data/t" in mounted.nn("ns2").files and "/home/t" not in mounted.nn("ns1").files
    mounted.nn("ns1").dirs.add("/data")  # ns1's own /data, shadowed by the mount
    hactl("fs", "-mv", "hafs://ns2/data/t", "hafs://ns2/data/u")  # direct, same nameservice
    assert "/data/u" in mounted.nn("ns2").files
    hactl("fs", "-mv", "--copy", "hafs://ns2/data/u", "hafs://ns1/data/")  # into the shadow
    assert "/data/u" in mounted.nn("ns1").files and "/data/u" not in mounted.nn("ns2").files


def test_hactl_ha_status_groups_by_nameservice(hactl, mounted):
    text = hactl("ha", "status").stdout
    headings = [line for line in text.splitlines() if line.startswith("Nameservice")]
    assert headings == ["Nameservice ns1 (default)", "Nameservice ns2", "Nameservice ns3"]
    assert "ns2-nn1" in text and "active" in text
    rows = json.loads(hactl("ha", "status", "--json").stdout)
    assert [(r["nameservice"], r["state"]) for r in rows] == [
        ("ns1", "active"),
        ("ns2", "active"),
        ("ns3", "active"),
    ]
    mounted.servers["ns3"].stop(0).wait()
    down = hactl("ha", "status", "--timeout", "2", code=1)  # ns3 refuses at once
    assert "unreachable" in down.stdout and "ns2-nn1" in down.stdout


def test_hactl_report_per_nameservice(hactl, mounted):
    mounted.clusters["ns2"].datanodes[0].dead = True
    text = hactl("report").stdout
    assert text.startswith("Nameservice ns1 (default)\nConfigured Capacity: 32212254720 (30 GB)")
    ns2 = text[text.index("Nameservice ns2") :]
    assert "Configured Capacity: 21474836480 (20 GB)\n" in ns2
    assert "Live datanodes (2):" in ns2 and "Dead datanodes (1):" in ns2
    for key in ("Present Capacity:", "DFS Remaining:", "DFS Used%: 11.11%", "Missing blocks: 0"):
        assert key in text
    assert "Under replicated blocks: 1" in text and "Decommission Status : Normal" in text
    assert "Rack: /r1" in text and "Last contact: " in text
    only_dead = json.loads(hactl("report", "--dead", "--json").stdout)
    assert [r["nameservice"] for r in only_dead] == ["ns1", "ns2", "ns3"]
    assert [len(r["dead"]) for r in only_dead] == [0, 1, 0] and "live" not in only_dead[0]
    assert only_dead[1]["configured_capacity"] == 20 << 30
    assert {name: mounted.admins[name].called("Fsck") for name in mounted.names} == {
        "ns1": 2,
        "ns2": 2,
        "ns3": 2,
    }
