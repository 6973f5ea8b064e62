"""Safe mode and metasave on a leader without sockets: a Namesystem on a MemoryStore
and a one-member group, its BlockManager and BlockMonitor on a fake clock, and the
HaAdmin servicer called directly.

Covers: the monitor counts but neither copies nor deletes while safe mode is on
(and resumes after), the manager holds every deletion, the duties skip lease
expiry and the trash emptier; metasave's lists, paths, limit and scan budget;
the SetSafeMode, GetSafeMode, GetStatus and MetaSave RPCs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_metrics import FakeContext

from ha_namenode.blocks import metasave
from ha_namenode.blocks.manager import BlockManager, DeleteBlocks, ReplicateBlock
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.blocks.registry import Stats
from ha_namenode.config import BlocksSection, NameNodeConfig, NamespaceSection, NodeSection
from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.duties import Duties
from ha_namenode.identity import GroupMapping
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import Datanode, SafeMode
from ha_namenode.namesystem import Namesystem
from ha_namenode.rpc.admin_service import AdminService
from hafs_api.metrics import error_code
from hafs_api.v1 import admin_pb2 as pb

SUPERUSER = "hdfs"
FINAL = c.REPORTED_FINALIZED


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NoReplicas:
    """A ``ReplicaClient`` that must not be called (no block recovery in these tests)."""

    def get_replica(self, *args):
        raise AssertionError("no block recovery expected")

    recover_replica = get_replica


class Leader:
    def __init__(self, datanodes: int = 4) -> None:
        config = NameNodeConfig(
            namenode=NodeSection(id="nn1", nameservice="ns1"),
            namespace=NamespaceSection(superuser=SUPERUSER, trash_interval_s=60),
            blocks=BlocksSection(token_secret="s", stale_after_s=3.0, dead_after_s=10.0),
        )
        self.store = MemoryStore()
        self.consensus = LocalConsensus(StateMachine(self.store), "nn1", "127.0.0.1:1")
        self.consensus.start()
        groups = GroupMapping({"alice": ("alice",)}, SUPERUSER, "supergroup", True)
        self.ns = Namesystem(config, self.store, self.consensus, groups)
        self.ns.system(c.Format(SUPERUSER, "supergroup"))
        self.clock = Clock()
        self.blocks = BlockManager(self.ns, config.blocks, clock=self.clock)
        self.monitor = BlockMonitor(self.blocks, NoReplicas())
        self.admin = AdminService(
            self.consensus, "ns1", "127.0.0.1:1", "0.1.0", lambda: ("", 0, 0), self.blocks
        )
        self.dns = [f"dn{i}" for i in range(1, datanodes + 1)]
        for dn in self.dns:
            self.blocks.register(Datanode(dn, f"127.0.0.{dn[2:]}:9866", "/r"))
        self.beat()
        for dn in self.dns:
            self.blocks.report(dn, [], full=True)

    def beat(self, *dns: str) -> dict[str, list]:
        """Heartbeats (default: every DataNode); the commands each got."""
        return {
            dn: self.blocks.heartbeat(dn, Stats(capacity=10**9, remaining=10**9))[1] or []
            for dn in dns or self.dns
        }

    def write(self, path: str, on: tuple[str, ...], replication: int = 3) -> int:
        """A closed file of one 10-byte block, finalized on ``on``; returns the block id."""
        return self.write_block(path, on, replication).block_id

    def write_block(self, path: str, on: tuple[str, ...], replication: int = 3):
        self.ns.system(c.Create(path, 0o644, "w", replication, 1024, create_parent=True))
        block = self.ns.system(c.AddBlock(path, "w", targets=on))
        for dn in on:
            self.blocks.report(dn, [(block.block_id, block.gen_stamp, 10, FINAL)])
        self.ns.system(c.Complete(path, "w", last=c.BlockRef(block.block_id, block.gen_stamp, 10)))
        return block

    def safe_mode(self, on: bool) -> None:
        self.ns.system(c.SetSafeMode(on, "test"))

    def stop(self) -> None:
        self.consensus.stop()


@pytest.fixture
def leader() -> Iterator[Leader]:
    node = Leader()
    yield node
    node.stop()


def sent(commands: dict[str, list], kind: type) -> list:
    return [cmd for cmds in commands.values() for cmd in cmds if isinstance(cmd, kind)]


# ---- the monitor, the manager and the duties ---------------------------------------


def test_the_monitor_counts_but_does_not_copy_in_safe_mode(leader: Leader) -> None:
    leader.write("/f", ("dn1",))
    leader.safe_mode(True)
    plan = leader.monitor.run_once()
    assert plan.copies == [] and plan.health.under_replicated == 1
    assert leader.monitor.health.under_replicated == 1
    assert leader.blocks.registry.copies() == {}
    assert sent(leader.beat(), ReplicateBlock) == []
    leader.safe_mode(False)
    plan = leader.monitor.run_once()
    assert [(p.source, len(p.targets)) for p in plan.copies] == [("dn1", 2)]
    assert len(sent(leader.beat(), ReplicateBlock)) == 1


def test_the_monitor_deletes_no_surplus_in_safe_mode(leader: Leader) -> None:
    leader.write("/f", ("dn1", "dn2", "dn3"))
    leader.ns.system(c.SetReplication("/f", 1))
    leader.safe_mode(True)
    plan = leader.monitor.run_once()
    assert plan.removals == [] and plan.health.over_replicated == 1
    assert sent(leader.beat(), DeleteBlocks) == []
    leader.safe_mode(False)
    assert len(leader.monitor.run_once().removals) == 2


def test_replicas_of_removed_blocks_are_kept_in_safe_mode(leader: Leader) -> None:
    block = leader.write("/f", ("dn1", "dn2", "dn3"))
    leader.ns.system(c.Delete("/f", skip_trash=True))
    leader.safe_mode(True)
    assert sent(leader.beat(), DeleteBlocks) == []
    leader.blocks.report("dn4", [(block + 1000, 1, 10, FINAL)])  # unknown: kept too
    assert sent(leader.beat("dn4"), DeleteBlocks) == []
    leader.safe_mode(False)
    deletes = sent(leader.beat(), DeleteBlocks)
    assert sorted(b for d in deletes for b, _ in d.blocks) == [block] * 3


def test_the_monitor_recovers_no_lease_in_safe_mode(leader: Leader, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(leader.monitor, "_recover_leases", lambda: calls.append(1))
    leader.safe_mode(True)
    leader.monitor.run_once()
    assert calls == []
    leader.safe_mode(False)
    leader.monitor.run_once()
    assert calls == [1]


def test_the_duties_expire_no_lease_and_empty_no_trash_in_safe_mode(leader: Leader) -> None:
    leader.ns.system(c.Create("/open", 0o644, "gone", 1, 1024))
    duties = Duties(leader.ns)
    duties.schedule.trash = duties.schedule.retry_cache = 0
    leader.safe_mode(True)
    later = leader.ns.now_ms() + 10**9
    leader.ns._clock = lambda: later / 1000
    assert duties.run_once() == [c.ExpireRetryCache()]
    leader.safe_mode(False)
    due = duties.run_once()
    assert c.ExpireLeases(int(leader.ns.config.namespace.lease_hard_limit_s * 1000)) in due
    assert any(isinstance(d, c.ExpungeTrash) for d in due)


# ---- metasave -----------------------------------------------------------------------


def dump(leader: Leader, **kw) -> metasave.MetaSave:
    registry = leader.blocks.registry
    return leader.ns.view(
        lambda v: metasave.collect(
            v,
            registry.views(),
            registry.copies(),
            registry.deletions(),
            now=leader.clock.now,
            **kw,
        )
    )


def test_metasave_lists_problem_blocks_with_paths_and_locations(leader: Leader) -> None:
    under = leader.write("/data/under", ("dn1", "dn2"))
    missing = leader.write("/data/missing", ("dn4",), replication=1)
    bad = leader.write_block("/data/bad", ("dn1", "dn2", "dn3"))
    leader.write("/data/ok", ("dn1", "dn2", "dn3"))
    leader.blocks.report_bad([(bad.block_id, bad.gen_stamp, "dn3")])
    leader.clock.now += 11
    leader.beat("dn1", "dn2", "dn3")  # dn4 is dead now
    leader.ns.system(c.Create("/data/open", 0o644, "writer-1", 3, 1024))
    result = dump(leader)
    assert [(b.path, b.block_id, b.live, b.expected) for b in result.under_replicated] == [
        ("/data/under", under, 2, 3),
        ("/data/bad", bad.block_id, 2, 3),
    ]
    assert result.under_replicated[0].locations == ("dn1", "dn2")
    assert [(b.path, b.block_id, b.live) for b in result.missing] == [("/data/missing", missing, 0)]
    assert [(b.path, b.corrupt, b.locations) for b in result.corrupt] == [
        ("/data/bad", 1, ("dn1", "dn2", "dn3"))
    ]
    assert [(x.holder, x.paths) for x in result.leases] == [("writer-1", ("/data/open",))]
    assert result.counts.files == 5 and result.counts.blocks == 4
    assert result.safe_mode == SafeMode() and not result.truncated


def test_metasave_shows_copies_in_flight_and_deletions_pending(leader: Leader) -> None:
    copied = leader.write("/f", ("dn1",))
    gone = leader.write("/g", ("dn2", "dn3"))
    leader.ns.system(c.Delete("/g", skip_trash=True))
    leader.monitor.run_once()
    result = dump(leader)
    [copy] = result.replicating
    assert (copy.block_id, copy.source, len(copy.targets)) == (copied, "dn1", 2)
    assert 0 < copy.timeout_s <= leader.blocks.settings.replication_timeout_s
    assert sorted((d.block_id, d.datanode) for d in result.pending_deletion) == [
        (gone, "dn2"),
        (gone, "dn3"),
    ]


def test_metasave_stops_at_the_limit_and_the_scan_budget(leader: Leader) -> None:
    for i in range(5):
        leader.write(f"/u{i}", ("dn1",))
    full = dump(leader)
    assert len(full.under_replicated) == 5 and not full.truncated
    limited = dump(leader, limit=2)
    assert [b.path for b in limited.under_replicated] == ["/u0", "/u1"] and limited.truncated
    budget = dump(leader, budget=3)
    assert len(budget.under_replicated) == 3 and budget.truncated
    exact = dump(leader, budget=5)
    assert len(exact.under_replicated) == 5 and not exact.truncated


# ---- the HaAdmin servicer ---------------------------------------------------------------


def call(leader: Leader, method: str, request):
    """(response, None) or (None, the hafs error code the call failed with)."""
    context = FakeContext()
    try:
        return getattr(leader.admin, method)(request, context), None
    except RuntimeError:
        return None, error_code(context)


def test_set_safe_mode_is_superuser_only_and_exactly_once(leader: Leader) -> None:
    enter = pb.SetSafeModeRequest(
        action=pb.SAFE_MODE_ENTER, user=SUPERUSER, reason="upgrade", client_id=b"cl", call_id=1
    )
    on, _ = call(leader, "SetSafeMode", enter)
    assert (on.on, on.reason, on.set_by) == (True, "upgrade", SUPERUSER) and on.since_ms > 0
    status, _ = call(leader, "GetStatus", pb.GetStatusRequest())
    assert status.safe_mode is True
    got, _ = call(leader, "GetSafeMode", pb.GetSafeModeRequest())
    assert got == on
    leave = pb.SetSafeModeRequest(action=pb.SAFE_MODE_LEAVE, user=SUPERUSER, client_id=b"cl")
    leave.call_id = 2
    off, _ = call(leader, "SetSafeMode", leave)
    assert off == pb.SafeModeStatus()
    again, _ = call(leader, "SetSafeMode", enter)  # a retry of call 1: its first answer
    assert again == on
    assert leader.ns.view(lambda v: v.safe_mode()) == SafeMode()
    denied = pb.SetSafeModeRequest(action=pb.SAFE_MODE_ENTER, user="alice")
    assert call(leader, "SetSafeMode", denied) == (None, "ACCESS_DENIED")
    bad = pb.SetSafeModeRequest(user=SUPERUSER)
    assert call(leader, "SetSafeMode", bad) == (None, "INVALID_ARGUMENT")
    status, _ = call(leader, "GetStatus", pb.GetStatusRequest())
    assert status.safe_mode is False


def test_metasave_rpc(leader: Leader) -> None:
    block = leader.write("/f", ("dn1",))
    leader.write("/g", ("dn1", "dn2", "dn3"))
    leader.safe_mode(True)
    assert call(leader, "MetaSave", pb.MetaSaveRequest(user="alice")) == (None, "ACCESS_DENIED")
    reply, _ = call(leader, "MetaSave", pb.MetaSaveRequest(user=SUPERUSER))
    assert reply.node_id == "nn1" and reply.safe_mode.on and reply.files == 2
    [entry] = reply.under_replicated
    assert (entry.path, entry.block.block_id, entry.live, entry.expected) == ("/f", block, 1, 3)
    assert list(entry.locations) == ["dn1"]
    assert [d.datanode_id for d in reply.datanodes] == leader.dns
    assert reply.datanodes[0].replicas == 2 and not reply.truncated and reply.scanned_ms > 0
    leader.safe_mode(False)
    leader.write("/h", ("dn1",))
    limited, _ = call(leader, "MetaSave", pb.MetaSaveRequest(limit=1, user=SUPERUSER))
    assert [b.path for b in limited.under_replicated] == ["/f"] and limited.truncated
