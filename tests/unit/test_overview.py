"""The counters GetStatus reports for ``hactl top`` (``ha_namenode.overview``): cheap
reads, namespace counts at most once a second, leader-only parts."""

from __future__ import annotations

from ha_namenode.blocks.planner import Health
from ha_namenode.blocks.registry import DatanodeRegistry, Stats
from ha_namenode.namespace.model import Datanode
from ha_namenode.namespace.store import NamespaceCounts, StoreFailure
from ha_namenode.overview import NamespaceCountsCache, Overview, OverviewSource
from hafs_api.metrics import CallTotals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A store's ``counts`` that says how often it ran, and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self) -> NamespaceCounts:
        if self.fail:
            raise StoreFailure("the store is being replaced")
        self.calls += 1
        return NamespaceCounts(self.calls, 1, 2 * self.calls)


def test_counts_run_again_only_when_the_state_moved_and_a_second_passed():
    count, clock = Counter(), Clock()
    cache = NamespaceCountsCache(count, max_age_s=1.0, clock=clock)
    assert cache.get(10) == NamespaceCounts(1, 1, 2)
    clock.now += 60
    assert cache.get(10).files == 1 and count.calls == 1  # idle: never counted again
    assert cache.get(11).files == 2  # moved, and the last count is a minute old
    clock.now += 0.5
    assert cache.get(12).files == 2 and count.calls == 2  # moved, but counted 0.5 s ago
    clock.now += 0.5
    assert cache.get(12).files == 3
    count.fail = True
    clock.now += 5
    assert cache.get(13).files == 3  # the last answer while the store cannot be read
    count.fail = False
    assert cache.get(13).files == 4  # and counted again as soon as it can


class Blocks:
    def __init__(self, clock: Clock) -> None:
        self.registry = DatanodeRegistry(stale_after=3.0, dead_after=10.0, clock=clock)


class Monitor:
    health = Health(blocks=50, under_replicated=4, missing=1, corrupt=2)


def source():
    calls, clock = CallTotals(), Clock()
    blocks = Blocks(clock)
    registry = blocks.registry
    registry.reset(7, [Datanode(f"dn{i}", f"h:{i}", "/r") for i in range(1, 5)])
    registry.heartbeat("dn4", Stats(capacity=100, used=30, remaining=70))
    clock.now += 11  # dn3 (never heard) and dn4 (silent 11 s): dead
    registry.heartbeat("dn1", Stats(capacity=100, used=30, remaining=70))
    clock.now += 4  # dn1 silent 4 s: stale
    registry.heartbeat("dn2", Stats(capacity=100, used=30, remaining=70))  # live
    registry.start_copy(77, "dn1", ("dn2",), 60.0)
    for failed in (False, False, True):
        calls.add(failed)
    counts = NamespaceCounts(files=5, directories=3, blocks=8)
    return OverviewSource(calls, lambda: counts, blocks, Monitor())


def test_the_leader_reports_everything():
    assert source().read(leader=True, state_index=9) == Overview(
        client_calls=3,
        client_errors=1,
        files=5,
        directories=3,
        blocks=8,
        under_replicated_blocks=4,
        missing_blocks=1,
        corrupt_blocks=2,
        pending_replication=1,
        live_datanodes=1,
        stale_datanodes=1,
        dead_datanodes=2,
    )


def test_a_follower_reports_zero_for_what_only_the_leader_knows():
    assert source().read(leader=False, state_index=9) == Overview(
        client_calls=3, client_errors=1, files=5, directories=3, blocks=8
    )


def test_without_block_management_the_leader_parts_stay_zero():
    counts = NamespaceCounts(1, 1, 0)
    found = OverviewSource(CallTotals(), lambda: counts).read(leader=True, state_index=1)
    assert found == Overview(files=1, directories=1)
