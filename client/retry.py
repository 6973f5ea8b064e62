"""The retry policy: one overall deadline, exponential backoff with full jitter.

Modelled on kazoo's ``KazooRetry``. ``RetryPolicy.run(fn)`` calls
``fn(attempt)`` until it returns, and decides after each failure:

* an error that is not a ``HafsError`` with ``retryable=True`` is raised at once;
* ``NotLeader`` carrying a ``leader_hint`` is retried at once, without sleeping,
  and the hint is passed on in ``Attempt.leader_hint`` (at most ``max_hint_hops``
  times in a row, so two nodes naming each other cannot spin);
* any other retryable error sleeps ``random() * min(max_delay, base_delay *
  multiplier ** n)`` ("full jitter"), cut short by the deadline;
* once ``deadline`` seconds have passed, ``DeadlineExceeded`` is raised with the
  last error as its ``__cause__``.

``sleep``, ``clock`` and ``random`` are injectable, so tests need no real time.
Imports: the standard library and ``hafs_api.errors``.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hafs_api.errors import DeadlineExceeded, HafsError, NotLeader

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one try is told: its number (from 1), the time left, a leader to ask."""

    number: int
    remaining: float
    leader_hint: str = ""


class RetryPolicy:
    def __init__(
        self,
        deadline: float = 60.0,
        *,
        base_delay: float = 0.05,
        max_delay: float = 0.5,  # a failover takes about half a second: poll at that pace
        multiplier: float = 2.0,
        max_hint_hops: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if deadline <= 0:
            raise ValueError(f"deadline must be > 0, got {deadline}")
        if base_delay < 0 or max_delay < base_delay or multiplier < 1:
            raise ValueError("need 0 <= base_delay <= max_delay and multiplier >= 1")
        self.deadline = deadline
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.multiplier = multiplier
        self.max_hint_hops = max_hint_hops
        self._sleep = sleep
        self._clock = clock
        self._random = random

    def copy(self, **changes) -> RetryPolicy:
        """A policy like this one with some settings changed."""
        settings = {
            "deadline": self.deadline,
            "base_delay": self.base_delay,
            "max_delay": self.max_delay,
            "multiplier": self.multiplier,
            "max_hint_hops": self.max_hint_hops,
            "sleep": self._sleep,
            "clock": self._clock,
            "random": self._random,
        }
        settings.update(changes)
        return RetryPolicy(**settings)

    def backoff_cap(self, failures: int) -> float:
        """The upper bound of the sleep after ``failures`` backed-off failures (from 1)."""
        return min(self.max_delay, self.base_delay * self.multiplier ** (failures - 1))

    def run(self, fn: Callable[[Attempt], T], what: str = "call") -> T:
        start = self._clock()
        number = 0
        backoffs = 0
        hops = 0
        hint = ""
        last: HafsError | None = None
        while True:
            remaining = self.deadline - (self._clock() - start)
            if remaining <= 0:
                raise self._expired(what, number, last) from last
            number += 1
            try:
                return fn(Attempt(number, remaining, hint))
            except HafsError as err:
                if not err.retryable:
                    raise
                last = err
            hint = ""
            if isinstance(last, NotLeader) and last.leader_hint and hops < self.max_hint_hops:
                hops += 1
                hint = last.leader_hint
                log.debug("%s: not the leader, asking %s at once", what, hint)
                continue
            hops = 0
            backoffs += 1
            remaining = self.deadline - (self._clock() - start)
            delay = min(self._random() * self.backoff_cap(backoffs), max(remaining, 0.0))
            log.debug("%s: attempt %d failed (%s); retrying in %.3fs", what, number, last, delay)
            if delay > 0:
                self._sleep(delay)

    def _expired(self, what: str, attempts: int, last: HafsError | None) -> DeadlineExceeded:
        detail = f": last error: {last}" if last is not None else ""
        return DeadlineExceeded(
            f"{what} did not succeed within {self.deadline:g}s ({attempts} attempts){detail}"
        )

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(deadline={self.deadline}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay}, multiplier={self.multiplier})"
        )


__all__ = ["Attempt", "RetryPolicy"]
