"""The balancer run on an in-process leader with simulated DataNodes: moves copy then
delete the source (never another replica, never before the copy is in), the throttle
holds, the run iterates to BALANCED, stops when told, gives up when nothing can move,
and is forgotten when leadership ends; the pacer on its own."""

from __future__ import annotations

import pytest
from leaderharness import Leader
from test_metrics import FakeContext

from ha_namenode.blocks.dispatcher import BalancerState, Options, Pacer
from ha_namenode.namespace import commands as c
from ha_namenode.rpc.admin_service import AdminService
from hafs_api.errors import InvalidArgument
from hafs_api.metrics import error_code
from hafs_api.v1 import admin_pb2 as pb

BLOCK = 100


def options(threshold=10.0, bandwidth=1 << 30, moves=5, exclude=()) -> Options:
    return Options(threshold, bandwidth, moves, frozenset(exclude), "hdfs")


@pytest.fixture
def leader():
    lead = Leader()
    yield lead
    lead.close()


def unbalanced(leader: Leader, files: int = 10) -> list[int]:
    """dn1 (/r1) and dn2 (/r2) hold every block, replication 1 and 2; dn3 (/r1) is empty."""
    for i, rack in (("dn1", "/r1"), ("dn2", "/r2"), ("dn3", "/r1")):
        leader.add_datanode(i, rack, capacity=5000)
    ids = []
    for i in range(files):
        where = [["dn1"]] if i % 3 == 0 else [["dn2"]] if i % 3 == 1 else [["dn1", "dn2"]]
        ids += leader.write(f"/f{i}", [BLOCK] * 3, where * 3)
    leader.heartbeat_all()
    return ids


def run_until_finished(leader: Leader, passes: int = 200, check=None) -> None:
    for _ in range(passes):
        leader.tick()
        if check is not None:
            check()
        if leader.balancer.status().state is not BalancerState.RUNNING:
            return
    raise AssertionError("the balancer did not finish")


def test_the_run_balances_keeping_every_blocks_replication(leader):
    ids = unbalanced(leader)
    replication = {b: len(leader.holders(b)) for b in ids}
    started = leader.balancer.start(options())
    assert started.state is BalancerState.RUNNING and not started.survey.balanced

    def never_under_replicated():
        for b in ids:
            finalized = [r for r in leader.replicas(b) if r.state.name == "FINALIZED"]
            assert len(finalized) >= replication[b]  # copy first, then delete

    run_until_finished(leader, check=never_under_replicated)
    status = leader.balancer.status()
    assert status.state is BalancerState.BALANCED and status.message == "The cluster is balanced."
    assert status.survey.balanced and status.moves_done > 0 and status.moves_failed == 0
    assert status.bytes_moved == status.moves_done * BLOCK and status.moves_in_flight == 0
    assert all(abs(u.deviation) <= 10.0 for u in status.survey.nodes)
    assert {b: len(leader.holders(b)) for b in ids} == replication
    assert leader.datanodes["dn3"].blocks  # the empty one took blocks
    assert leader.balancer.bytes_moved_total == status.bytes_moved
    for dn in leader.datanodes.values():  # the DataNodes hold exactly what the map says
        assert {b for b in ids if dn.id in leader.holders(b)} == set(dn.blocks) & set(ids)


def test_the_source_is_the_replica_deleted_and_only_after_the_copy(leader):
    # a (/r1, most room) and b (/r1) hold the block; c (/r2) is empty. The placement
    # rule alone would delete b's copy (same rack, less room): the move must take a's.
    leader.add_datanode("a", "/r1", capacity=4000)
    leader.add_datanode("b", "/r1", capacity=400)
    leader.add_datanode("c", "/r2", capacity=4000)
    [block] = leader.write("/f", [BLOCK], [["a", "b"]])
    leader.datanodes["a"].extra = 3000  # a is far above the mean
    leader.heartbeat_all()
    leader.balancer.start(options())
    leader.monitor.run_once()  # waits for heartbeats newer than the start
    assert leader.balancer.surplus_sources() == {}
    leader.tick()  # plans and orders the copy a -> c
    assert leader.balancer.surplus_sources() == {block: "a"}
    assert leader.deletions == []
    for _ in range(10):
        leader.tick()
    assert leader.holders(block) == {"b", "c"}
    assert leader.deletions == [("a", block)]


