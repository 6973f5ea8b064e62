"""The ceiling of our Raft library: raw pysyncobj, three processes, a trivial state machine.

Three ``benchmarks.raftpeer`` processes on 127.0.0.1 form a pysyncobj group
with the ``SyncObjConf`` a hafs NameNode builds (``syncobj_options``: the same
timeouts, ``appendEntriesUseBatch=False``, a password, a journal and dump
file), and replicate a dict set with a 100-byte value. The load runs inside
the leader's process: ``C`` writes outstanding, each a ``@replicated`` call
whose callback submits the next one (``raftpeer.load``). So the figures are
what pysyncobj itself does with one log entry per write, with no gRPC, no
SQLite and no group commit: divided into the hafs figures of the same run,
they show what hafs costs above its Raft library (or gains, by packing many
operations into one entry).

``Group`` starts and always stops the processes (a context manager; a node
that does not quit in time is killed). ``run`` measures each concurrency in
each round, one phase at a time; the pure functions below it aggregate (a
median over rounds) and write the console table and the docs section.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from benchmarks.common import cpu_seconds, median, percentile, table
from benchmarks.raftpeer import KEYS, PASSWORD_ENV, VALUE_BYTES
from chaos.configs import DEV_RAFT, HOST, free_port
from ha_namenode.consensus.base import RaftSettings

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCIES = (1, 16, 64)
HOW = (
    "C writes outstanding in the leader's process, each a @replicated call with a "
    "callback that submits the next write from pysyncobj's tick thread"
)


def syncobj_options(settings: RaftSettings) -> dict[str, Any]:
    """The ``SyncObjConf`` keywords ``ha_namenode.consensus.raft`` sets, but its own
    serializer and callbacks (``journal``: a journal and dump file, as hafs has)."""
    return {
        "journal": True,
        "useFork": False,
        "appendEntriesUseBatch": False,
        "dynamicMembershipChange": True,
        "raftMinTimeout": settings.min_timeout_s,
        "raftMaxTimeout": settings.max_timeout_s,
        "appendEntriesPeriod": settings.append_entries_period_s,
        "leaderFallbackTimeout": settings.leader_fallback_timeout_s,
        "connectionTimeout": settings.connection_timeout_s,
        "connectionRetryTime": settings.connection_retry_time_s,
        "logCompactionMinEntries": settings.compaction_min_entries,
        "logCompactionMinTime": settings.compaction_min_time_s,
    }


def cluster_settings() -> RaftSettings:
    """The Raft settings of the benchmarks' hafs clusters (``chaos.configs.DEV_RAFT``)."""
    return dataclasses.replace(RaftSettings(), **DEV_RAFT)


# ---- the processes -------------------------------------------------------------------


class PeerError(RuntimeError):
    """A raftpeer process did not answer, or answered with an error."""


