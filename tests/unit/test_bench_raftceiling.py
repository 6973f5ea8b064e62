"""The Raft ceiling benchmark's pure parts: settings, aggregation, the load loop, text."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from bench_results import result

from benchmarks import raftceiling, raftpeer
from ha_namenode.consensus.base import RaftSettings

ROOT = Path(__file__).resolve().parents[2]
# Keywords of hafs's SyncObjConf that are its own code or files, not settings to copy.
HAFS_ONLY = {
    "password",
    "journalFile",
    "fullDumpFile",
    "serializer",
    "deserializer",
    "serializeChecker",
    "onStateChanged",
}


def hafs_syncobjconf_keywords() -> set[str]:
    tree = ast.parse((ROOT / "ha_namenode" / "consensus" / "raft.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "SyncObjConf"
    ]
    assert len(calls) == 1
    return {kw.arg for kw in calls[0].keywords}


def test_the_peers_set_every_syncobjconf_keyword_hafs_sets():
    options = raftceiling.syncobj_options(RaftSettings())
    assert set(options) - {"journal"} == hafs_syncobjconf_keywords() - HAFS_ONLY
    assert options["appendEntriesUseBatch"] is False
    assert options["journal"] is True  # hafs has a journal and a dump file


def test_the_peers_use_the_benchmark_clusters_timeouts():
    options = raftceiling.syncobj_options(raftceiling.cluster_settings())
    assert (options["raftMinTimeout"], options["raftMaxTimeout"]) == (0.3, 0.6)
    assert options["appendEntriesPeriod"] == 0.05
    assert options["leaderFallbackTimeout"] == 2.0


def test_a_phase_summary_counts_rates_and_nearest_rank_percentiles():
    s = raftceiling.phase_summary([float(x) for x in range(100, 0, -1)], 2.0, {"not_leader": 2})
    assert (s["ops"], s["ops_per_s"], s["p50_ms"], s["p99_ms"]) == (100, 50.0, 50.0, 99.0)
    assert (s["errors"], s["error_reasons"]) == (2, {"not_leader": 2})
    empty = raftceiling.phase_summary([], 1.0, {})
    assert empty["ops_per_s"] == 0 and empty["p50_ms"] != empty["p50_ms"]  # nan


def phase(c: int, ops_per_s: float, round_: int) -> dict:
    return {
        "round": round_,
        "concurrency": c,
        "ops_per_s": ops_per_s,
        "p50_ms": ops_per_s / 1000,
        "p99_ms": ops_per_s / 100,
        "errors": 1,
        "cpu_cores": {"leader": 0.5, "followers": round_},
    }


def test_rows_are_medians_over_rounds_per_concurrency():
    phases = [phase(c, c * 100.0 * r, r) for r in (1, 2, 3) for c in (64, 1)]
    rows = raftceiling.summarize(phases)
    assert [r["concurrency"] for r in rows] == [1, 64]
    assert rows[1]["ops_per_s"] == 12_800.0
    assert rows[1]["rounds_ops_per_s"] == [6400.0, 12800.0, 19200.0]
    assert rows[0]["p50_ms"] == 0.2 and rows[0]["errors"] == 3
    assert rows[0]["cpu_cores"] == {"leader": 0.5, "followers": 2}


def test_ratios_divide_hafs_at_c64_by_raw_pysyncobj_of_the_same_result():
    r = result()
    mkdir = raftceiling.hafs_row(r, "mkdir", 64)["ops_per_s"]
    create = raftceiling.hafs_row(r, "create", 64)["ops_per_s"]
    assert raftceiling.ratios(r) == {"mkdir": mkdir / 6000.0, "create": create / 6000.0}
    assert raftceiling.ratios(result("metadata")) == {}
    assert raftceiling.ratios(result("raftceiling")) == {}


def test_console_shows_the_ratio_only_with_a_metadata_run():
    assert "÷ raw 6,000/s" in raftceiling.console(result())
    alone = raftceiling.console(result("metadata"))
    assert "6,000" in alone and "÷" not in alone


def test_markdown_section_with_and_without_the_metadata_run():
    assert raftceiling.markdown(result("raftceiling")) == []
    text = "\n".join(raftceiling.markdown(result()))
    assert "## The Raft library's ceiling" in text and "Ceiling ratio, at C=64" in text
    assert "`appendEntriesUseBatch=False`" in text and "journal=" not in text
    bare = "\n".join(raftceiling.markdown(result("metadata")))
    assert "No `metadata` run to compare with." in bare and "| 64 | 6,000 |" in bare


class FakeStore:
    """Applies each put on another thread after ``delay``, like pysyncobj's tick thread."""

    def __init__(self, delay: float = 0.001, fail_every: int = 0) -> None:
        self.delay = delay
        self.fail_every = fail_every
        self.puts = 0
        self.lock = threading.Lock()

    def put(self, key, value, callback):
        assert len(value) == raftpeer.VALUE_BYTES and 0 <= key < raftpeer.KEYS
        with self.lock:
            self.puts += 1
            failed = self.fail_every and self.puts % self.fail_every == 0
        err = raftpeer.FAIL_REASON.NOT_LEADER if failed else raftpeer.FAIL_REASON.SUCCESS
        threading.Timer(self.delay, callback, args=(None, err)).start()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_the_load_keeps_the_window_full_and_drains_it(concurrency):
    store = FakeStore()
    out = raftpeer.load(store, concurrency, 0.2)
    assert out["drained"] and out["errors"] == {}
    assert out["concurrency"] == concurrency and out["seconds"] == 0.2
    assert len(out["latencies_ms"]) >= 10 * concurrency
    assert store.puts - concurrency <= len(out["latencies_ms"]) <= store.puts
    assert min(out["latencies_ms"]) >= 1.0


def test_a_failed_write_is_counted_by_reason_and_not_replaced():
    out = raftpeer.load(FakeStore(fail_every=5), 4, 0.2)
    assert out["drained"]
    assert out["errors"] == {"not_leader": 4}  # each slot retires at its first failure
