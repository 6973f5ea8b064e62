"""Console tables and ``docs/benchmarks.md`` from one results dictionary.

The targets are issue 9's, in one summary table (``benchmarks.summary``), which the
README repeats. etcd is measured in the same run (``benchmarks.peers.etcd``); hafs
against it in detail is ``benchmarks.report_etcd``.
"""

from __future__ import annotations

from benchmarks import (
    federation,
    footprint,
    plots,
    raftceiling,
    report_data,
    report_etcd,
    scaling,
    summary,
)
from benchmarks.common import md_table, table

NAN = float("nan")
SUMMARY_PREFACE = (
    "Every comparison divides two figures of one run on the same machine: hafs with 3 "
    "NameNodes (and 3 DataNodes for the data path), etcd with 3 members, raw pysyncobj "
    "with 3 processes, the client on the same host. Figures are medians of the run's "
    "rounds; the machine is shared, so they vary by about ±20 % between runs, ratios less."
)

# ---- console ---------------------------------------------------------------------------


def metadata_console(run: dict) -> str:
    rows = [
        (
            r["operation"],
            r["concurrency"],
            r["ops"],
            r["seconds"],
            f"{r['ops_per_s']:,.0f}",
            r["p50_ms"],
            r["p99_ms"],
            r["errors"],
            r["cpu_cores"].get("leader", NAN),
            _namenodes_cpu(r),
        )
        for r in run["rows"]
    ]
    head = (
        "operation",
        "conc",
        "ops",
        "s",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "leader",
        "all NN",
    )
    return f"{run['label']}:\n" + table(head, rows)


def _namenodes_cpu(row: dict) -> float:
    """CPU cores used by all NameNode processes together during the phase."""
    return sum(v for k, v in row["cpu_cores"].items() if k != "load generator")


def _after_election(fo: dict) -> tuple[float, float]:
    """Median and max of gap minus election time (older results lack the fields)."""
    waits = sorted(r["gap_s"] - r["elected_s"] for r in fo["per_kill"])
    n = len(waits)
    mid = waits[n // 2] if n % 2 else (waits[n // 2 - 1] + waits[n // 2]) / 2
    return mid, waits[-1]


def failover_console(fo: dict) -> str:
    after_median, after_max = _after_election(fo)
    rows = [
        (r["kill"], r["killed"], r["new_leader"], r["elected_s"], r["gap_s"], r["rejoin_s"])
        for r in fo["per_kill"]
    ]
    head = ("kill", "killed", "new leader", "elected s", "gap s", "rejoin s")
    return (
        table(head, rows, "rllrrr")
        + f"\ngap median {fo['gap_median_s']:.3f} s, max {fo['gap_max_s']:.3f} s; "
        f"election median {fo['election_median_s']:.3f} s; after the election median "
        f"{after_median:.3f} s, max {after_max:.3f} s; "
        f"probe writes {fo['writes']}, "
        f"errors {fo['errors']}, acknowledged writes lost {fo['lost_acknowledged']}"
    )


def scale_console(sc: dict) -> str:
    return table(("figure", "value"), _scale_rows(sc), "ll") + "\n" + footprint.console(sc)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _scale_rows(sc: dict) -> list[tuple[str, str]]:
    g, cp, rs = sc["generate"], sc["checkpoint"], sc["raft_snapshot"]
    fr, gr = sc["follower_restart"], sc["group_restart"]
    dumps = [v for v in rs["dump_seconds"].values() if v is not None]
    rss = [m["rss_mib"] for m in sc["memory"].values()]
    peak = [m["peak_rss_mib"] for m in sc["memory"].values()]
    return [
        ("files", f"{sc['files']:,} in {g['directories']:,} directories"),
        ("build (state machine + bulk clone)", f"{g['seconds']:.1f} s ({g['files_per_s']:,.0f}/s)"),
        ("database size", _mib(g["db_bytes"])),
        ("group cold start (3 NameNodes)", f"{sc['cold_start_s']:.2f} s"),
        (
            "resident memory per NameNode",
            f"{min(rss):.0f}-{max(rss):.0f} MiB (peak {max(peak):.0f})",
        ),
        *footprint.rows(footprint.per_file(sc)),
        ("image (Checkpoint RPC on the leader)", f"{cp['seconds']:.2f} s"),
        ("image size", _mib(cp["image_bytes"])),
        ("election during the image", "yes" if cp["election"] else "no"),
        ("slowest probe write during the image", f"{cp['probe_max_ms']:.0f} ms"),
        ("Raft snapshot (all replicas at once)", f"{max(dumps, default=NAN):.2f} s (slowest)"),
        ("Raft snapshot size", _mib(max(rs["dump_bytes"].values()))),
        ("election during the snapshot", "yes" if rs["election"] else "no"),
        ("slowest probe write during the snapshot", f"{rs['probe_max_ms']:.0f} ms"),
        ("follower restart: health SERVING", f"{fr['serving_s']:.2f} s"),
        ("follower restart: stat answered", f"{fr['stat_answered_s']:.2f} s ({fr['stat_answer']})"),
        ("follower restart: caught-up member", f"{fr['caught_up_s']:.2f} s"),
        ("group restart: all SERVING", f"{gr['serving_s']:.2f} s"),
        ("group restart: first stat answered", f"{gr['first_stat_s']:.2f} s"),
    ]


def targets_console(result: dict) -> str:
    """The end of a run: the summary table (``benchmarks.summary``) and any failure."""
    out = summary.console(result)
    for name, error in result.get("errors", {}).items():
        out += f"\n{name} FAILED: {error}"
    return out


# ---- docs/benchmarks.md ------------------------------------------------------------------


def _f(v: float, digits: int = 2) -> str:
    if v != v:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.{digits}f}"


