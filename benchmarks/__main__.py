"""``python -m benchmarks [--quick]`` (``make bench``, ``make bench QUICK=1``).

Runs these benchmarks, each against fresh NameNode (and DataNode) processes on
127.0.0.1, and its peer etcd in the same run:

- ``metadata``: namespace operations at concurrency 1, 16 and 64, on a
  3-NameNode Raft group and, for reference, on a single NameNode;
- ``raftceiling``: raw pysyncobj (3 processes, hafs's settings, a trivial state
  machine) at 1, 16 and 64 writes in flight: the ceiling of our Raft library;
- ``failover``: the write pause when the leader is SIGKILLed (20 times; 5 quick);
- ``scale``: image, snapshot and restart with 1,000,000 files (100,000 quick);
- ``datapath``: one client's put and get of a 1 GiB file (256 MiB quick) at
  replication 3 and 1, beside a raw gRPC stream and ``cp``;
- ``rereplication``: the time to copy a SIGKILLed DataNode's replicas again,
  with 256 MiB, 1 GiB and 4 GiB written (64 and 256 MiB quick);
- ``federation``: one, then two nameservices under the same load;
- ``etcd``: etcd 3.4, 3 members: puts and linearizable gets at concurrency 1, 16
  and 64, and its failover gap with default and tuned timing (20 kills each; 5
  quick); "missing" when etcd is not installed (``benchmarks/install_peers.sh``).

Prints a table per benchmark, writes everything to one JSON file
(``benchmarks/results/<date>[-quick].json``) and regenerates
``docs/benchmarks.md`` and its plots (``docs/benchmarks/*.png``) from it. A
run of a subset (``--only``) writes ``<date>[-quick]-<names>.json`` instead
and leaves the docs alone. A benchmark that fails (or a part of one: its
result's ``failures``) is recorded with its error; the others still run, and
the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import (
    datapath,
    failover,
    federation,
    metadata,
    plots,
    raftceiling,
    report,
    report_data,
    report_etcd,
    rereplication,
    scale,
    summary,
)
from benchmarks.common import load_average, raft_settings, running
from benchmarks.peers import etcd
from chaos.cluster import LocalCluster

RESULTS = Path(__file__).resolve().parent / "results"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
README = DOC.parents[1] / "README.md"  # its summary table, between bench-summary markers
PLOTS = DOC.parent / "benchmarks"  # PNGs that docs/benchmarks.md shows
BENCHMARKS = (
    "metadata",
    "raftceiling",
    "failover",
    "scale",
    "datapath",
    "rereplication",
    "federation",
    "etcd",
)
MiB = 1 << 20


def settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "seconds": 1.5,
            "repeats": 1,
            "single_seconds": 1.0,
            "single_repeats": 1,
            "kills": 5,
            "files": 100_000,
            "datapath_bytes": 256 * MiB,
            "datapath_runs": 2,
            "rereplication_bytes": [64 * MiB, 256 * MiB],
            "federation_seconds": 1.5,
            "federation_repeats": 1,
            "raftceiling_seconds": 1.0,
            "raftceiling_rounds": 3,
            "etcd_seconds": 1.0,
            "etcd_repeats": 2,
        }
    return {
        "seconds": 5.0,
        "repeats": 3,
        "single_seconds": 5.0,
        "single_repeats": 1,
        "kills": 20,
        "files": 1_000_000,
        "datapath_bytes": 1024 * MiB,
        "datapath_runs": 3,
        "rereplication_bytes": [256 * MiB, 1024 * MiB, 4096 * MiB],
        "federation_seconds": 5.0,
        "federation_repeats": 3,
        "raftceiling_seconds": 3.0,
        "raftceiling_rounds": 5,
        "etcd_seconds": 5.0,
        "etcd_repeats": 3,
    }


def run_metadata(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": "time-bounded",
        "concurrencies": [1, 16, 64],
        "runs": [],
    }
    for namenodes, seconds, repeats in (
        (3, cfg["seconds"], cfg["repeats"]),
        (1, cfg["single_seconds"], cfg["single_repeats"]),
    ):
        log(f"metadata: {namenodes} NameNode(s), {seconds:g} s per phase, {repeats} round(s)")
        cluster = LocalCluster(
            tmp / f"metadata-{namenodes}", namenodes=namenodes, namespace={"trash_interval_s": 0}
        )
        with running(cluster):
            leader = cluster.wait_leader(30)
            pids = {
                ("leader" if n is leader else f"follower-{n.node_id}"): n.process.pid
                for n in cluster.nodes
                if n.process is not None
            }
            pids["load generator"] = os.getpid()
            rows = metadata.run(
                leader.address, seconds, (1, 16, 64), repeats, f"nn{namenodes}", pids
            )
            out["runs"].append(
                {
                    "namenodes": namenodes,
                    "label": "3 NameNodes (Raft group)"
                    if namenodes > 1
                    else "1 NameNode (no Raft)",
                    "seconds_per_phase": seconds,
                    "repeats": repeats,
                    "raft": raft_settings(cluster) if namenodes > 1 else {},
                    "rows": rows,
                }
            )
        log(report.metadata_console(out["runs"][-1]))
    return out


def run_raftceiling(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    seconds, rounds = cfg["raftceiling_seconds"], cfg["raftceiling_rounds"]
    log(f"raftceiling: raw pysyncobj, 3 processes, {seconds:g} s per phase, {rounds} round(s)")
    out = raftceiling.run(tmp / "raftceiling", seconds, rounds, log=log)
    log(raftceiling.console({"raftceiling": out}))
    return out


def run_failover(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    log(f"failover: {cfg['kills']} SIGKILLs of the leader, probe every 10 ms")
    cluster = LocalCluster(tmp / "failover", namenodes=3, namespace={"trash_interval_s": 0})
    with running(cluster):
        out = failover.run(cluster, cfg["kills"], log=log)
        out["raft"] = raft_settings(cluster)
    log(report.failover_console(out))
    return out


def run_scale(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    log(f"scale: {cfg['files']:,} files on 3 NameNodes")
    out = scale.run(tmp / "scale", cfg["files"], log=log)
    log(report.scale_console(out))
    return out


def run_datapath(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    size, runs = cfg["datapath_bytes"], cfg["datapath_runs"]
    log(f"datapath: {size / MiB:,.0f} MiB, 3 NameNodes + 3 DataNodes, {runs} round(s)")
    base = tmp / "datapath"
    cluster = LocalCluster(
        base / "cluster", namenodes=3, datanodes=3, namespace={"trash_interval_s": 0}
    )
    try:
        with running(cluster):
            out = datapath.run(cluster, base / "local", size, runs, log=log)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    log(report_data.datapath_console(out))
    return out


def run_rereplication(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    sizes = cfg["rereplication_bytes"]
    log(f"rereplication: {', '.join(f'{s / MiB:,.0f}' for s in sizes)} MiB, 4 DataNodes")
    out = rereplication.run(tmp / "rereplication", sizes, log=log)
    log(report_data.rereplication_console(out))
    return out


def run_federation(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    seconds, repeats = cfg["federation_seconds"], cfg["federation_repeats"]
    log(f"federation: 1 then 2 groups of 3 NameNodes, c=64 each, {seconds:g} s phases")
    out = federation.run(tmp / "federation", seconds, 64, repeats, log=log)
    log(federation.console(out))
    return out


def run_etcd(tmp: Path, cfg: dict[str, Any], log) -> dict[str, Any]:
    out = etcd.run(tmp / "etcd", cfg["etcd_seconds"], cfg["etcd_repeats"], cfg["kills"], log=log)
    log(report_etcd.etcd_console(out))
    return out


RUNNERS = {
    "metadata": run_metadata,
    "raftceiling": run_raftceiling,
    "failover": run_failover,
    "scale": run_scale,
    "datapath": run_datapath,
    "rereplication": run_rereplication,
    "federation": run_federation,
    "etcd": run_etcd,
}


def merge(files: list[Path]) -> dict[str, Any]:
    """One result from several runs: the first file's header, each benchmark (with its
    settings and time) from the last file that has it; ``runs`` names the sources."""
    result: dict[str, Any] = {}
    runs = []
    for path in files:
        part = json.loads(path.read_text())
        if not result:
            result = {**part, "settings": dict(part["settings"]), "seconds": {}, "errors": {}}
        found = [name for name in BENCHMARKS if name in part]
        for name in found:
            result[name] = part[name]
            result["seconds"][name] = part["seconds"].get(name, 0)
            for failed, error in part.get("errors", {}).items():
                if failed == name or failed.startswith(f"{name} "):  # "etcd failover-tuned"
                    result["errors"][failed] = error
        result["settings"].update(part["settings"])
        runs.append({"file": path.name, "date": part["date"], "benchmarks": found})
    result["seconds"]["total"] = sum(result["seconds"].values())
    result["runs"] = runs
    return result


def write_doc(result: dict[str, Any]) -> None:
    """docs/benchmarks.md and its plots (docs/benchmarks/*.png) from ``result``."""
    for path in plots.write(result, PLOTS):
        print(f"wrote {path}", file=sys.stderr)
    DOC.write_text(report.markdown(result))
    print(f"wrote {DOC}", file=sys.stderr)
    if summary.replace_in(README, result, report.SUMMARY_PREFACE):
        print(f"wrote the summary table in {README}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter phases; fewer kills, files and bytes"
    )
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON path (docs not regenerated)")
    parser.add_argument(
        "--no-doc", action="store_true", help="do not regenerate docs/benchmarks.md"
    )
    parser.add_argument(
        "--doc-from",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="regenerate docs/benchmarks.md from these result files (each benchmark from "
        "the last file that has it) and run nothing",
    )
    parser.add_argument("--seconds", type=float, help="seconds per metadata phase")
    parser.add_argument("--kills", type=int, help="leader kills in the failover benchmark")
    parser.add_argument("--files", type=int, help="files in the scale benchmark")
    args = parser.parse_args(argv)
    if args.doc_from:
        write_doc(merge(args.doc_from))
        return 0
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    cfg = settings(args.quick)
    for key in ("seconds", "kills", "files"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
            if key == "seconds":
                cfg["single_seconds"] = cfg["etcd_seconds"] = args.seconds

    def log(text: str) -> None:
        print(text, flush=True)

    stamp = datetime.datetime.now(datetime.UTC)
    result: dict[str, Any] = {
        "date": stamp.isoformat(timespec="seconds"),
        "quick": args.quick,
        "settings": cfg,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": load_average(),
            "shared": "other engineers' test suites may run on this machine at the same time",
        },
        "setup": "NameNode (and DataNode) processes on 127.0.0.1, SQLite synchronous=FULL, "
        "load generator on the same host",
        "seconds": {},
        "errors": {},
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hafs-bench-") as tmp:
        for name in chosen:
            t0 = time.monotonic()
            try:
                result[name] = RUNNERS[name](Path(tmp), cfg, log)
                for part, error in result[name].get("failures", {}).items():
                    result["errors"][f"{name} {part}"] = error
            except Exception as exc:  # recorded; the other benchmarks still run
                traceback.print_exc()
                result["errors"][name] = f"{type(exc).__name__}: {exc}"
            result["seconds"][name] = round(time.monotonic() - t0, 1)
            log(f"{name}: {result['seconds'][name]:.0f} s\n")
    result["seconds"]["total"] = round(time.monotonic() - started, 1)
    result["machine"]["load_average_after"] = load_average()
    log(report.targets_console(result))
    suffix = "-quick" if args.quick else ""
    if set(chosen) != set(BENCHMARKS):  # a subset never overwrites the day's full file
        suffix += "-" + "-".join(chosen)
    out = args.out or RESULTS / f"{stamp:%Y-%m-%d}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    if args.out is None and not args.no_doc and set(chosen) == set(BENCHMARKS):
        write_doc(result)
    print(f"total {result['seconds']['total']:.0f} s", file=sys.stderr)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
