"""What "ready" means, for the gRPC health service name ``hafs.ready`` both daemons serve.

Every daemon's gRPC server carries the standard ``grpc.health.v1`` service. Its
service ``""`` is liveness: SERVING while the process serves. ``READY_SERVICE``
(``hafs.ready``) is readiness, the answer of a pure verdict kept current by a
``ReadinessLoop``:

* a NameNode is ready when it knows a leader, is connected to it (or is it), and
  has applied all but ``max_lag`` of the entries it knows are committed
  (``namenode_verdict``; ``max_lag`` is ``[namenode] ready_max_lag``, default
  ``DEFAULT_MAX_APPLY_LAG``). "Committed" is the larger of its own commit index
  and the leader's as last heard, so a follower still receiving the log is not
  ready before it has caught up;
* a DataNode is ready while it is registered with the leader of every
  nameservice it serves (``datanode_verdict``).

Kubernetes probes ``grpc: {port, service: hafs.ready}``; the container entry
point's ``ready`` command asks the same service.

Imports: the standard library only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

READY_SERVICE = "hafs.ready"
# Entries a NameNode may still have to apply and count as caught up: about 0.1 s of
# applying at the measured rates, small next to a probe's period.
DEFAULT_MAX_APPLY_LAG = 100
CHECK_PERIOD_S = 0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: bool
    reason: str  # one line, for the log


def apply_lag(commit_index: int, applied_index: int, leader_commit_index: int = 0) -> int:
    """Entries known committed (here or at the leader) and not yet applied here."""
    return max(max(commit_index, leader_commit_index) - applied_index, 0)


def namenode_verdict(
    leader_id: str,
    leader_connected: bool,
    commit_index: int,
    applied_index: int,
    max_lag: int,
    leader_commit_index: int = 0,
) -> Verdict:
    """Whether a NameNode is ready: a leader known and connected, and caught up."""
    if not leader_id:
        return Verdict(False, "no leader known")
    if not leader_connected:
        return Verdict(False, f"not connected to leader {leader_id}")
    lag = apply_lag(commit_index, applied_index, leader_commit_index)
    if lag > max_lag:
        return Verdict(False, f"leader {leader_id}, apply lag {lag} > {max_lag}")
    return Verdict(True, f"leader {leader_id}, apply lag {lag}")


def datanode_verdict(leaders: Mapping[str, str]) -> Verdict:
    """Whether a DataNode is ready: ``leaders`` maps each nameservice it serves to the
    leader address it is registered with ("" while it is not)."""
    missing = sorted(name for name, leader in leaders.items() if not leader)
    if missing:
        return Verdict(False, f"not registered with {', '.join(missing)}")
    shown = ", ".join(f"{name} at {leader}" for name, leader in sorted(leaders.items()))
    return Verdict(True, f"registered with {shown or 'no nameservice'}")


class ReadinessLoop:
    """Every ``period_s``, ``check()`` and ``publish(ready)``; log each change once.

    A check that raises counts as not ready (its error is the reason). Runs on its
    own daemon thread; ``stop`` publishes not ready.
    """

    def __init__(
        self,
        check: Callable[[], Verdict],
        publish: Callable[[bool], None],
        period_s: float = CHECK_PERIOD_S,
    ) -> None:
        self._check = check
        self._publish = publish
        self._period = period_s
        self._last: Verdict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="readiness", daemon=True)

    @property
    def verdict(self) -> Verdict | None:
        """The last verdict (None before the first check)."""
        return self._last

    def start(self) -> None:
        self.run_once()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._publish(False)

    def run_once(self) -> Verdict:
        try:
            verdict = self._check()
        except Exception as e:  # e.g. consensus not running: not ready, and say why
            verdict = Verdict(False, f"cannot tell: {e}")
        if self._last is None or verdict.ready != self._last.ready:
            log.info("%s: %s", "ready" if verdict.ready else "not ready", verdict.reason)
        self._last = verdict
        self._publish(verdict.ready)
        return verdict

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.run_once()
