"""The NameNode side of federation without sockets: nameservices in process (each a
Namesystem on a MemoryStore and a one-member group), joined by in-process
``Peers``. Covers the ownership rules, the cached table, mount changes and their
push, pulls on a newer version, and the sync loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ha_namenode.config import (
    FederationSection,
    NameNodeConfig,
    NameserviceSection,
    NamespaceSection,
    NodeSection,
)
from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.federation.access import Access, access_of, decide, reading
from ha_namenode.federation.cache import MountCache
from ha_namenode.federation.service import Federation
from ha_namenode.federation.sync import MountSync
from ha_namenode.identity import GroupMapping
from ha_namenode.namespace import commands as c
from ha_namenode.namespace import queries
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namesystem import Header, Namesystem
from hafs_api.errors import (
    AccessDenied,
    CrossNamespace,
    HafsError,
    InvalidArgument,
    ReadOnlyMount,
    Unavailable,
    WrongNamespace,
)
from hafs_api.mounts import Mount, MountTable

SUPERUSER = "hdfs"
MOUNT_KINDS = (c.AddMount, c.RemoveMount, c.InstallMountTable)


class Peers:
    """In-process ``Peers``: calls go straight to the other nameservices' Federation."""

    def __init__(self) -> None:
        self.feds: dict[str, Federation] = {}
        self.down: set[str] = set()
        self.no_push: set[str] = set()  # up, but pushes to it are lost
        self.calls: list[tuple[str, str]] = []

    def _to(self, nameservice: str, what: str) -> Federation:
        self.calls.append((what, nameservice))
        if nameservice in self.down:
            raise Unavailable(f"{nameservice} is down")
        return self.feds[nameservice]

    def fetch_table(self, nameservice: str, wanted: int) -> MountTable:
        return self._to(nameservice, "fetch").table()

    def install_table(self, nameservice: str, table: MountTable) -> int:
        if nameservice in self.no_push:
            raise Unavailable(f"the push to {nameservice} was lost")
        return self._to(nameservice, "install").install_pushed(table)

    def make_mount_point(self, nameservice, path, user, ns_quota, ds_quota) -> None:
        target = self._to(nameservice, "mkdir").ns
        target.run_as(user, c.Mkdir(path, 0o755, parents=True, exist_ok=True))
        if ns_quota is not None or ds_quota is not None:
            target.run_as(user, c.SetQuota(path, ns_quota, ds_quota))

    def close(self) -> None:
        pass


class Cluster:
    def __init__(self, names: tuple[str, ...] = ("ns1", "ns2"), default: str = "ns1") -> None:
        self.peers = Peers()
        self.clock = [0.0]
        self.consensus: list[LocalConsensus] = []
        fed = FederationSection()  # no default: not federated
        if default:
            addresses = {
                n: NameserviceSection((f"127.0.0.1:{i + 1}",)) for i, n in enumerate(names)
            }
            fed = FederationSection(default, addresses)
        for name in names:
            config = NameNodeConfig(
                namenode=NodeSection(id=f"nn-{name}", nameservice=name),
                namespace=NamespaceSection(superuser=SUPERUSER),
                federation=fed,
            )
            self.peers.feds[name] = self._federation(config)

    def _federation(self, config: NameNodeConfig) -> Federation:
        store = MemoryStore()
        machine = StateMachine(store)
        consensus = LocalConsensus(machine, config.namenode.id, "127.0.0.1:0")
        consensus.start()
        self.consensus.append(consensus)
        groups = GroupMapping({"alice": ("alice",)}, SUPERUSER, "supergroup", True)
        namesystem = Namesystem(config, store, consensus, groups)
        namesystem.system(c.Format(SUPERUSER, "supergroup"))
        cache = MountCache(
            store, config.federation.default_nameservice or config.namenode.nameservice
        )
        machine.watch(MOUNT_KINDS, cache.invalidate)
        return Federation(namesystem, cache, self.peers, clock=lambda: self.clock[0])

    def __getitem__(self, name: str) -> Federation:
        return self.peers.feds[name]

    def stat(self, name: str, path: str):
        ns = self[name].ns
        return ns.read(Header("", 0, SUPERUSER), queries.stat, path)

    def stop(self) -> None:
        for consensus in self.consensus:
            consensus.stop()


@pytest.fixture
def fed() -> Iterator[Cluster]:
    cluster = Cluster()
    yield cluster
    cluster.stop()


# ---- the rules (pure) -------------------------------------------------------------

TABLE = MountTable(
    7,
    "ns1",
    (Mount("/data", "ns2"), Mount("/data/ro", "ns2", True), Mount("/user/a", "ns2")),
)


