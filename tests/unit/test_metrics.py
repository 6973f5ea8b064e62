"""Metrics without sockets: the RPC interceptor on a fake servicer context, the NameNode
and DataNode collectors on fakes and on a real storage directory, and the ``[metrics]``
configuration of both daemons."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import namedtuple

import grpc
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from datanode.config import DataNodeConfig
from datanode.config import validate as validate_datanode
from datanode.metrics import DataNodeMetrics
from datanode.storage import Storage
from ha_namenode.blocks.planner import Health
from ha_namenode.blocks.registry import DatanodeRegistry, Stats
from ha_namenode.config import NameNodeConfig
from ha_namenode.consensus.base import ConsensusStatus, Member
from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.metrics import NameNodeMetrics
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import (
    INODE_FIELDS,
    AdminState,
    Caller,
    Datanode,
    Inode,
    Kind,
    SafeMode,
)
from ha_namenode.namespace.store import NamespaceCounts
from ha_namenode.persistence import SqlStore
from ha_namenode.persistence.schema import inode_params
from hafs_api import status
from hafs_api.checksum import compute
from hafs_api.errors import ChecksumMismatch, FileNotFound, NotLeader
from hafs_api.metrics import RpcMetrics, error_code
from hafs_api.settings import ConfigError

NN = {"nameservice": "ns1", "node": "nn1"}
Details = namedtuple("Details", "method invocation_metadata")


class FakeContext:
    """What a servicer does to a ``grpc.ServicerContext`` that the interceptor reads."""

    def __init__(self) -> None:
        self._code: grpc.StatusCode | None = None
        self._trailing: tuple = ()

    def abort_with_status(self, st: grpc.Status) -> None:
        self._code, self._trailing = st.code, st.trailing_metadata
        raise RuntimeError("aborted")  # as grpc's context.abort raises

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        raise RuntimeError("aborted")

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def trailing_metadata(self) -> tuple:
        return self._trailing


# ---- the RPC interceptor ----------------------------------------------------------


@pytest.fixture
def rpc():
    registry = CollectorRegistry()
    return registry, RpcMetrics(registry, NN)


def intercept(interceptor, handler, method="/hafs_api.v1.ClientNamenode/GetFileInfo"):
    return interceptor.intercept_service(lambda details: handler, Details(method, ()))


def handled(registry, method="GetFileInfo", service="ClientNamenode") -> float | None:
    labels = {**NN, "service": service, "method": method}
    return registry.get_sample_value("hafs_rpc_server_handling_seconds_count", labels)


def errors(registry, code, method="GetFileInfo", service="ClientNamenode") -> float | None:
    labels = {**NN, "service": service, "method": method, "code": code}
    return registry.get_sample_value("hafs_rpc_server_errors_total", labels)


def test_a_successful_call_is_timed_by_short_service_and_method_names(rpc):
    registry, interceptor = rpc
    wrapped = intercept(interceptor, grpc.unary_unary_rpc_method_handler(lambda r, ctx: r * 2))
    assert wrapped.unary_unary(21, FakeContext()) == 42
    assert handled(registry) == 1
    total = registry.get_sample_value(
        "hafs_rpc_server_handling_seconds_bucket",
        {**NN, "service": "ClientNamenode", "method": "GetFileInfo", "le": "+Inf"},
    )
    assert total == 1
    assert not any(
        s.name == "hafs_rpc_server_errors_total" for m in registry.collect() for s in m.samples
    )


def test_a_hafs_error_counts_under_its_error_code(rpc):
    registry, interceptor = rpc

    def fail(request, context):
        status.abort(context, FileNotFound("no such file", "/user/alice/secret.txt"))

    wrapped = intercept(interceptor, grpc.unary_unary_rpc_method_handler(fail))
    with pytest.raises(RuntimeError):
        wrapped.unary_unary(None, FakeContext())
    assert errors(registry, "FILE_NOT_FOUND") == 1
    assert handled(registry) == 1
    exposed = [value for m in registry.collect() for s in m.samples for value in s.labels.values()]
    assert not any("/" in v or "alice" in v for v in exposed)  # no path, no user


def test_other_failures_count_under_the_grpc_status_name(rpc):
    registry, interceptor = rpc

    def bare(request, context):
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")

    def crash(request, context):
        raise ValueError("a bug")

    def quietly(request, context):
        context.set_code(grpc.StatusCode.NOT_FOUND)
        return "x"

    for name, behavior in (("Bare", bare), ("Crash", crash), ("Quiet", quietly)):
        handler = grpc.unary_unary_rpc_method_handler(behavior)
        wrapped = intercept(interceptor, handler, f"/hafs_api.v1.HaAdmin/{name}")
        with contextlib.suppress(RuntimeError, ValueError):
            wrapped.unary_unary(None, FakeContext())
    assert errors(registry, "PERMISSION_DENIED", "Bare", "HaAdmin") == 1
    assert errors(registry, "UNKNOWN", "Crash", "HaAdmin") == 1
    assert errors(registry, "NOT_FOUND", "Quiet", "HaAdmin") == 1


def test_streams_are_timed_to_their_end_and_their_failures_counted(rpc):
    registry, interceptor = rpc

    def chunks(request, context):
        yield from range(request)

    def broken(request, context):
        yield 1
        status.abort(context, NotLeader("elsewhere", leader_hint="127.0.0.1:1"))

    method = "/hafs_api.v1.DataTransfer/ReadBlock"
    wrapped = intercept(interceptor, grpc.unary_stream_rpc_method_handler(chunks), method)
    responses = wrapped.unary_stream(3, FakeContext())
    assert handled(registry, "ReadBlock", "DataTransfer") == 0  # not finished yet
    assert list(responses) == [0, 1, 2]
    assert handled(registry, "ReadBlock", "DataTransfer") == 1

    dropped = wrapped.unary_stream(3, FakeContext())
    next(dropped)
    dropped.close()  # the caller went away
    assert errors(registry, "CANCELLED", "ReadBlock", "DataTransfer") == 1

    method = "/hafs_api.v1.DataTransfer/WriteBlock"
    wrapped = intercept(interceptor, grpc.stream_stream_rpc_method_handler(broken), method)
    with pytest.raises(RuntimeError):
        list(wrapped.stream_stream(iter(()), FakeContext()))
    assert errors(registry, "NOT_LEADER", "WriteBlock", "DataTransfer") == 1
    assert handled(registry, "WriteBlock", "DataTransfer") == 1


def test_unknown_methods_pass_and_wrapped_handlers_are_reused(rpc):
    registry, interceptor = rpc
    assert intercept(interceptor, None, "/no.Such/Method") is None
    handler = grpc.stream_unary_rpc_method_handler(lambda it, ctx: sum(it))
    first = intercept(interceptor, handler)
    assert intercept(interceptor, handler) is first
    assert first.stream_unary(iter([1, 2, 3]), FakeContext()) == 6
    assert handled(registry) == 1


def test_call_totals_count_every_call_and_failure_per_service(rpc):
    _, interceptor = rpc

    def fail(request, context):
        status.abort(context, FileNotFound("no such file", "/x"))

    ok = grpc.unary_unary_rpc_method_handler(lambda r, ctx: r)
    bad = grpc.unary_unary_rpc_method_handler(fail)
    for _ in range(3):
        intercept(interceptor, ok).unary_unary(1, FakeContext())
    with pytest.raises(RuntimeError):
        intercept(interceptor, bad, "/hafs_api.v1.ClientNamenode/Delete").unary_unary(
            1, FakeContext()
        )
    intercept(interceptor, ok, "/hafs_api.v1.HaAdmin/GetStatus").unary_unary(1, FakeContext())
    assert interceptor.totals("ClientNamenode").read() == (4, 1)
    assert interceptor.totals("HaAdmin").read() == (1, 0)
    assert interceptor.totals("DatanodeNamenode").read() == (0, 0)  # none yet
    assert interceptor.totals("ClientNamenode") is interceptor.totals("ClientNamenode")


def test_error_code_reads_the_status_a_servicer_left():
    context = FakeContext()
    assert error_code(context) is None
    context.set_code(grpc.StatusCode.OK)
    assert error_code(context) is None
    with pytest.raises(RuntimeError):
        status.abort(context, NotLeader("no"))
    assert error_code(context) == "NOT_LEADER"
    context._trailing = (("grpc-status-details-bin", b"\xff not a status"),)
    assert error_code(context) == "UNAVAILABLE"  # NOT_LEADER's gRPC status


# ---- the NameNode collector ---------------------------------------------------------


class FakeConsensus:
    def __init__(self, leader: bool) -> None:
        self.is_leader = leader
        self.broken = False

    def status(self) -> ConsensusStatus:
        if self.broken:
            raise NotLeader("not running")
        members = (
            Member("nn1", "a:1", True, 9),
            Member("nn2", "a:2", True, 9),
            Member("nn3", "a:3", False, 4),
        )
        return ConsensusStatus(
            "nn1", "active" if self.is_leader else "standby", 7, 12, 11, "nn1", "a:1", members, 3
        )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeBlocks:
    def __init__(self) -> None:
        self.clock = Clock()
        self.registry = DatanodeRegistry(stale_after=3.0, dead_after=10.0, clock=self.clock)


class FakeMonitor:
    def __init__(self) -> None:
        self.health = Health(blocks=50, under_replicated=4, missing=1, corrupt=2)


def namenode(leader: bool = True):
    metrics = NameNodeMetrics("ns1", "nn1")
    consensus, blocks, monitor = FakeConsensus(leader), FakeBlocks(), FakeMonitor()
    counts = NamespaceCounts(files=5, directories=3, blocks=8)

    class View:
        safe = SafeMode()

        def counts(self) -> NamespaceCounts:
            return counts

        def safe_mode(self) -> SafeMode:
            return View.safe

    view_fails = []

    def view(fn):
        if view_fails:
            raise view_fails[0]
        return fn(View())

    metrics.watch(consensus, view, blocks, monitor, {"version": "0.1.0", "address": "a:1"})
    metrics.view_class = View  # tests set View.safe
    return metrics, consensus, blocks, view_fails


def value(metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {**NN, **labels})


def test_the_leader_reports_raft_namespace_blocks_and_datanodes():
    metrics, _, blocks, _ = namenode(leader=True)
    registry = blocks.registry
    registry.reset(7, [Datanode(f"dn{i}", f"h:{i}", "/r") for i in range(1, 5)])
    registry.update(Datanode("dn4", "h:4", "/r", AdminState.DECOMMISSIONING))
    registry.heartbeat("dn4", Stats(capacity=100, used=30, remaining=70))
    blocks.clock.now += 11  # dn3 (never heard) and dn4 silent for 11 s: dead
    for dn in ("dn1", "dn2"):
        registry.heartbeat(dn, Stats(capacity=100, used=30, remaining=70))
    registry.start_copy(77, "dn1", ("dn2",), 60.0)

    assert value(metrics, "hafs_raft_is_leader") == 1
    assert value(metrics, "hafs_raft_term") == 7
    assert value(metrics, "hafs_raft_commit_index") == 12
    assert value(metrics, "hafs_raft_applied_index") == 11
    assert value(metrics, "hafs_raft_leader_changes_total") == 3
    assert value(metrics, "hafs_raft_members") == 3
    assert value(metrics, "hafs_raft_members_reachable") == 2
    assert value(metrics, "hafs_namespace_files") == 5
    assert value(metrics, "hafs_namespace_directories") == 3
    assert value(metrics, "hafs_namespace_blocks") == 8
    assert value(metrics, "hafs_blocks_under_replicated") == 4
    assert value(metrics, "hafs_blocks_missing") == 1
    assert value(metrics, "hafs_blocks_corrupt") == 2
    assert value(metrics, "hafs_blocks_pending_replication") == 1
    states = {
        s: value(metrics, "hafs_datanodes", state=s)
        for s in (
            "live",
            "stale",
            "dead",
            "decommissioning",
            "decommissioned",
            "maintenance",
            "dead_in_maintenance",
        )
    }
    assert states == {
        "live": 2,
        "stale": 0,
        "dead": 2,
        "decommissioning": 1,
        "decommissioned": 0,
        "maintenance": 0,
        "dead_in_maintenance": 0,
    }
    assert value(metrics, "hafs_capacity_bytes", kind="total") == 200  # dead ones not counted
    assert value(metrics, "hafs_capacity_bytes", kind="used") == 60
    assert value(metrics, "hafs_capacity_bytes", kind="remaining") == 140
    assert value(metrics, "hafs_namenode_info", version="0.1.0", address="a:1") == 1


def test_stale_datanodes_are_split_from_live_ones():
    metrics, _, blocks, _ = namenode(leader=True)
    blocks.registry.reset(7, [Datanode("dn1", "h:1", "/r"), Datanode("dn2", "h:2", "/r")])
    blocks.registry.heartbeat("dn1", Stats(capacity=10, used=1, remaining=9))
    assert value(metrics, "hafs_datanodes", state="live") == 1
    assert value(metrics, "hafs_datanodes", state="stale") == 1  # not heard from yet


def test_a_follower_reports_zero_for_what_only_the_leader_knows():
    metrics, _, blocks, _ = namenode(leader=False)
    blocks.registry.reset(7, [Datanode("dn1", "h:1", "/r")])
    blocks.registry.start_copy(77, "dn1", ("dn2",), 60.0)
    assert value(metrics, "hafs_raft_is_leader") == 0
    assert value(metrics, "hafs_raft_term") == 7  # Raft and the namespace: every node
    assert value(metrics, "hafs_namespace_files") == 5
    for name in (
        "hafs_blocks_under_replicated",
        "hafs_blocks_missing",
        "hafs_blocks_corrupt",
        "hafs_blocks_pending_replication",
    ):
        assert value(metrics, name) == 0
    assert value(metrics, "hafs_datanodes", state="live") == 0
    assert value(metrics, "hafs_capacity_bytes", kind="total") == 0


def test_parts_that_cannot_be_read_are_left_out_of_the_scrape():
    metrics, consensus, _, view_fails = namenode()
    consensus.broken = True
    view_fails.append(RuntimeError("the store is being replaced"))
    assert value(metrics, "hafs_raft_is_leader") == 1
    assert value(metrics, "hafs_raft_term") is None
    assert value(metrics, "hafs_namespace_files") is None
    assert value(metrics, "hafs_blocks_missing") == 1  # the rest is still there


def test_safe_mode_is_reported_by_every_namenode():
    for leader in (True, False):
        metrics, _, _, view_fails = namenode(leader=leader)
        assert value(metrics, "hafs_namenode_safe_mode") == 0
        metrics.view_class.safe = SafeMode(True, "upgrade", "hdfs", 1)
        assert value(metrics, "hafs_namenode_safe_mode") == 1
        view_fails.append(RuntimeError("the store is being replaced"))
        assert value(metrics, "hafs_namenode_safe_mode") is None


def test_proposals_are_timed_to_their_result():
    metrics = NameNodeMetrics("ns1", "nn1")
    node = LocalConsensus(
        StateMachine(MemoryStore()), "nn1", "127.0.0.1:1", on_proposal=metrics.proposal.observe
    )
    node.start()
    try:
        su = Caller("hdfs", ("supergroup",), True)
        node.propose(c.Envelope(c.Format("hdfs", "supergroup"), su, 1)).result(5)
        node.propose(c.Envelope(c.Mkdir("/d", 0o755), su, 2, "cl", 1)).result(5)
    finally:
        node.stop()
    assert value(metrics, "hafs_raft_proposal_seconds_count") == 2
    assert 0 < value(metrics, "hafs_raft_proposal_seconds_sum") < 5


def test_process_metrics_come_with_every_registry():
    metrics = NameNodeMetrics("ns1", "nn1")
    names = {m.name for m in metrics.registry.collect()}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"} <= names


# ---- the DataNode metrics --------------------------------------------------------------

BPC = 16


@pytest.fixture
def storage(tmp_path):
    s = Storage([tmp_path / "d1", tmp_path / "d2"], capacity_bytes=1 << 20)
    yield s
    s.close()


def dn_value(metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"node": metrics.node_id, **labels})


def test_datanode_counts_bytes_written_and_read_but_not_scanned(storage):
    metrics = DataNodeMetrics(storage.datanode_id)
    storage.observer = metrics
    metrics.watch(storage, {"version": "0.1.0", "address": "h:1", "rack": "/r1"})
    pool = storage.pool("ns1")
    data = bytes(range(100))
    with pool.create(1, 1, BPC) as w:
        w.write(0, data[:40], compute(data[:40], 0, BPC))
        w.write(40, data[40:], compute(data[40:], 40, BPC))
        w.finalize()
    assert dn_value(metrics, "hafs_datanode_written_bytes_total") == 100
    with pool.reader(1, 1) as r:
        assert b"".join(piece for _, piece, _ in r.chunks(0)) == data
    assert dn_value(metrics, "hafs_datanode_read_bytes_total") == 100
    pool.verify(1, 1)  # the block scanner's read
    assert dn_value(metrics, "hafs_datanode_read_bytes_total") == 100
    assert dn_value(metrics, "hafs_datanode_blocks", nameservice="ns1") == 1
    assert dn_value(metrics, "hafs_datanode_failed_volumes") == 0
    total = dn_value(metrics, "hafs_datanode_capacity_bytes", kind="total")
    used = dn_value(metrics, "hafs_datanode_capacity_bytes", kind="used")
    remaining = dn_value(metrics, "hafs_datanode_capacity_bytes", kind="remaining")
    assert total == 1 << 20 and used > 100 and 0 < remaining <= total - used
    info = {"version": "0.1.0", "address": "h:1", "rack": "/r1"}
    assert dn_value(metrics, "hafs_datanode_info", **info) == 1


def test_datanode_counts_data_that_fails_its_checksum(storage):
    metrics = DataNodeMetrics(storage.datanode_id)
    storage.observer = metrics
    pool = storage.pool("ns1")
    with pool.create(2, 1, BPC) as w, pytest.raises(ChecksumMismatch):
        w.write(0, b"x" * 32, compute(b"y" * 32, 0, BPC))
    assert dn_value(metrics, "hafs_datanode_checksum_failures_total") == 1
    assert dn_value(metrics, "hafs_datanode_written_bytes_total") == 0


def test_heartbeats_are_timed_per_nameservice(storage):
    metrics = DataNodeMetrics(storage.datanode_id)
    observe = metrics.heartbeat("ns2")
    observe(0.002)
    observe(0.004)
    count = dn_value(metrics, "hafs_datanode_heartbeat_seconds_count", nameservice="ns2")
    assert count == 2


def test_a_storage_without_metrics_counts_nothing(storage):
    pool = storage.pool("ns1")
    with pool.create(3, 1, BPC) as w:
        w.write(0, b"abc", compute(b"abc", 0, BPC))
        w.finalize()  # the default observer takes the calls and drops them


# ---- configuration --------------------------------------------------------------------


def test_metrics_address_is_optional_and_checked_on_both_daemons(tmp_path):
    base = {"namenode": {"data_dir": str(tmp_path)}, "blocks": {"token_secret": "s"}}
    assert NameNodeConfig.load(env={}).metrics.address == ""
    on = NameNodeConfig.from_dict({**base, "metrics": {"address": "127.0.0.1:9102"}})
    assert on.metrics.address == "127.0.0.1:9102"
    env = {"HAFS__METRICS__ADDRESS": "0.0.0.0:9200"}
    assert NameNodeConfig.load(env=env).metrics.address == "0.0.0.0:9200"
    with pytest.raises(ConfigError, match=r"metrics\.address"):
        NameNodeConfig.load(env={"HAFS__METRICS__ADDRESS": "nowhere"})
    with pytest.raises(ConfigError, match=r"metrics\.port"):
        NameNodeConfig.from_dict({**base, "metrics": {"port": 1}})

    dn = {"nameservices": {"ns1": {"namenodes": ["127.0.0.1:1"], "block_token_secret": "s"}}}
    config = DataNodeConfig.from_dict({**dn, "metrics": {"address": "127.0.0.1:9103"}})
    assert config.metrics.address == "127.0.0.1:9103"
    assert DataNodeConfig.from_dict(dn).metrics.address == ""
    with pytest.raises(ConfigError, match=r"metrics\.address"):
        validate_datanode(DataNodeConfig.from_dict({**dn, "metrics": {"address": "9103"}}))


def test_a_scrape_costs_the_same_few_statements_whatever_the_namespace_size(tmp_path):
    """The namespace counts are aggregates over tables, never a walk: a scrape runs the
    same few SQL statements for 1,000 files as for 20,000. (How long it takes is the
    benchmarks' business.)"""
    from sqlalchemy import event

    path = tmp_path / "namespace.db"
    SqlStore(path, synchronous="OFF").close()  # the schema
    columns = ", ".join(f'"{f}"' for f in INODE_FIELDS)
    marks = ", ".join(f":{f}" for f in INODE_FIELDS)

    def add_files(first: int, count: int) -> None:
        inodes = [
            Inode(first + i, 1, f"f{first + i}", Kind.FILE, 0o644, "a", "g", 1, 1)
            for i in range(count)
        ]
        with sqlite3.connect(path) as db:
            if first == 1000:
                root = Inode(1, 0, "", Kind.DIR, 0o755, "a", "g", 1, 1)
                db.execute(f"INSERT INTO inodes ({columns}) VALUES ({marks})", inode_params(root))
            db.executemany(
                f"INSERT INTO inodes ({columns}) VALUES ({marks})", map(inode_params, inodes)
            )
            db.executemany(
                "INSERT INTO blocks (id, inode, idx, gen_stamp, num_bytes) VALUES (?, ?, 0, 1, 9)",
                ((first + i, first + i) for i in range(0, count, 2)),
            )

    def scrape() -> tuple[str, int]:
        """The exposition text, and the SQL statements run to make it."""
        statements = 0
        store = SqlStore(path)

        def count(sql: str) -> None:
            nonlocal statements
            statements += sql.lstrip().upper().startswith("SELECT")

        def traced(driver, _record, _proxy) -> None:  # statements run on the sqlite3 driver
            driver.set_trace_callback(count)

        try:
            metrics = NameNodeMetrics("ns1", "nn1")

            def view(fn):
                with store.read() as v:
                    return fn(v)

            metrics.watch(FakeConsensus(leader=False), view)
            generate_latest(metrics.registry)  # warm: the statement cache
            event.listen(store._engine, "checkout", traced)
            text = generate_latest(metrics.registry).decode()
        finally:
            store.close()
        return text, statements

    add_files(1000, 1_000)
    small, small_statements = scrape()
    add_files(100_000, 19_000)
    large, large_statements = scrape()
    assert 0 < small_statements == large_statements <= 10
    assert 'hafs_namespace_files{nameservice="ns1",node="nn1"} 1000.0' in small
    assert 'hafs_namespace_files{nameservice="ns1",node="nn1"} 20000.0' in large
    assert 'hafs_namespace_directories{nameservice="ns1",node="nn1"} 1.0' in large
    assert 'hafs_namespace_blocks{nameservice="ns1",node="nn1"} 10000.0' in large


def test_datanodes_entering_or_in_maintenance_count_as_maintenance():
    metrics, _, blocks, _ = namenode(leader=True)
    registry = blocks.registry
    registry.reset(7, [Datanode(f"dn{i}", f"h:{i}", "/r") for i in range(1, 4)])
    registry.update(Datanode("dn1", "h:1", "/r", AdminState.ENTERING_MAINTENANCE, 5))
    registry.update(Datanode("dn2", "h:2", "/r", AdminState.IN_MAINTENANCE))
    assert value(metrics, "hafs_datanodes", state="maintenance") == 2
    assert value(metrics, "hafs_datanodes", state="decommissioning") == 0
    assert value(metrics, "hafs_datanodes", state="dead_in_maintenance") == 0
    blocks.clock.now += 11  # none heartbeated: all three dead, two of them in maintenance
    assert value(metrics, "hafs_datanodes", state="dead") == 3
    assert value(metrics, "hafs_datanodes", state="dead_in_maintenance") == 2


class FakeBalancer:
    bytes_moved_total = 4096

    def moves_in_flight(self) -> int:
        return 3


@pytest.mark.parametrize("leader", [True, False])
def test_the_balancer_reports_bytes_moved_and_moves_in_flight(leader):
    metrics = NameNodeMetrics("ns1", "nn1")
    metrics.watch(
        FakeConsensus(leader), lambda fn: fn(None), FakeBlocks(), FakeMonitor(), {}, FakeBalancer()
    )
    assert value(metrics, "hafs_balancer_bytes_moved_total") == 4096
    assert value(metrics, "hafs_balancer_moves_in_flight") == (3 if leader else 0)
