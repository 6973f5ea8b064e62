"""A small synthetic ``python -m benchmarks`` result, with every benchmark the report
and the plots read, for tests of the pure report code. Figures are made up."""

from __future__ import annotations

import copy
from typing import Any

MiB = 1 << 20
OPERATIONS = ("mkdir", "create", "stat", "list", "rename", "delete")


def _metadata_run(namenodes: int, scale: float) -> dict[str, Any]:
    rows = [
        {
            "operation": op,
            "concurrency": c,
            "repeats": 1,
            "ops": int(100 * scale * (1 + n)),
            "seconds": 1.0,
            "ops_per_s": 100.0 * scale * (1 + n) * (c**0.5),
            "p50_ms": 2.0,
            "p99_ms": 9.0,
            "errors": 0,
            "cpu_cores": {"leader": 0.9, "follower-nn2": 0.3, "load generator": 0.1},
        }
        for n, op in enumerate(OPERATIONS)
        for c in (1, 16, 64)
    ]
    return {
        "namenodes": namenodes,
        "label": "3 NameNodes (Raft group)" if namenodes > 1 else "1 NameNode (no Raft)",
        "seconds_per_phase": 1.0,
        "repeats": 1,
        "raft": {"min_timeout_s": 0.3} if namenodes > 1 else {},
        "rows": rows,
    }


def _memory(rss: float) -> dict[str, dict[str, float]]:
    return {f"nn{i}": {"rss_mib": rss + i, "peak_rss_mib": rss + i + 2} for i in (1, 2, 3)}


def _figure(mib_per_s: float) -> dict[str, Any]:
    return {
        "mib_per_s": mib_per_s,
        "seconds": 1.0,
        "runs_mib_per_s": [mib_per_s],
        "cpu_s": {"client": 1.0, "datanodes": 1.0, "namenodes": 0.1, "per_datanode": {}},
    }


BASE: dict[str, Any] = {
    "date": "2026-01-01T00:00:00+00:00",
    "quick": True,
    "settings": {},
    "machine": {
        "cpus": 2,
        "python": "3.11",
        "platform": "Linux",
        "load_average_before": [1.0, 1.0, 1.0],
        "load_average_after": [1.0, 1.0, 1.0],
    },
    "setup": "synthetic",
    "seconds": {"total": 1.0},
    "errors": {},
    "metadata": {
        "mode": "time-bounded",
        "concurrencies": [1, 16, 64],
        "runs": [_metadata_run(3, 1.0), _metadata_run(1, 2.0)],
    },
    "raftceiling": {
        "library": "pysyncobj 0.3.17",
        "nodes": 3,
        "value_bytes": 100,
        "keys": 1024,
        "seconds_per_phase": 1.0,
        "rounds": 3,
        "concurrencies": [1, 16, 64],
        "how": "C writes outstanding",
        "options": {"journal": True, "appendEntriesUseBatch": False},
        "leaders": ["peer1"],
        "rows": [
            {
                "concurrency": c,
                "ops_per_s": ops,
                "p50_ms": 0.5 * c,
                "p99_ms": 1.0 * c,
                "errors": 0,
                "rounds_ops_per_s": [ops] * 3,
                "cpu_cores": {"leader": 0.8, "followers": 0.9},
            }
            for c, ops in ((1, 1600.0), (16, 5000.0), (64, 6000.0))
        ],
    },
    "failover": {
        "kills": 3,
        "interval_ms": 10.0,
        "writes": 300,
        "errors": 0,
        "error_samples": [],
        "lost_acknowledged": 0,
        "gap_median_s": 0.7,
        "gap_max_s": 1.2,
        "gap_min_s": 0.5,
        "election_median_s": 0.4,
        "rejoin_median_s": 0.6,
        "rejoin_max_s": 0.9,
        "per_kill": [
            {
                "kill": k,
                "killed": "nn1",
                "old_term": k,
                "new_leader": "nn2",
                "new_term": k + 1,
                "elected_s": 0.4,
                "gap_s": gap,
                "rejoin_s": 0.6,
            }
            for k, gap in ((1, 0.5), (2, 0.7), (3, 1.2))
        ],
    },
    "scale": {
        "files": 100_000,
        "generate": {"directories": 100, "seconds": 1.0, "files_per_s": 1e5, "db_bytes": 10 * MiB},
        "cold_start_s": 1.0,
        "memory_empty": _memory(60.0),
        "memory_after_start": _memory(62.0),
        "memory": _memory(64.0),
        "checkpoint": {
            "seconds": 0.05,
            "image_bytes": 9 * MiB,
            "election": False,
            "probe_max_ms": 9.0,
        },
        "raft_snapshot": {
            "dump_seconds": {"nn1": 0.06, "nn2": None},
            "dump_bytes": {"nn1": 9 * MiB},
            "election": False,
            "probe_max_ms": 100.0,
        },
        "follower_restart": {
            "serving_s": 0.3,
            "stat_answered_s": 0.3,
            "stat_answer": "NOT_LEADER",
            "caught_up_s": 0.8,
        },
        "group_restart": {"serving_s": 0.6, "first_stat_s": 1.1},
    },
    "datapath": {
        "size_bytes": 256 * MiB,
        "runs": 1,
        "block_size_bytes": 128 * MiB,
        "figures": {
            "grpc upload": _figure(2800.0),
            "grpc download": _figure(2500.0),
            "cp": _figure(1000.0),
            "put r1": _figure(300.0),
            "get r3": _figure(600.0),
        },
        "ratios": {"get_vs_grpc_download": 0.24, "put_r1_vs_grpc_upload": 0.11},
    },
}

SECTIONS = {  # benchmark -> a heading only its section of docs/benchmarks.md has
    "metadata": "## Namespace operations",
    "raftceiling": "## The Raft library's ceiling",
    "failover": "## Failover gap",
    "scale": "## Image and restart at scale",
    "datapath": "## Data path throughput",
}


def result(*without: str) -> dict[str, Any]:
    """A fresh copy of the synthetic result, less the benchmarks named."""
    out = copy.deepcopy(BASE)
    for name in without:
        out.pop(name)
    return out