@pytest.mark.parametrize(
    ("me", "access", "error"),
    [
        ("ns1", reading("/"), None),
        ("ns1", reading("/user"), None),
        ("ns1", reading("/user/a1"), None),  # whole components only
        ("ns2", reading("/user/a/x"), None),
        ("ns1", reading("/data/x"), WrongNamespace),
        ("ns2", reading("/"), WrongNamespace),
        ("ns2", reading("/data/ro/x"), None),
        ("ns2", Access(("/data/ro/x",), write=True), ReadOnlyMount),
        ("ns2", Access(("/data/ro",), write=True), ReadOnlyMount),
        ("ns2", Access(("/data/rox",), write=True), None),
        ("ns1", access_of(c.Rename("/x", "/data/x")), CrossNamespace),
        ("ns2", access_of(c.Rename("/x", "/data/x")), CrossNamespace),
        ("ns2", access_of(c.Rename("/data/x", "/data/y")), None),
        ("ns1", access_of(c.Rename("/a", "/b")), None),
        ("ns2", access_of(c.Rename("/data/x", "/user/a/x")), None),
        ("ns1", access_of(c.Rename("/user", "/people")), InvalidArgument),  # /user/a under it
        ("ns2", access_of(c.Rename("/data/x", "/data/ro/x")), ReadOnlyMount),
        ("ns1", access_of(c.Delete("/user", recursive=True)), InvalidArgument),
        ("ns2", access_of(c.Delete("/data", recursive=True)), InvalidArgument),  # a mount point
        ("ns2", access_of(c.Delete("/data/x", recursive=True)), None),
        ("ns1", access_of(c.Delete("/user/b")), None),
        ("ns2", access_of(c.Mkdir("/user/a/b", 0o755)), None),
        ("ns1", access_of(c.Create("/data/f", 0o644, "c", 1, 1024)), WrongNamespace),
        ("ns1", access_of(c.SetXAttr("/data/f", "user.a")), WrongNamespace),
        ("ns2", access_of(c.SetXAttr("/data/ro/f", "user.a")), ReadOnlyMount),
        ("ns2", access_of(c.RemoveXAttr("/data/ro", "user.a")), ReadOnlyMount),
        ("ns2", access_of(c.RemoveXAttr("/data", "user.a")), None),  # not a move
    ],
)
def test_rules(me: str, access: Access, error: type[HafsError] | None) -> None:
    if error is None:
        decide(TABLE, me, access)
        return
    with pytest.raises(error) as caught:
        decide(TABLE, me, access)
    assert type(caught.value) is error
    if error is WrongNamespace:
        assert caught.value.mount_version == 7 and caught.value.path
    if error is InvalidArgument:
        assert "/user/a" in str(caught.value) or "/data" in str(caught.value)


def test_which_commands_name_paths() -> None:
    assert access_of(c.RenewLease("c")) is None
    assert access_of(c.ExpungeTrash("u")) is None
    assert access_of(c.AddMount("/x", "ns2")) is None  # an admin command, never a client's
    assert access_of(c.SetTimes("/f")) == Access(("/f",), write=True)
    assert access_of(c.Rename("/a", "/b")) == Access(("/a", "/b"), True, True, True)


# ---- the cache ----------------------------------------------------------------------


def test_the_cache_reloads_only_after_a_mount_command(fed: Cluster) -> None:
    ns1 = fed["ns1"]
    cache = ns1.cache
    assert cache.get() == MountTable(0, "ns1") and cache.loads == 1
    ns1.ns.system(c.Mkdir("/d", 0o755))
    for _ in range(100):
        cache.get()
    assert cache.loads == 1
    ns1.add_mount(SUPERUSER, "/d", "ns1")
    assert cache.get().version == 1 and cache.loads == 2
    assert cache.get().default == "ns1"


# ---- mount changes and the push -------------------------------------------------------


def test_add_mount_makes_the_mount_point_and_pushes(fed: Cluster) -> None:
    table, pending = fed["ns1"].add_mount(SUPERUSER, "/data/set", "ns2", ns_quota=100)
    assert pending == []
    assert table == MountTable(1, "ns1", (Mount("/data/set", "ns2"),))
    assert fed["ns2"].table() == table
    status = fed.stat("ns2", "/data/set")
    assert status.owner == SUPERUSER and status.perm == 0o755
    assert fed["ns2"].ns.view(lambda v: v.inode(status.inode_id).ns_quota) == 100


def test_a_nameservice_that_was_down_is_pending_then_caught_up(fed: Cluster) -> None:
    fed["ns1"].add_mount(SUPERUSER, "/a", "ns1")
    fed.peers.down.add("ns2")
    table, pending = fed["ns1"].add_mount(SUPERUSER, "/b", "ns1", read_only=True)
    assert pending == ["ns2"] and fed["ns2"].table().version == 1
    sync = MountSync(fed["ns1"], 1.0)
    sync.run_once()
    assert fed["ns2"].table().version == 1  # still down
    fed.peers.down.clear()
    sync.run_once()
    assert fed["ns2"].table() == table
    fed.peers.calls.clear()
    sync.run_once()
    assert fed.peers.calls == []  # everyone holds the current version: nothing to push


