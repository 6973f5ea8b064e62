"""The leader's volatile DataNode registry, on a fake clock: liveness and the grace
period of a new term, full reports, queued commands and copies in flight."""

from __future__ import annotations

import pytest

from ha_namenode.blocks.registry import DatanodeRegistry, Liveness, Stats
from ha_namenode.namespace.model import AdminState, Datanode

STALE_AFTER, DEAD_AFTER = 10.0, 60.0
LIVE, STALE, DEAD = Liveness.LIVE, Liveness.STALE, Liveness.DEAD
IDS = ("dn1", "dn2", "dn3")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def datanode(id: str, admin: AdminState = AdminState.IN_SERVICE) -> Datanode:
    return Datanode(id, f"{id}:9866", f"/rack-{id}", admin)


def leader(*ids: str, term: int = 1) -> tuple[DatanodeRegistry, Clock]:
    """A registry of a new term over ``ids`` (default dn1..dn3), none heard yet."""
    clock = Clock()
    registry = DatanodeRegistry(STALE_AFTER, DEAD_AFTER, clock=clock)
    registry.reset(term, [datanode(i) for i in ids or IDS])
    return registry, clock


def liveness(registry: DatanodeRegistry) -> dict[str, Liveness]:
    return {i: v.liveness for i, v in registry.views().items()}


# ---- liveness ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("silent", "want"),
    [
        (0.0, LIVE),
        (9.5, LIVE),
        (10.0, STALE),
        (59.5, STALE),
        (60.0, DEAD),
        (3600.0, DEAD),
    ],
)
def test_liveness_after_the_last_heartbeat(silent, want):
    registry, clock = leader("dn1")
    assert registry.heartbeat("dn1", Stats(remaining=5))
    clock.advance(silent)
    view = registry.views()["dn1"]
    assert view.liveness is want
    assert view.since_heartbeat == silent


def test_a_heartbeat_brings_a_dead_node_back():
    registry, clock = leader("dn1")
    registry.heartbeat("dn1", Stats())
    clock.advance(DEAD_AFTER)
    assert liveness(registry) == {"dn1": DEAD}
    registry.heartbeat("dn1", Stats())
    assert liveness(registry) == {"dn1": LIVE}


@pytest.mark.parametrize(
    ("since_reset", "want"),
    [
        (0.0, STALE),  # not live: nothing heard from it this term
        (9.5, STALE),
        (59.5, STALE),  # the grace period: not dead yet
        (60.0, DEAD),
    ],
)
def test_nodes_not_heard_since_a_new_term_get_a_grace_period(since_reset, want):
    registry, clock = leader()
    clock.advance(since_reset)
    views = registry.views()
    assert {v.liveness for v in views.values()} == {want}
    assert {v.since_heartbeat for v in views.values()} == {-1.0}
    assert not any(v.reported for v in views.values())


def test_grace_runs_from_the_reset_not_from_the_last_heartbeat():
    registry, clock = leader()
    registry.heartbeat("dn1", Stats())
    clock.advance(50)
    registry.reset(2, [datanode(i) for i in IDS])  # a new term: dn1 must be heard again
    clock.advance(50)
    assert liveness(registry) == {"dn1": STALE, "dn2": STALE, "dn3": STALE}
    registry.heartbeat("dn2", Stats())
    clock.advance(10)
    assert liveness(registry) == {"dn1": DEAD, "dn2": STALE, "dn3": DEAD}


def test_register_is_heard_now_and_owes_a_full_report():
    registry, _ = leader("dn1")
    registry.heartbeat("dn1", Stats(remaining=7))
    registry.mark_reported("dn1")
    registry.register(datanode("dn1"))
    registry.register(datanode("dn4"))
    views = registry.views()
    assert views["dn1"].liveness is LIVE and not views["dn1"].reported
    assert views["dn1"].stats == Stats()  # a restarted node reports its room afresh
    assert views["dn4"].liveness is LIVE and registry.known("dn4")
    assert not registry.has_reported("dn1") and not registry.has_reported("dn9")
    registry.mark_reported("dn1")
    assert registry.has_reported("dn1")


def test_update_keeps_runtime_state_and_adds_unknown_nodes_unheard():
    registry, _ = leader("dn1")
    registry.heartbeat("dn1", Stats(remaining=7))
    registry.mark_reported("dn1")
    registry.update(datanode("dn1", AdminState.DECOMMISSIONING))
    registry.update(datanode("dn5"))
    views = registry.views()
    assert views["dn1"].admin is AdminState.DECOMMISSIONING
    assert views["dn1"].liveness is LIVE and views["dn1"].reported
    assert views["dn1"].stats == Stats(remaining=7)
    assert views["dn5"].liveness is STALE and views["dn5"].since_heartbeat == -1.0


def test_unknown_nodes_must_register():
    registry, _ = leader("dn1")
    assert not registry.heartbeat("dn9", Stats())
    registry.mark_reported("dn9")
    registry.queue("dn9", "cmd")
    assert not registry.known("dn9") and "dn9" not in registry.views()
    assert registry.take("dn9") == []


# ---- a new term --------------------------------------------------------------------------


def test_reset_forgets_reports_commands_and_copies():
    registry, _ = leader()
    for i in IDS:
        registry.heartbeat(i, Stats())
        registry.mark_reported(i)
    registry.queue("dn1", "delete 7")
    registry.start_copy(7, "dn1", ("dn2",), timeout=30)
    assert registry.all_reported()
    registry.reset(5, [datanode(i) for i in IDS])
    assert registry.term == 5
    assert not registry.all_reported()
    assert registry.copies() == {}
    assert registry.take("dn1") == []
    assert {v.in_flight for v in registry.views().values()} == {0}
    assert set(liveness(registry).values()) == {STALE}


