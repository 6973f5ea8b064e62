"""Failover gap: how long a writer pauses when the leader is SIGKILLed.

A probe thread writes through the ``Client`` (its retry policy follows leader
hints and rotates past dead nodes): a ``mkdir`` of a new path every 10 ms, the
next one as soon as the last returns if it took longer. The main thread kills
the leader ``kills`` times. For each kill:

1. wait until the probe has written through the current leader (warm);
2. SIGKILL the leader; poll the survivors for the new leader (server side);
3. wait for the first write acknowledged by another node: the **gap** is the
   time from SIGKILL to that acknowledgement (client side);
4. restart the killed node and wait until it is a healthy member again: it
   serves, follows the leader, has applied what the leader had committed when
   it came back, and the leader sees it as reachable with that index matched.

Every wait is bounded in time, and the run in kills. At the end the probe's
acknowledged paths are listed back: none may be missing. Errors the probe saw
(it should see none: the client retries) are counted and sampled.

The pacing and the record of writes (``PacedProbe``) and the per-kill summary
(``summarize``) are shared with the peers' failover benchmarks
(``benchmarks.peers.etcd_failover``), so a gap means the same on both sides.
"""

from __future__ import annotations

import getpass
import signal
import threading
import time
from dataclasses import dataclass

from benchmarks.common import (
    Status,
    healthy_member,
    leader_status,
    median,
    wait_until,
)
from chaos.cluster import LocalCluster
from client import Client
from client.retry import RetryPolicy

INTERVAL_S = 0.01
PROBE_DEADLINE_S = 30.0  # the client's overall deadline per write
GAP_TIMEOUT_S = 30.0  # a kill whose gap exceeds this fails the benchmark
REJOIN_TIMEOUT_S = 60.0
WARM_WRITES = 20  # acknowledged writes through a leader before it is killed
DIR = "/failover"


@dataclass(frozen=True)
class Write:
    started: float
    ended: float
    address: str  # the NameNode that acknowledged it ("" on error)
    path: str
    error: str = ""