def markdown(result: dict) -> str:
    m = result["machine"]
    mode = "QUICK (`make bench QUICK=1`)" if result["quick"] else "full (`make bench`)"
    secs = result["seconds"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks`) from "
        "`benchmarks/results/`; do not edit by hand.",
        "",
        f"- {'Runs merged, first' if result.get('runs') else 'Run'} {result['date']}, "
        f"mode {mode}; took {secs.get('total', 0):.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in secs.items() if k != 'total')}).",
        *(
            f"- {run['date']}: {', '.join(run['benchmarks'])} (`benchmarks/results/{run['file']}`)."
            for run in result.get("runs", [])
        ),
        f"- {m['cpus']} CPUs, Python {m['python']}, {m['platform']}.",
        f"- {result['setup']}.",
        f"- Load average before {m['load_average_before']}, after "
        f"{m.get('load_average_after', '-')}: the machine is shared with other engineers' "
        "test runs, so figures vary from run to run.",
        "",
        "## Targets (issue 9)",
        "",
        SUMMARY_PREFACE,
        "",
    ]
    lines += summary.markdown(result)
    lines += report_etcd.markdown(result)
    for name, error in result.get("errors", {}).items():
        lines += ["", f"**{name} failed:** `{error}`"]
    lines += plots.markdown(result)
    if result.get("metadata"):
        lines += _metadata_md(result["metadata"])
    lines += raftceiling.markdown(result)
    if result.get("failover"):
        lines += _failover_md(result["failover"])
    if result.get("scale"):
        lines += _scale_md(result["scale"])
    lines += report_data.markdown(result)
    if result.get("federation"):
        lines += federation.markdown(result["federation"])
    lines += scaling.markdown(result)
    return "\n".join(lines) + "\n"


def _metadata_md(md: dict) -> list[str]:
    lines = [
        "",
        "## Namespace operations (NNThroughputBenchmark style)",
        "",
        "`C` concurrent clients (each its own client id, all in one `grpc.aio` event loop) "
        "run one operation for `T` seconds against the leader; `rename` and `delete` stop "
        "early when they run out of the files `create` made, so each row gives its own "
        "operation count and duration. `create` is create + complete (two calls, one "
        "operation); `stat` is a linearizable read (it waits for a committed barrier); "
        "`list` reads 100 entries. ops/s, p50 and p99 are medians over the rounds. "
        "CPU columns: cores used during the phase by the leader process and by all "
        "NameNode processes together (the machine has 2; the load generator and other "
        "engineers' tests use the rest; ~1.0 in one process is about what the Python GIL "
        "allows, gRPC's C threads aside).",
    ]
    for run in md["runs"]:
        lines += [
            "",
            f"### {run['label']}",
            "",
            f"{run['seconds_per_phase']:g} s per phase, {run['repeats']} round(s).",
        ]
        if run.get("raft"):
            lines[-1] += " Raft: " + ", ".join(f"`{k}={v}`" for k, v in run["raft"].items()) + "."
        lines.append("")
        lines += md_table(
            [
                "operation",
                "C",
                "ops",
                "s",
                "ops/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "leader cpu",
                "all NN cpu",
            ],
            [
                [
                    r["operation"],
                    r["concurrency"],
                    r["ops"],
                    f"{r['seconds']:.1f}",
                    f"{r['ops_per_s']:,.0f}",
                    _f(r["p50_ms"]),
                    _f(r["p99_ms"]),
                    r["errors"],
                    _f(r["cpu_cores"].get("leader", NAN)),
                    _f(_namenodes_cpu(r)),
                ]
                for r in run["rows"]
            ],
        )
    return lines


def _failover_md(fo: dict) -> list[str]:
    after_median, after_max = _after_election(fo)
    lines = [
        "",
        "## Failover gap",
        "",
        f"A probe writes (`mkdir` of a new path through the `Client`, whose retry policy "
        f"follows leader hints and rotates past dead nodes) every {fo['interval_ms']:.0f} ms; "
        f"the leader is SIGKILLed {fo['kills']} times. The gap is the time from SIGKILL to "
        "the first write acknowledged by another NameNode; `elected` is when a survivor "
        "first reports itself active in a higher term (polled every ~10 ms). After each "
        "kill the node is restarted and the next kill waits until it is a healthy member "
        "again (serving, following the leader, caught up, seen as reachable by the leader).",
        "",
        f"- gap: median **{fo['gap_median_s']:.3f} s**, max **{fo['gap_max_s']:.3f} s**, "
        f"min {fo['gap_min_s']:.3f} s; election median {fo['election_median_s']:.3f} s; "
        f"from the election to the first acknowledged write (the client's retry backoff "
        f"and re-routing) median {after_median:.3f} s, max {after_max:.3f} s.",
        f"- probe: {fo['writes']} writes, {fo['errors']} errors, "
        f"{fo['lost_acknowledged']} acknowledged writes missing afterwards.",
        f"- restarted node back as a healthy member: median {fo['rejoin_median_s']:.2f} s, "
        f"max {fo['rejoin_max_s']:.2f} s.",
    ]
    if fo.get("error_samples"):
        lines.append(f"- probe errors: {'; '.join(f'`{e}`' for e in fo['error_samples'])}")
    if fo.get("raft"):
        lines.append("- Raft: " + ", ".join(f"`{k}={v}`" for k, v in fo["raft"].items()) + ".")
    lines.append("")
    lines += md_table(
        ["kill", "killed", "new leader", "term", "elected s", "gap s", "rejoin s"],
        [
            [
                r["kill"],
                r["killed"],
                r["new_leader"],
                f"{r['old_term']} → {r['new_term']}",
                f"{r['elected_s']:.3f}",
                f"{r['gap_s']:.3f}",
                f"{r['rejoin_s']:.2f}",
            ]
            for r in fo["per_kill"]
        ],
        "rlllrrr",
    )
    return lines


def _scale_md(sc: dict) -> list[str]:
    lines = [
        "",
        "## Image and restart at scale",
        "",
        f"{sc['files']:,} closed, empty files in 3 NameNodes' state. The root, the "
        "directories and the first directory's files are applied through the replicated "
        "state machine (one log entry per directory); the other directories get the rows "
        "applying their entries would write, cloned in bulk (checked against the state "
        "machine on a small namespace, table by table, on every run). Each node starts from "
        "that database plus a Raft snapshot written by the replica's own serializer. A probe "
        "writes every 10 ms during the image and the snapshot; an election would show as a "
        "higher term or another leader. A follower answers a stat with NOT_LEADER and the "
        "leader's address: that is its serving answer.",
        "",
    ]
    lines += md_table(["figure", "value"], [list(r) for r in _scale_rows(sc)], "ll")
    lines += [
        "",
        "Resident memory (VmRSS / VmHWM, MiB) per NameNode: "
        + ", ".join(
            f"{k} {v['rss_mib']:.0f} / {v['peak_rss_mib']:.0f}" for k, v in sc["memory"].items()
        )
        + ".",
        "",
        footprint.verdict(footprint.per_file(sc)),
    ]
    return lines
