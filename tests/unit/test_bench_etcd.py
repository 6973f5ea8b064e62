"""The pure parts of the etcd benchmark and of hafs-versus-etcd reporting: rows and
failover figures aggregated, ratios of one run, and the report with etcd measured,
missing or not run (never a quoted figure in its place). No process is started."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from benchmarks import failover, metadata, report, report_etcd
from benchmarks.__main__ import merge
from benchmarks.metadata import Phase
from benchmarks.peers import etcd
from benchmarks.peers.etcd_cluster import DEFAULT, MISSING, TUNED, EtcdCluster

# The figures issue 3 quoted for etcd: they must never reappear as if measured.
QUOTED = ("3,400", "3400", "4,000/s", "1.36 ms", "1.4 s", "662/s")


def etcd_section(markdown: str) -> str:
    """The "hafs and etcd" section of docs/benchmarks.md (the summary table stays above)."""
    start = markdown.index("## hafs and etcd")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end > 0 else None]


def row(op: str, c: int, ops_per_s: float, p50_ms: float) -> dict:
    return {
        "operation": op,
        "concurrency": c,
        "repeats": 3,
        "ops": int(ops_per_s),
        "seconds": 1.0,
        "ops_per_s": ops_per_s,
        "p50_ms": p50_ms,
        "p99_ms": 3 * p50_ms,
        "errors": 0,
        "cpu_cores": {"leader": 0.5, "follower-m2": 0.25, "load generator": 0.5},
    }


def fo(median: float, worst: float, **extra) -> dict:
    per_kill = [
        {
            "kill": 1,
            "killed": "m1",
            "new_leader": "m2",
            "old_term": 2,
            "new_term": 3,
            "elected_s": median - 0.05,
            "gap_s": median,
            "rejoin_s": 0.5,
        }
    ]
    return {
        "kills": 1,
        "interval_ms": 10.0,
        "writes": 100,
        "errors": 0,
        "error_samples": [],
        "lost_acknowledged": 0,
        "gap_median_s": median,
        "gap_max_s": worst,
        "gap_min_s": median,
        "election_median_s": median - 0.05,
        "after_election_median_s": 0.05,
        "after_election_max_s": 0.05,
        "rejoin_median_s": 0.5,
        "rejoin_max_s": 0.5,
        "per_kill": per_kill,
        **extra,
    }


def etcd_result() -> dict:
    return {
        "version": "3.4.23",
        "binary": "/usr/bin/etcd",
        "members": 3,
        "value_bytes": 100,
        "seconds_per_phase": 5.0,
        "repeats": 3,
        "concurrencies": [1, 64],
        "timing": {
            "default": {"heartbeat_ms": 100, "election_ms": 1000},
            "tuned": {"heartbeat_ms": 20, "election_ms": 200},
        },
        "flags": ["--heartbeat-interval=100", "--election-timeout=1000"],
        "rows": [
            row("put", 1, 1000.0, 1.0),
            row("get", 1, 2000.0, 0.5),
            row("put", 64, 5000.0, 10.0),
            row("get", 64, 8000.0, 7.0),
        ],
        "failover": {
            "default": fo(1.2, 1.8, heartbeat_ms=100, election_ms=1000),
            "tuned": fo(0.3, 0.5, heartbeat_ms=20, election_ms=200),
        },
        "failures": {},
        "seconds": {"workload": 10.0},
    }


def result(with_etcd: dict | None = None, **extra) -> dict:
    out = {
        "date": "2026-11-22T00:00:00+00:00",
        "quick": True,
        "settings": {},
        "machine": {
            "cpus": 2,
            "python": "3.11",
            "platform": "Linux",
            "load_average_before": [0.1, 0.1, 0.1],
        },
        "setup": "NameNodes on 127.0.0.1",
        "seconds": {"total": 1.0},
        "errors": {},
        "metadata": {
            "runs": [
                {
                    "namenodes": 3,
                    "label": "3 NameNodes (Raft group)",
                    "seconds_per_phase": 1.0,
                    "repeats": 1,
                    "rows": [
                        row("create", 1, 500.0, 2.0),
                        row("create", 64, 6000.0, 9.0),
                        row("stat", 64, 4400.0, 12.0),
                    ],
                }
            ]
        },
        "failover": fo(0.6, 2.0),
        **extra,
    }
    if with_etcd is not None:
        out["etcd"] = with_etcd
    return out


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


# ---- ratios and the comparison ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hafs", "etcd_value", "expected"),
    [(6000.0, 5000.0, 1.2), (None, 5000.0, None), (1.0, None, None), (1.0, 0.0, None)],
)
def test_ratio_is_hafs_over_etcd_or_none(hafs, etcd_value, expected):
    got = report_etcd.ratio(hafs, etcd_value)
    assert got == pytest.approx(expected) if expected is not None else got is None
    assert report_etcd.ratio(float("nan"), 1.0) is None


def test_comparison_with_etcd_measured_in_the_same_run():
    rows = by_name(report_etcd.comparison(result(etcd_result())))
    creates = rows["creates vs puts, 64 in flight"]
    assert (creates["hafs"], creates["etcd"]) == (6000.0, 5000.0)
    assert creates["ratio"] == pytest.approx(1.2) and creates["met"] is True
    stats = rows["linearizable stats vs gets, 64 in flight"]
    assert stats["ratio"] == pytest.approx(0.55) and stats["met"] is False
    seq = rows["sequential create vs put, p50"]
    assert seq["ratio"] == pytest.approx(2.0) and seq["met"] is False  # <= 1.0x wanted
    gap = rows["failover gap median (etcd default timing)"]
    assert gap["ratio"] == pytest.approx(0.5) and gap["met"] is True  # hafs 0.6 s <= 1.0 s
    worst = rows["failover gap max (etcd default timing)"]
    assert worst["met"] is True  # hafs 2.0 s <= 2.5 s
    tuned = rows["failover gap median (etcd tuned timing)"]
    assert tuned["ratio"] == pytest.approx(2.0) and tuned["met"] is None and not tuned["goal"]


@pytest.mark.parametrize(
    ("etcd_part", "state"),
    [
        ({"missing": MISSING}, f"missing: {MISSING}"),
        (None, "not run"),
    ],
)
def test_comparison_without_etcd_says_not_measured(etcd_part, state):
    res = result(etcd_part)
    assert report_etcd.etcd_state(res) == state
    for c in report_etcd.comparison(res):
        assert c["etcd"] is None and c["ratio"] is None
        # the failover goals are absolute: still judged on hafs's own figures
        assert c["met"] is None or c["name"].startswith("failover gap")
    assert "etcd not measured" in report.targets_console(res)
    assert "**not measured**" in "\n".join(report_etcd.markdown(res))


def test_a_failed_etcd_benchmark_is_named_in_the_state():
    res = result(None)
    res["errors"]["etcd"] = "EtcdError: not ready"
    assert report_etcd.etcd_state(res) == "failed: EtcdError: not ready"


def test_ratios_of_two_runs_are_not_shown(tmp_path):
    import json

    first = result(None)
    second = {k: v for k, v in result(etcd_result()).items() if k not in ("metadata", "failover")}
    (tmp_path / "a.json").write_text(json.dumps(first))
    (tmp_path / "b.json").write_text(json.dumps(second))
    merged = merge([tmp_path / "a.json", tmp_path / "b.json"])
    assert not report_etcd.same_run(merged, "metadata", "etcd")
    rows = report_etcd.comparison(merged)
    assert all(c["ratio"] is None for c in rows)
    assert "different runs" in report.targets_console(merged)


def test_merge_keeps_the_failures_of_a_benchmark_part(tmp_path):
    import json

    part = result(etcd_result())
    part["errors"] = {"etcd failover-tuned": "TimeoutError: no put"}
    (tmp_path / "a.json").write_text(json.dumps(part))
    assert merge([tmp_path / "a.json"])["errors"] == {"etcd failover-tuned": "TimeoutError: no put"}


# ---- report rendering ---------------------------------------------------------------------


def test_markdown_with_etcd_describes_the_setup_and_shows_ratios():
    text = report.markdown(result(etcd_result()))
    assert "## hafs and etcd, measured in the same run" in text
    assert "etcd 3.4.23" in text and "`--heartbeat-interval=100`" in text
    assert "--heartbeat-interval=20 --election-timeout=200" in text  # the tuned timing
    assert "| creates vs puts, 64 in flight | 6,000/s | 5,000/s | 1.20x | >= 1.0x | met |" in text
    assert "| put | 64 | 5000 | 5,000 | 10.00 |" in text
    assert "Failover, default timing (heartbeat 100 ms" in text
    assert not any(q in etcd_section(text) for q in QUOTED)


@pytest.mark.parametrize("etcd_part", [{"missing": MISSING}, None])
def test_markdown_without_etcd_quotes_nothing(etcd_part):
    text = report.markdown(result(etcd_part))
    assert "not measured" in text and "no figure is quoted" in text
    assert ("not installed" in text) == (etcd_part is not None)
    assert "### etcd" not in text
    assert not any(q in etcd_section(text) for q in QUOTED)
    console = report.targets_console(result(etcd_part))
    assert "etcd not measured" in console
    assert not any(q in console for q in QUOTED)


def test_console_of_the_etcd_benchmark():
    text = report_etcd.etcd_console(etcd_result())
    assert "etcd 3.4.23, 3 members" in text and "put" in text
    assert "tuned timing (heartbeat 20 ms, election timeout 200 ms)" in text
    assert report_etcd.etcd_console({"missing": MISSING}) == f"etcd: missing ({MISSING})"


# ---- aggregation -----------------------------------------------------------------------


def phase(latencies_ms: list[float], seconds: float, errors: int = 0, cpu: float = 0.5) -> Phase:
    return Phase(
        seconds=seconds,
        latencies=[ms / 1000 for ms in latencies_ms],
        done=list(range(len(latencies_ms))),
        errors=Counter({"UNAVAILABLE": errors}),
        cpu={"leader": cpu},
    )


def test_a_row_is_the_median_of_its_rounds():
    rounds = [
        phase([1, 2, 3], 1.0, cpu=0.1),
        phase([2, 4, 6, 8], 1.0, errors=1, cpu=0.2),
        phase([10], 2.0, cpu=0.3),
    ]
    got = metadata.aggregate("put", 16, rounds)
    assert got["operation"] == "put" and got["concurrency"] == 16 and got["repeats"] == 3
    assert got["ops"] == 8 and got["errors"] == 1
    assert got["ops_per_s"] == pytest.approx(3.0)  # median of 3, 4 and 0.5
    assert got["p50_ms"] == pytest.approx(4.0)  # median of 2, 4 and 10
    assert got["cpu_cores"] == {"leader": 0.2}  # the middle round's


def test_failover_summary_is_median_max_and_min():
    kills = [
        {"gap_s": g, "elected_s": e, "rejoin_s": r}
        for g, e, r in ((1.0, 0.9, 0.5), (3.0, 2.0, 1.5), (2.0, 1.9, 1.0))
    ]
    got = failover.summarize(kills)
    assert (got["gap_median_s"], got["gap_max_s"], got["gap_min_s"]) == (2.0, 3.0, 1.0)
    assert got["election_median_s"] == 1.9 and got["rejoin_max_s"] == 1.5
    assert got["after_election_max_s"] == pytest.approx(1.0)


class FlakyProbe(failover.PacedProbe):
    """Its second write fails; every other is acknowledged by "a" then "b"."""

    def __init__(self):
        super().__init__(max_writes=4, interval=0.001)

    def key(self, seq: int) -> str:
        return f"k{seq}"

    def write(self, key: str) -> str:
        if key == "k1":
            raise ConnectionError("down")
        return "a" if key == "k0" else "b"


def test_paced_probe_records_each_write_and_finds_the_first_ack_elsewhere():
    probe = FlakyProbe()
    probe.start()
    probe.join(5)
    assert [w.path for w in probe.writes] == ["k0", "k1", "k2", "k3"]
    assert probe.writes[1].error == "ConnectionError: down" and not probe.writes[1].address
    first = probe.acked_since(probe.writes[0].started - 1, not_by="a")
    assert first is not None and first.path == "k2"
    assert probe.acked_since(time.monotonic() + 1) is None


# ---- the etcd benchmark without etcd --------------------------------------------------------


def test_without_etcd_the_result_is_missing_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(etcd, "find_binary", lambda: None)
    lines: list[str] = []
    assert etcd.run(tmp_path, 1.0, 1, 1, log=lines.append) == {"missing": MISSING}
    assert MISSING in lines[0] and not any(tmp_path.iterdir())


def test_each_member_knows_the_whole_cluster_and_its_timing(tmp_path):
    cluster = EtcdCluster("/usr/bin/etcd", tmp_path, TUNED)  # planned, not started
    peers = {m.peer_url for m in cluster.members}
    assert len(peers) == 3 and len({m.address for m in cluster.members}) == 3
    for m in cluster.members:
        flags = cluster.flags(m)
        initial = next(f for f in flags if f.startswith("--initial-cluster="))
        assert {p.split("=", 1)[1] for p in initial.split("=", 1)[1].split(",")} == peers
        assert f"--name={m.name}" in flags and f"--data-dir={m.data_dir}" in flags
        assert "--heartbeat-interval=20" in flags and "--election-timeout=200" in flags
    shown = etcd.flags_shown(cluster)
    assert "--data-dir=$DIR/m1.etcd" in shown
    assert all("127.0.0.1:PORT" in f for f in shown if "127.0.0.1" in f)
    assert DEFAULT.flags() == ["--heartbeat-interval=100", "--election-timeout=1000"]
