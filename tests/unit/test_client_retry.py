"""RetryPolicy with a fake clock and sleep: backoff, jitter, deadline, hints."""

from __future__ import annotations

import random

import pytest

from client.retry import Attempt, RetryPolicy
from hafs_api.errors import (
    DeadlineExceeded,
    FileNotFound,
    NotLeader,
    RecoveryInProgress,
    Unavailable,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(t: FakeTime, rand=lambda: 1.0, **kwargs) -> RetryPolicy:
    return RetryPolicy(sleep=t.sleep, clock=t.clock, random=rand, **kwargs)


def failing(errors, result="ok"):
    """fn raising each of ``errors`` in turn, then returning ``result``; records attempts."""
    pending = list(errors)
    seen: list[Attempt] = []

    def fn(attempt: Attempt):
        seen.append(attempt)
        if pending:
            raise pending.pop(0)
        return result

    fn.seen = seen
    return fn


def test_success_needs_no_sleep():
    t = FakeTime()
    fn = failing([])
    assert policy(t).run(fn) == "ok"
    assert t.sleeps == []
    assert [a.number for a in fn.seen] == [1]
    assert fn.seen[0].remaining == pytest.approx(60.0)


def test_backoff_grows_exponentially_up_to_max_delay():
    t = FakeTime()
    fn = failing([Unavailable("down")] * 7)
    assert policy(t, base_delay=0.1, max_delay=1.0, multiplier=2.0).run(fn) == "ok"
    assert t.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert [a.number for a in fn.seen] == list(range(1, 9))


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_full_jitter_scales_the_cap(draw):
    t = FakeTime()
    fn = failing([Unavailable("down")] * 3)
    policy(t, rand=lambda: draw, base_delay=0.1, max_delay=10.0).run(fn)
    expected = [draw * cap for cap in (0.1, 0.2, 0.4)] if draw else []  # 0 s: no sleep call
    assert t.sleeps == pytest.approx(expected)
    assert len(fn.seen) == 4


def test_jitter_stays_within_bounds_with_a_real_generator():
    t = FakeTime()
    rng = random.Random(7)
    p = policy(t, rand=rng.random, base_delay=0.05, max_delay=0.5, deadline=1000.0)
    p.run(failing([RecoveryInProgress("recovering")] * 40))
    assert len(t.sleeps) == 40
    for n, slept in enumerate(t.sleeps, start=1):
        assert 0.0 <= slept <= p.backoff_cap(n)
    assert max(t.sleeps) <= 0.5
    assert len(set(t.sleeps)) > 30  # jittered, not a fixed schedule


def test_deadline_raises_typed_error_with_last_error_as_cause():
    t = FakeTime()
    errors = [Unavailable(f"down {i}") for i in range(1000)]
    fn = failing(errors)
    with pytest.raises(DeadlineExceeded) as info:
        policy(t, deadline=5.0, base_delay=0.5, max_delay=1.0).run(fn, what="Mkdir")
    err = info.value
    assert isinstance(err, TimeoutError)
    assert isinstance(err.__cause__, Unavailable)
    assert err.__cause__ is errors[len(fn.seen) - 1]  # the error of the final attempt
    assert "Mkdir did not succeed within 5s" in str(err)
    assert sum(t.sleeps) == pytest.approx(5.0)  # the last sleep is cut short by the deadline
    assert all(a.remaining > 0 for a in fn.seen)


def test_remaining_shrinks_between_attempts():
    t = FakeTime()
    fn = failing([Unavailable("down")] * 3)
    policy(t, deadline=10.0, base_delay=1.0, max_delay=1.0).run(fn)
    assert [a.remaining for a in fn.seen] == pytest.approx([10.0, 9.0, 8.0, 7.0])


@pytest.mark.parametrize(
    "error",
    [
        FileNotFound("File does not exist", "/x"),
        DeadlineExceeded("server gave up"),
        ValueError("bug"),
    ],
)
def test_non_retryable_errors_are_raised_at_once(error):
    t = FakeTime()
    fn = failing([error])
    with pytest.raises(type(error)) as info:
        policy(t).run(fn)
    assert info.value is error
    assert len(fn.seen) == 1
    assert t.sleeps == []


def test_leader_hint_is_followed_at_once_without_sleeping():
    t = FakeTime()
    fn = failing([NotLeader("not the leader", leader_hint="127.0.0.1:8021")])
    assert policy(t).run(fn) == "ok"
    assert t.sleeps == []
    assert [a.leader_hint for a in fn.seen] == ["", "127.0.0.1:8021"]


def test_not_leader_without_hint_backs_off():
    t = FakeTime()
    fn = failing([NotLeader("no leader yet")])
    policy(t, base_delay=0.2).run(fn)
    assert t.sleeps == pytest.approx([0.2])
    assert fn.seen[1].leader_hint == ""


def test_hints_naming_each_other_cannot_spin_without_sleeping():
    t = FakeTime()
    hints = [NotLeader("no", leader_hint=f"h{i % 2}:1") for i in range(8)]
    fn = failing(hints)
    policy(t, max_hint_hops=3, base_delay=0.1, max_delay=0.1).run(fn)
    # 3 immediate hops, a sleep, 3 more hops, a sleep, then the last two errors.
    assert len(t.sleeps) == 2
    assert [bool(a.leader_hint) for a in fn.seen] == [
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deadline": 0},
        {"base_delay": -1},
        {"base_delay": 2.0, "max_delay": 1.0},
        {"multiplier": 0.5},
    ],
)
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_copy_changes_only_what_is_asked():
    t = FakeTime()
    original = policy(t, deadline=9.0, base_delay=0.3)
    changed = original.copy(deadline=1.0)
    assert (changed.deadline, changed.base_delay) == (1.0, 0.3)
    assert original.deadline == 9.0