def test_clear_forgets_everything():
    registry, _ = leader()
    registry.start_copy(7, "dn1", ("dn2",), timeout=30)
    registry.clear()
    assert registry.term == 0 and registry.views() == {} and registry.copies() == {}


# ---- full reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "silent_dn2", "want"),
    [
        ("dn1 dn2 dn3", 0, True),
        ("dn1 dn3", 0, False),
        ("dn1 dn3", 59, False),  # stale, not dead: it may still report
        ("dn1 dn3", 60, True),  # dead: it is not waited for
        ("dn1", 60, False),
    ],
)
def test_all_reported_ignores_dead_nodes(reported, silent_dn2, want):
    registry, clock = leader()
    registry.heartbeat("dn2", Stats())
    clock.advance(silent_dn2)
    for i in ("dn1", "dn3"):
        registry.heartbeat(i, Stats())
    for i in reported.split():
        registry.mark_reported(i)
    assert registry.all_reported() is want


def test_all_reported_waits_for_nodes_in_their_grace_period():
    registry, clock = leader()
    registry.mark_reported("dn1")
    registry.mark_reported("dn2")
    clock.advance(DEAD_AFTER - 1)
    assert not registry.all_reported()  # dn3 may still come back and report
    clock.advance(1)
    assert registry.all_reported()  # all dead: nothing to wait for


# ---- commands ----------------------------------------------------------------------------


def test_commands_leave_in_order_up_to_the_limit():
    registry, _ = leader()
    for n in range(5):
        registry.queue("dn1", f"cmd{n}")
    registry.queue("dn2", "other")
    assert registry.take("dn1", limit=2) == ["cmd0", "cmd1"]
    registry.queue("dn1", "cmd5")
    assert registry.take("dn1") == ["cmd2", "cmd3", "cmd4", "cmd5"]
    assert registry.take("dn1") == []
    assert registry.take("dn2", limit=0) == []
    assert registry.take("dn2") == ["other"]


# ---- copies in flight --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "in_flight"),
    [(0.0, True), (29.5, True), (30.5, False), (300.0, False)],
)
def test_copies_expire_at_their_deadline(after, in_flight):
    registry, clock = leader()
    registry.start_copy(7, "dn1", ("dn2", "dn3"), timeout=30)
    clock.advance(after)
    copies = registry.copies()
    assert (7 in copies) is in_flight
    if in_flight:
        assert copies[7].source == "dn1" and copies[7].targets == ("dn2", "dn3")
        assert copies[7].deadline == 1030.0


def test_finish_copy_and_a_new_copy_of_the_same_block():
    registry, _ = leader()
    registry.start_copy(7, "dn1", ("dn2",), timeout=30)
    registry.start_copy(8, "dn1", ("dn3",), timeout=30)
    registry.finish_copy(7)
    registry.finish_copy(99)  # unknown: no harm
    assert set(registry.copies()) == {8}
    registry.start_copy(8, "dn2", ("dn1",), timeout=30)
    assert registry.copies()[8].source == "dn2"


def test_views_count_copies_in_flight_per_node():
    registry, _ = leader("dn1", "dn2", "dn3", "dn4")
    registry.heartbeat("dn2", Stats(transfers=3))
    registry.start_copy(1, "dn1", ("dn2", "dn3"), timeout=30)
    registry.start_copy(2, "dn1", ("dn3",), timeout=30)

    def busy() -> dict[str, int]:
        return {i: v.in_flight for i, v in registry.views().items()}

    assert busy() == {"dn1": 2, "dn2": 1, "dn3": 2, "dn4": 0}
    assert registry.views()["dn2"].load == 4  # its own transfers plus ours
    registry.finish_copy(1)
    assert busy() == {"dn1": 1, "dn2": 0, "dn3": 1, "dn4": 0}


def test_views_stop_counting_a_copy_once_it_expired():
    registry, clock = leader()
    registry.start_copy(1, "dn1", ("dn2",), timeout=30)
    clock.advance(31)
    assert {v.in_flight for v in registry.views().values()} == {0}  # as the monitor reads it
    assert registry.copies() == {}


def test_views_describe_each_node():
    registry, clock = leader("dn1")
    registry.heartbeat("dn1", Stats(capacity=100, used=40, remaining=60, transfers=1))
    registry.mark_reported("dn1")
    clock.advance(2)
    view = registry.views()["dn1"]
    assert (view.id, view.address, view.rack, view.admin) == (
        "dn1",
        "dn1:9866",
        "/rack-dn1",
        AdminState.IN_SERVICE,
    )
    assert view.stats.remaining == 60 and view.reported and view.since_heartbeat == 2.0
    assert view.usable and view.counts


def test_a_deletion_is_ordered_once_until_it_times_out():
    registry, clock = leader("dn1")
    assert registry.start_delete(7, "dn1", timeout=10)
    assert not registry.start_delete(7, "dn1", timeout=10)
    assert registry.start_delete(7, "dn2", timeout=10)  # another replica of the block
    clock.advance(11)
    assert registry.start_delete(7, "dn1", timeout=10)  # not reported deleted: order again
    registry.reset(2, [datanode("dn1")])
    assert registry.start_delete(7, "dn2", timeout=10)  # a new term forgets them