def test_a_failed_copy_is_counted_and_nothing_is_deleted():
    leader = Leader(replication_timeout_s=5.0)
    try:
        unbalanced(leader, files=3)
        leader.datanodes["dn3"].refuses_copies = True  # every copy to it fails silently
        leader.balancer.start(options(threshold=2.0))
        leader.tick()
        moves = leader.balancer.surplus_sources()
        assert moves
        for _ in range(12):  # past the copy timeout
            leader.tick()
        status = leader.balancer.status()
        assert status.moves_failed >= len(moves) and status.moves_done == 0
        assert leader.deletions == []
    finally:
        leader.close()


def test_at_most_max_concurrent_moves_per_datanode(leader):
    unbalanced(leader, files=12)
    leader.balancer.start(options(moves=2))

    def at_most_two():
        busy: dict[str, int] = {}
        for source in leader.balancer.surplus_sources().values():
            busy[source] = busy.get(source, 0) + 1
        assert all(n <= 2 for n in busy.values())
        assert len(leader.balancer.surplus_sources()) <= 2  # dn3 is every move's target

    run_until_finished(leader, check=at_most_two)
    assert leader.balancer.status().state is BalancerState.BALANCED


def test_the_bandwidth_paces_the_moves(leader):
    unbalanced(leader, files=12)
    leader.balancer.start(options(bandwidth=BLOCK, moves=100))  # a block a second per node
    leader.tick()
    assert len(leader.balancer.surplus_sources()) == 1  # dn3 now has 1 s of bytes scheduled
    started = []
    for elapsed in range(1, 11):
        leader.tick(1.0)
        s = leader.balancer.status()
        started.append(s.moves_done + s.moves_in_flight + s.moves_failed)
        assert started[-1] <= elapsed + 2  # bandwidth * (T + 1 s burst) + one block
    assert started[-1] >= 8  # and it keeps going


def test_pacer():
    pacer = Pacer(bandwidth=100, burst_s=1.0)
    assert pacer.ready("a", 0.0)
    pacer.charge("a", 100, 0.0)  # a is busy until 1.0
    assert not pacer.ready("a", 0.0) and pacer.ready("a", 0.01) and pacer.ready("b", 0.0)
    pacer.charge("a", 50, 0.5)  # until 1.5
    assert not pacer.ready("a", 0.5) and pacer.ready("a", 0.51)
    pacer.charge("a", 100, 10.0)  # idle time does not accumulate credit
    assert not pacer.ready("a", 10.0)


def test_stop_starts_no_more_moves_and_lets_those_in_flight_finish(leader):
    unbalanced(leader)
    leader.balancer.start(options(moves=1))
    leader.tick()
    in_flight = len(leader.balancer.surplus_sources())
    stopped = leader.balancer.stop("alice")
    assert stopped.state is BalancerState.STOPPED and stopped.message == "stopped by alice"
    for _ in range(10):
        leader.tick()
    status = leader.balancer.status()
    assert status.moves_done == in_flight and status.moves_in_flight == 0
    assert status.state is BalancerState.STOPPED
    assert leader.balancer.start(options()).state is BalancerState.RUNNING  # again, anew


def test_one_run_at_a_time_and_exclusions_must_name_datanodes(leader):
    unbalanced(leader)
    leader.balancer.start(options())
    with pytest.raises(InvalidArgument, match="already running"):
        leader.balancer.start(options())
    leader.balancer.stop("hdfs")
    for _ in range(10):
        leader.tick()
    with pytest.raises(InvalidArgument, match="no DataNode 'nope'"):
        leader.balancer.start(options(exclude={"nope"}))


