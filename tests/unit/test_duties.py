"""The leader's duty planner: a pure function of a view, the time and the schedule."""

from ha_namenode.duties import RETRY_EXPIRY_INTERVAL_MS, Schedule, plan
from ha_namenode.namespace import codec
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import Caller

SUPER = Caller("hdfs", ("supergroup",), True)
LIMITS = dict(
    hard_limit_ms=1000,
    trash_interval_ms=5000,
    checkpoint_interval_ms=2000,
    superuser="hdfs",
    supergroup="supergroup",
)


def planned(store, now, schedule):
    with store.read() as view:
        return plan(view, now, schedule, **LIMITS)


def apply(machine, index, cmd, now, caller=SUPER):
    return machine.apply(index, codec.encode_batch([c.Envelope(cmd, caller, now, "x", index)]))


def test_formats_an_empty_namespace_first():
    assert planned(MemoryStore(), 10, Schedule()) == [c.Format("hdfs", "supergroup")]


def test_schedules_only_what_is_due():
    store = MemoryStore()
    machine = StateMachine(store)
    apply(machine, 1, c.Format("hdfs", "supergroup"), 0)
    schedule = Schedule(trash=0, retry_cache=0)
    assert planned(store, 100, schedule) == []
    assert planned(store, 2000, schedule) == [c.ExpungeTrash("", 5000)]
    assert c.ExpireRetryCache() in planned(store, RETRY_EXPIRY_INTERVAL_MS, schedule)
    apply(machine, 2, c.Create("/f", 0o644, "writer", 1, 1024), 100)
    schedule = Schedule(trash=100_000, retry_cache=100_000)
    assert planned(store, 1000, schedule) == []  # renewed at 100, hard limit 1000
    assert planned(store, 1101, schedule) == [c.ExpireLeases(1000)]


def test_a_lease_whose_files_wait_for_block_recovery_is_not_proposed_again():
    store = MemoryStore()
    machine = StateMachine(store)
    apply(machine, 1, c.Format("hdfs", "supergroup"), 0)
    apply(machine, 2, c.Create("/f", 0o644, "writer", 1, 1024), 100)
    apply(machine, 3, c.AddBlock("/f", "writer"), 100)  # an open block
    schedule = Schedule(trash=100_000, retry_cache=100_000)
    assert planned(store, 5000, schedule) == []  # the block monitor recovers it
    apply(machine, 4, c.Create("/g", 0o644, "writer", 1, 1024), 100)  # nothing open in it
    assert planned(store, 5000, schedule) == [c.ExpireLeases(1000)]


def test_the_mount_authority_starts_its_table_at_version_1():
    store = MemoryStore()
    machine = StateMachine(store)
    apply(machine, 1, c.Format("hdfs", "supergroup"), 0)
    schedule = Schedule(trash=100_000, retry_cache=100_000)
    with store.read() as view:
        assert plan(view, 10, schedule, **LIMITS) == []  # not federated: nothing
        assert plan(view, 10, schedule, **LIMITS, mount_authority=True) == [
            c.InstallMountTable(1, ())
        ]
    apply(machine, 2, c.InstallMountTable(1, ()), 10)
    with store.read() as view:
        assert plan(view, 20, schedule, **LIMITS, mount_authority=True) == []


def test_a_lost_leadership_mid_pass_is_logged_quietly_and_the_loop_goes_on(caplog):
    """Losing leadership while proposing a duty is routine: one INFO line, no traceback."""
    import logging
    import threading
    from types import SimpleNamespace

    from ha_namenode.duties import Duties
    from hafs_api.errors import NotLeader

    passes = threading.Semaphore(0)

    class Namesystem:
        consensus = SimpleNamespace(is_leader=True)
        config = SimpleNamespace(
            namespace=SimpleNamespace(
                lease_hard_limit_s=1,
                trash_interval_s=1,
                checkpoint_interval_s=1,
                effective_superuser="hdfs",
                supergroup="supergroup",
            ),
            federation=SimpleNamespace(enabled=False, default_nameservice=""),
            namenode=SimpleNamespace(nameservice="ns1"),
        )

        def now_ms(self):
            return 0

        def view(self, fn):
            passes.release()
            raise NotLeader("leadership moved meanwhile")

    duties = Duties(Namesystem(), period_s=0.01)
    with caplog.at_level(logging.INFO, logger="ha_namenode.duties"):
        duties.start()
        try:
            assert passes.acquire(timeout=5) and passes.acquire(timeout=5)  # it kept going
        finally:
            duties.stop()
    records = [r for r in caplog.records if r.name == "ha_namenode.duties"]
    assert records and all(r.levelno == logging.INFO and not r.exc_info for r in records)