class PacedProbe(threading.Thread):
    """Writes a new key every ``interval`` seconds until stopped or ``max_writes``.

    The next write starts ``interval`` after the last one started, or as soon as it
    returns if it took longer. Subclasses say what a write is: ``prepare`` once, then
    ``write(key)``, which returns the address that acknowledged it (and retries inside
    as its client would); ``close`` at the end. Shared by the hafs probe below and the
    peers' (``benchmarks.peers``).
    """

    def __init__(self, max_writes: int, interval: float = INTERVAL_S, name: str = "probe"):
        super().__init__(name=name, daemon=True)
        self.max_writes = max_writes
        self.interval = interval
        self.writes: list[Write] = []  # appended by this thread only
        self.stopping = threading.Event()

    def key(self, seq: int) -> str:
        raise NotImplementedError

    def prepare(self) -> None:
        """Before the first write (a directory to write into, a connection)."""

    def write(self, key: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """After the last write."""

    def wait_warm(self, address: str, what: str = "probe writes through the leader") -> None:
        """Until half of the last ``WARM_WRITES`` writes, all ended from now on, were
        acknowledged by ``address``: the probe is writing through that leader."""
        mark = time.monotonic()
        wait_until(
            what,
            lambda: (
                sum(
                    1 for w in self.writes[-WARM_WRITES:] if w.ended > mark and w.address == address
                )
                >= WARM_WRITES // 2
            ),
            30,
            poll=0.01,
        )

    def run(self) -> None:
        try:
            self.prepare()
        except Exception as exc:
            now = time.monotonic()
            self.writes.append(Write(now, now, "", "", f"{type(exc).__name__}: {exc}"))
            return
        next_at = time.monotonic()
        for seq in range(self.max_writes):
            delay = next_at - time.monotonic()
            if self.stopping.wait(delay) if delay > 0 else self.stopping.is_set():
                return
            key = self.key(seq)
            started = time.monotonic()
            next_at = started + self.interval
            try:
                address = self.write(key)
                self.writes.append(Write(started, time.monotonic(), address, key))
            except Exception as exc:
                self.writes.append(
                    Write(started, time.monotonic(), "", key, f"{type(exc).__name__}: {exc}")
                )

    def stop(self) -> None:
        self.stopping.set()
        self.join(PROBE_DEADLINE_S + 5)
        self.close()

    def acked_since(self, t: float, not_by: str = "") -> Write | None:
        """The first write acknowledged after ``t`` by a node other than ``not_by``."""
        writes = self.writes  # in order: one write at a time, so ``ended`` only grows
        i = len(writes)
        while i > 0 and writes[i - 1].ended > t:
            i -= 1
        return next((w for w in writes[i:] if not w.error and w.address != not_by), None)


class Probe(PacedProbe):
    """``mkdir`` of a new directory under ``directory`` through the hafs ``Client``."""

    def __init__(
        self,
        addresses: list[str],
        max_writes: int,
        interval: float = INTERVAL_S,
        directory: str = DIR,
    ):
        super().__init__(max_writes, interval, name="failover-probe")
        self.directory = directory
        self.client = Client(
            addresses=addresses,
            user=getpass.getuser(),
            retry=RetryPolicy(deadline=PROBE_DEADLINE_S),
        )

    def key(self, seq: int) -> str:
        return f"{self.directory}/p{seq:07d}"

    def prepare(self) -> None:
        self.client.mkdir(self.directory, parents=True, exist_ok=True)

    def write(self, key: str) -> str:
        self.client.mkdir(key)
        return self.client.connection.leader  # moves only on failures

    def close(self) -> None:
        self.client.close()


def summarize(results: list[dict]) -> dict:
    """Median, max and min of the per-kill figures (``gap_s``, ``elected_s``, ``rejoin_s``)."""
    gaps = [r["gap_s"] for r in results]
    after = [r["gap_s"] - r["elected_s"] for r in results]
    return {
        "gap_median_s": median(gaps),
        "gap_max_s": max(gaps),
        "gap_min_s": min(gaps),
        "election_median_s": median([r["elected_s"] for r in results]),
        # gap minus election: the client's retries and re-routing after a leader exists
        "after_election_median_s": median(after),
        "after_election_max_s": max(after),
        "rejoin_median_s": median([r["rejoin_s"] for r in results]),
        "rejoin_max_s": max(r["rejoin_s"] for r in results),
    }


def _new_leader(addresses: list[str], old_term: int) -> Status | None:
    st = leader_status(addresses)
    return st if st is not None and st.term > old_term else None


def run(cluster: LocalCluster, kills: int, log=print) -> dict:
    """Kill the leader ``kills`` times under a writing probe; return per-kill figures."""
    addresses = list(cluster.addresses)
    probe = Probe(addresses, max_writes=int((kills * (GAP_TIMEOUT_S + REJOIN_TIMEOUT_S)) * 100))
    results: list[dict] = []
    probe.start()
    try:
        for k in range(kills):
            results.append(_one_kill(cluster, probe, k, log))
    finally:
        probe.stop()
    errors = [w for w in probe.writes if w.error]
    acked = {w.path for w in probe.writes if not w.error}
    with Client(addresses=addresses, user=getpass.getuser()) as check:
        present = set(check.ls(DIR, detail=False))
    return {
        "kills": kills,
        "interval_ms": INTERVAL_S * 1000,
        "writes": len(probe.writes),
        "errors": len(errors),
        "error_samples": sorted({w.error for w in errors})[:5],
        "lost_acknowledged": len(acked - present),
        **summarize(results),
        "per_kill": results,
    }


def kill_record(
    k: int,
    killed: tuple[str, int],
    elected: tuple[str, int],
    elected_s: float,
    gap: float,
    rejoin_s: float,
    what: str,
    log,
) -> dict:
    """One kill's row, logged: ``killed``/``elected`` are (name, term); ``what`` the
    probe's operation ("write", "put"). Shared by hafs's kill loop and the peers'."""
    result = {
        "kill": k + 1,
        "killed": killed[0],
        "old_term": killed[1],
        "new_leader": elected[0],
        "new_term": elected[1],
        "elected_s": round(elected_s, 4),
        "gap_s": round(gap, 4),
        "rejoin_s": round(rejoin_s, 3),
    }
    log(
        f"  kill {k + 1}: {killed[0]} (term {killed[1]}) -> {elected[0]} "
        f"(term {elected[1]}); elected after {result['elected_s']:.3f} s, "
        f"first {what} acked after {gap:.3f} s; rejoined in {result['rejoin_s']:.2f} s"
    )
    return result


def _one_kill(cluster: LocalCluster, probe: Probe, k: int, log) -> dict:
    before = leader_status(cluster.addresses)
    if before is None:
        wait_until("a leader", lambda: leader_status(cluster.addresses) is not None, 30)
        before = leader_status(cluster.addresses)
    assert before is not None
    victim = next(n for n in cluster.nodes if n.node_id == before.node_id)
    probe.wait_warm(victim.address)  # it has written through this leader a few times
    killed_at = time.monotonic()
    victim.signal(signal.SIGKILL)
    if victim.process is not None:
        victim.process.wait(10)
    survivors = [n.address for n in cluster.nodes if n is not victim]
    elected: Status | None = None
    first: Write | None = None
    deadline = killed_at + GAP_TIMEOUT_S
    while (elected is None or first is None) and time.monotonic() < deadline:
        if elected is None:
            elected = _new_leader(survivors, before.term)
            elected_at = time.monotonic()
        if first is None:
            first = probe.acked_since(killed_at, not_by=victim.address)
        time.sleep(0.01)
    if first is None or elected is None:
        raise TimeoutError(f"kill {k + 1}: no new leader acknowledged a write in {GAP_TIMEOUT_S} s")
    gap = first.ended - killed_at
    # Rejoin: restart the victim and wait until it is a healthy member.
    restarted_at = time.monotonic()
    victim.start()
    leader_now = leader_status(survivors)
    target = leader_now.commit_index if leader_now is not None else 0
    rejoined_at = wait_until(
        f"{victim.node_id} rejoins",
        lambda: healthy_member(cluster, victim, target),
        REJOIN_TIMEOUT_S,
        poll=0.05,
    )
    return kill_record(
        k, (victim.node_id, before.term), (elected.node_id, elected.term),
        elected_at - killed_at, gap, rejoined_at - restarted_at, "write", log,
    )  # fmt: skip