class Peer:
    """One raftpeer process and the lines it prints."""

    def __init__(self, name: str, address: str, process: subprocess.Popen, log: Path) -> None:
        self.name = name
        self.address = address
        self.process = process
        self.log = log
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise PeerError(f"{self.name}: no answer in {timeout:.0f} s") from None
        if line is None:
            raise PeerError(f"{self.name} exited ({self.process.poll()}): {self.log_tail()}")
        return json.loads(line)

    def request(self, cmd: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
            self.process.stdin.flush()
        except OSError as e:
            raise PeerError(f"{self.name}: cannot send {cmd}: {e}") from e
        return self.receive(timeout)

    def ask_to_quit(self) -> None:
        """Send ``quit`` and close stdin (which also ends the node); no wait."""
        with contextlib.suppress(OSError, ValueError):
            self.process.stdin.write('{"cmd": "quit"}\n')
            self.process.stdin.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the node to quit; kill it if it has not within ``timeout``; reap it."""
        if self.process.poll() is None:
            self.ask_to_quit()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Group:
    """``nodes`` raftpeer processes; every one is stopped on exit, whatever happened."""

    def __init__(self, base: Path, options: dict[str, Any], nodes: int = 3) -> None:
        self.base = Path(base)
        self.options = options
        self.addresses = [f"{HOST}:{free_port()}" for _ in range(nodes)]
        self.peers: list[Peer] = []

    def __enter__(self) -> Group:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, PASSWORD_ENV: secrets.token_hex(16)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
        for n, address in enumerate(self.addresses, 1):
            name = f"peer{n}"
            data = self.base / name
            data.mkdir(parents=True, exist_ok=True)
            conf = {
                "self": address,
                "partners": [a for a in self.addresses if a != address],
                "data_dir": str(data),
                "options": self.options,
            }
            log = self.base / f"{name}.log"
            with open(log, "ab") as err:
                process = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.raftpeer", "--conf", json.dumps(conf)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    cwd=ROOT,
                    env=env,
                )
            self.peers.append(Peer(name, address, process, log))
        for peer in self.peers:
            if not peer.receive(timeout).get("ready"):
                raise PeerError(f"{peer.name} did not start: {peer.log_tail()}")

    def stop(self) -> None:
        for peer in self.peers:  # all at once, then wait for each
            peer.ask_to_quit()
        for peer in self.peers:
            peer.stop()

    @property
    def pids(self) -> list[int]:
        return [p.process.pid for p in self.peers]

    def leader(self, timeout: float = 30.0) -> Peer:
        """The peer that leads with every partner connected, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            for peer in self.peers:
                st = peer.request("status")
                if st["leader"] and st["connected"] == len(self.peers) - 1:
                    return peer
            if time.monotonic() > deadline:
                raise PeerError(f"no leader with every partner connected after {timeout:.0f} s")
            time.sleep(0.05)

    def phase(self, concurrency: int, seconds: float) -> dict[str, Any]:
        """One timed phase on the leader; its summary, with the CPU each process used."""
        for _ in range(3):  # a leader change between the lookup and the load: look again
            leader = self.leader()
            before = {p.name: cpu_seconds(p.process.pid) for p in self.peers}
            answer = leader.request(
                "load", timeout=seconds + 30, concurrency=concurrency, seconds=seconds
            )
            if "error" not in answer:
                break
        else:
            raise PeerError(f"load at C={concurrency}: {answer['error']}")
        used = {p.name: cpu_seconds(p.process.pid) - before[p.name] for p in self.peers}
        summary = phase_summary(answer["latencies_ms"], seconds, answer["errors"])
        summary["concurrency"] = concurrency
        summary["leader"] = leader.name
        summary["drained"] = answer["drained"]
        summary["cpu_cores"] = {
            "leader": used[leader.name] / seconds,
            "followers": sum(v for k, v in used.items() if k != leader.name) / seconds,
        }
        return summary


# ---- the benchmark -------------------------------------------------------------------


def run(
    base: Path,
    seconds: float,
    rounds: int,
    concurrencies: Sequence[int] = CONCURRENCIES,
    log=print,
    warmup_s: float = 0.3,
) -> dict[str, Any]:
    """Each concurrency for ``seconds`` in each of ``rounds`` rounds on one group."""
    options = syncobj_options(cluster_settings())
    phases = []
    with Group(base, options) as group:
        group.phase(16, warmup_s)  # connections and the journal warm, not counted
        for r in range(rounds):
            for c in concurrencies:
                phase = group.phase(c, seconds)
                phases.append({"round": r + 1, **phase})
                log(
                    f"  round {r + 1}, C={c}: {phase['ops_per_s']:,.0f} ops/s, "
                    f"p50 {phase['p50_ms']:.2f} ms, leader {phase['leader']}"
                )
    return {
        "library": f"pysyncobj {importlib.metadata.version('pysyncobj')}",
        "nodes": len(group.peers),
        "value_bytes": VALUE_BYTES,
        "keys": KEYS,
        "seconds_per_phase": seconds,
        "rounds": rounds,
        "concurrencies": list(concurrencies),
        "how": HOW,
        "options": options,
        "leaders": sorted({p["leader"] for p in phases}),
        "rows": summarize(phases),
    }


def phase_summary(
    latencies_ms: Sequence[float], seconds: float, errors: dict[str, int]
) -> dict[str, Any]:
    """Operations, rate and latency percentiles of one phase."""
    ordered = sorted(latencies_ms)
    return {
        "ops": len(ordered),
        "seconds": seconds,
        "ops_per_s": len(ordered) / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(ordered, 50),
        "p99_ms": percentile(ordered, 99),
        "errors": sum(errors.values()),
        "error_reasons": dict(errors),
    }


def summarize(phases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per concurrency: medians over the rounds, errors summed."""
    rows = []
    for c in sorted({p["concurrency"] for p in phases}):
        mine = [p for p in phases if p["concurrency"] == c]
        rows.append(
            {
                "concurrency": c,
                "ops_per_s": median([p["ops_per_s"] for p in mine]),
                "p50_ms": median([p["p50_ms"] for p in mine]),
                "p99_ms": median([p["p99_ms"] for p in mine]),
                "errors": sum(p["errors"] for p in mine),
                "rounds_ops_per_s": [round(p["ops_per_s"], 1) for p in mine],
                "cpu_cores": {
                    k: median([p["cpu_cores"][k] for p in mine]) for k in ("leader", "followers")
                },
            }
        )
    return rows


# ---- comparison with hafs --------------------------------------------------------------


def hafs_row(result: dict, operation: str, concurrency: int) -> dict | None:
    """The 3-NameNode ``metadata`` row of this run for ``operation`` at ``concurrency``."""
    runs = (result.get("metadata") or {}).get("runs", [])
    run = next((r for r in runs if r["namenodes"] == 3), None)
    rows = run["rows"] if run else []
    return next(
        (r for r in rows if r["operation"] == operation and r["concurrency"] == concurrency), None
    )


def raw_row(rc: dict, concurrency: int) -> dict | None:
    return next((r for r in rc["rows"] if r["concurrency"] == concurrency), None)


def ratios(result: dict, concurrency: int = 64) -> dict[str, float]:
    """hafs ops/s over raw pysyncobj ops/s at ``concurrency``, per operation, from one run."""
    rc = result.get("raftceiling")
    raw = raw_row(rc, concurrency) if rc else None
    if not raw or raw["ops_per_s"] <= 0:
        return {}
    out = {}
    for op in ("mkdir", "create"):
        row = hafs_row(result, op, concurrency)
        if row is not None:
            out[op] = row["ops_per_s"] / raw["ops_per_s"]
    return out


def _ratio_text(result: dict) -> str:
    found = ratios(result)
    if not found:
        return ""
    raw = raw_row(result["raftceiling"], 64)
    parts = [
        f"hafs {op} {hafs_row(result, op, 64)['ops_per_s']:,.0f}/s ÷ raw "
        f"{raw['ops_per_s']:,.0f}/s = {value:.2f}x"
        for op, value in found.items()
    ]
    return "at C=64, " + "; ".join(parts)


def console(result: dict) -> str:
    """The raw pysyncobj table, with the ratios when ``result`` has a ``metadata`` run."""
    rc = result["raftceiling"]
    rows = [
        (
            r["concurrency"],
            f"{r['ops_per_s']:,.0f}",
            r["p50_ms"],
            r["p99_ms"],
            r["errors"],
            r["cpu_cores"]["leader"],
            r["cpu_cores"]["followers"],
        )
        for r in rc["rows"]
    ]
    head = ("C", "ops/s", "p50 ms", "p99 ms", "errors", "leader cpu", "followers cpu")
    out = f"raw pysyncobj, {rc['nodes']} processes:\n" + table(head, rows, "rrrrrrr")
    text = _ratio_text(result)
    return out + (f"\n{text}" if text else "")


def markdown(result: dict) -> list[str]:
    """The docs section (none when the benchmark did not run)."""
    rc = result.get("raftceiling")
    if not rc:
        return []
    opts = ", ".join(f"`{k}={v}`" for k, v in rc["options"].items() if k != "journal")
    lines = [
        "",
        "## The Raft library's ceiling (raw pysyncobj)",
        "",
        f"{rc['nodes']} {rc['library']} processes on 127.0.0.1 replicate a dict "
        f"({rc['keys']:,} keys, {rc['value_bytes']}-byte values) with the `SyncObjConf` a "
        f"hafs NameNode builds ({opts}, a password, a journal and a dump file); no hafs "
        f"code, gRPC or SQLite. Load: {rc['how']}; one log entry per write. "
        f"{rc['seconds_per_phase']:g} s per phase, medians of {rc['rounds']} round(s); "
        "`C=1` gives the sequential latency. hafs columns are the 3-NameNode `metadata` "
        "rows of the same run (`create` is two calls, create and complete). hafs does more "
        "per write than the library: it msyncs the journal after every append and applies "
        "into SQLite; it seals messages with AES-GCM instead of the library's Fernet; and it "
        "packs many operations into one entry (group commit), which this load does not, so "
        "a ratio above 1 is possible.",
        "",
    ]
    head = ["C", "raw ops/s", "p50 ms", "p99 ms", "errors", "leader cpu"]
    head += ["hafs mkdir ops/s", "mkdir / raw", "hafs create ops/s", "create / raw"]
    rows = []
    for r in rc["rows"]:
        row = [
            r["concurrency"],
            f"{r['ops_per_s']:,.0f}",
            _num(r["p50_ms"]),
            _num(r["p99_ms"]),
            r["errors"],
            _num(r["cpu_cores"]["leader"]),
        ]
        for op in ("mkdir", "create"):
            mine = hafs_row(result, op, r["concurrency"])
            if mine is None or r["ops_per_s"] <= 0:
                row += ["-", "-"]
            else:
                row += [f"{mine['ops_per_s']:,.0f}", f"{mine['ops_per_s'] / r['ops_per_s']:.2f}x"]
        rows.append(row)
    lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = _ratio_text(result)
    lines += ["", f"Ceiling ratio, {text}." if text else "No `metadata` run to compare with."]
    return lines


def _num(v: float) -> str:
    if v != v:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