def test_remove_mount_propagates(fed: Cluster) -> None:
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    table, pending = fed["ns1"].remove_mount(SUPERUSER, "/data")
    assert pending == [] and table == MountTable(2, "ns1", ())
    assert fed["ns2"].table() == table
    assert fed.stat("ns2", "/data").path == "/data"  # the directory stays


def test_mount_changes_are_refused_where_they_do_not_belong(fed: Cluster) -> None:
    with pytest.raises(InvalidArgument, match="go to the default nameservice ns1"):
        fed["ns2"].add_mount(SUPERUSER, "/x", "ns2")
    with pytest.raises(InvalidArgument, match="go to the default nameservice ns1"):
        fed["ns2"].remove_mount(SUPERUSER, "/x")
    with pytest.raises(AccessDenied):
        fed["ns1"].add_mount("alice", "/x", "ns2")
    with pytest.raises(InvalidArgument, match="unknown nameservice"):
        fed["ns1"].add_mount(SUPERUSER, "/x", "ns9")
    with pytest.raises(InvalidArgument):
        fed["ns1"].add_mount(SUPERUSER, "/", "ns2")
    with pytest.raises(InvalidArgument, match="installs none"):
        fed["ns1"].install_pushed(MountTable(5, "ns1", ()))
    with pytest.raises(InvalidArgument, match="differs"):
        fed["ns2"].install_pushed(MountTable(5, "ns2", ()))
    assert fed["ns1"].table().version == 0 and fed.peers.calls == []


def test_a_failed_mount_point_leaves_the_table_alone(fed: Cluster) -> None:
    fed.peers.down.add("ns2")
    with pytest.raises(Unavailable):
        fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    assert fed["ns1"].table().version == 0


# ---- the check at the client's version ---------------------------------------------------


def test_a_stale_client_is_sent_on_with_the_current_version(fed: Cluster) -> None:
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    with pytest.raises(WrongNamespace) as caught:
        fed["ns1"].admit(1, reading("/data/x"))
    assert caught.value.mount_version == 1
    fed["ns2"].admit(1, reading("/data/x"))
    fed["ns1"].admit(1, reading("/"))


def test_a_newer_client_makes_a_lagging_nameservice_pull_once(fed: Cluster) -> None:
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    fed.peers.no_push.add("ns2")
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns1")  # moved back to the default
    fed["ns1"].add_mount(SUPERUSER, "/mine", "ns2", read_only=True)
    ns2 = fed["ns2"]
    assert ns2.table().version == 1
    ns2.admit(1, reading("/data/x"))  # a client as stale as ns2: both think ns2 owns it
    fed.peers.calls.clear()
    with pytest.raises(WrongNamespace) as caught:
        ns2.admit(3, reading("/data/x"))  # pulled first: /data is ns1's now
    assert caught.value.mount_version == 3 and ns2.table().version == 3
    ns2.admit(3, reading("/mine/x"))
    with pytest.raises(ReadOnlyMount):
        ns2.admit(3, Access(("/mine/x",), write=True))
    assert fed.peers.calls == [("fetch", "ns1")]
    assert ns2.cache.loads == 3  # start, the first install, the pull


def test_mount_version_zero_and_no_federation_skip_the_check(fed: Cluster) -> None:
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    fed["ns1"].admit(0, reading("/data/x"))
    fed["ns1"].admit(5, None)
    single = Cluster(("ns1",), default="")
    try:
        single["ns1"].admit(9, Access(("/data",), write=True, moves=True))
        assert single["ns1"].table() == MountTable(0, "ns1")
        with pytest.raises(InvalidArgument, match="not federated"):
            single["ns1"].add_mount(SUPERUSER, "/x", "ns1")
    finally:
        single.stop()


def test_an_unreachable_authority_fails_fast_for_a_while(fed: Cluster) -> None:
    fed.peers.no_push.add("ns2")
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    fed.peers.down = {"ns1"}
    fed.peers.calls.clear()
    with pytest.raises(Unavailable, match="cannot fetch"):
        fed["ns2"].admit(1, reading("/data/x"))
    with pytest.raises(Unavailable, match="did not answer just now"):
        fed["ns2"].admit(1, reading("/data/x"))
    assert len(fed.peers.calls) == 1
    fed.clock[0] += 2.0
    fed.peers.down.clear()
    fed["ns2"].admit(1, reading("/data/x"))
    assert fed["ns2"].table().version == 1


def test_a_new_leader_of_another_nameservice_pulls_once(fed: Cluster) -> None:
    fed.peers.no_push.add("ns2")
    fed["ns1"].add_mount(SUPERUSER, "/data", "ns2")
    sync = MountSync(fed["ns2"], 1.0)
    fed.peers.down.add("ns1")
    sync.run_once()  # the authority is down: tried, logged, tried again next pass
    fed.peers.down.clear()
    sync.run_once()
    assert fed["ns2"].table().version == 1
    fed.peers.calls.clear()
    sync.run_once()
    assert fed.peers.calls == []