def test_excluded_nodes_are_left_alone(leader):
    unbalanced(leader)
    before = set(leader.datanodes["dn1"].blocks)
    leader.balancer.start(options(exclude={"dn1:9866"}))  # by address
    run_until_finished(leader)
    assert set(leader.datanodes["dn1"].blocks) == before
    assert leader.balancer.status().state is BalancerState.BALANCED  # dn2 and dn3 are


def test_nothing_to_move_ends_in_no_progress(leader):
    for i, rack in (("dn1", "/r1"), ("dn2", "/r2")):
        leader.add_datanode(i, rack, capacity=5000)
    leader.datanodes["dn1"].extra = 4000  # full of other data, no block to move
    leader.heartbeat_all()
    leader.balancer.start(options())
    leader.tick()
    status = leader.balancer.status()
    assert status.state is BalancerState.NO_PROGRESS and status.message == "No block can be moved."


def test_a_balanced_cluster_finishes_at_once(leader):
    for i, rack in (("dn1", "/r1"), ("dn2", "/r2")):
        leader.add_datanode(i, rack, capacity=5000)
    leader.balancer.start(options())
    leader.tick()
    assert leader.balancer.status().state is BalancerState.BALANCED
    assert leader.balancer.status().iterations == 0


def test_leadership_lost_forgets_the_run(leader):
    unbalanced(leader)
    leader.balancer.start(options())
    leader.tick()
    assert leader.balancer.surplus_sources()
    leader.balancer.abandon()  # what the monitor does when it is no longer the leader
    assert leader.balancer.status().state is BalancerState.IDLE
    assert leader.balancer.surplus_sources() == {}
    leader.balancer.start(options())
    leader.manager.registry.reset(leader.manager.registry.term + 1, [])  # a later term
    assert leader.balancer.status().state is BalancerState.IDLE


def test_idle_status_shows_the_clusters_balance(leader):
    unbalanced(leader)
    status = leader.balancer.status()
    assert status.state is BalancerState.IDLE and status.threshold == 10.0
    assert not status.survey.balanced and status.survey.bytes_left > 0
    assert [u.datanode for u in status.survey.nodes] == ["dn1", "dn2", "dn3"]


def test_safe_mode_holds_a_running_balancer_and_refuses_a_new_one(leader):
    """In safe mode no replica is copied or deleted: a run started before it starts no
    move while it is on and goes on after it; StartBalancer is refused with SafeModeOn."""
    ids = unbalanced(leader)
    leader.balancer.start(options())
    leader.ns.system(c.SetSafeMode(True, "upgrade"))
    before = {b: leader.holders(b) for b in ids}
    for _ in range(20):
        leader.tick()
    assert {b: leader.holders(b) for b in ids} == before  # nothing moved
    assert leader.balancer.status().moves_in_flight == 0
    assert leader.balancer.status().state is BalancerState.RUNNING
    admin = AdminService(
        leader.consensus,
        "ns1",
        "127.0.0.1:1",
        "0",
        lambda: ("", 0, 0),
        leader.manager,
        balancer=leader.balancer,
    )
    leader.balancer.stop("hdfs")
    context = FakeContext()
    with pytest.raises(RuntimeError, match="aborted"):
        admin.StartBalancer(pb.StartBalancerRequest(user="hdfs"), context)
    assert error_code(context) == "SAFE_MODE"
    leader.ns.system(c.SetSafeMode(False, ""))
    assert admin.StartBalancer(pb.StartBalancerRequest(user="hdfs"), FakeContext()).state == (
        pb.BALANCER_RUNNING
    )
    run_until_finished(leader)
    assert leader.balancer.status().state is BalancerState.BALANCED
