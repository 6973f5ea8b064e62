"""The chaos run's report: a page a person can read, and the same facts as JSON.

``text(result)`` gives, in order: the seed (and how to replay it), faults by
type, operations ok/failed/unknown per workload, elections (median and max
time to a new leader), the longest windows with no successful write and no
successful read, re-replication times, bytes and replicas verified, then each
checker's verdict with a short excerpt of any violation. ``to_json(result)``
is the machine-readable form written by ``--json``.

Imports: the standard library and ``chaos`` (runner types, checkers).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from chaos.runner import RunResult

MiB = 1 << 20


def to_json(result: RunResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "seed": result.seed,
        "config": result.config,
        "directory": result.directory,
        "started": result.started,
        "duration_s": result.duration,
        "faults": [e.to_json() for e in result.faults],
        "faults_by_type": faults_by_type(result),
        "unavailable_faults": result.unavailable,
        "operations": result.counts,
        "stats": result.stats,
        "verdicts": [v.to_json() for v in result.verdicts],
    }


def write_json(result: RunResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_json(result), indent=2, default=str) + "\n")


def faults_by_type(result: RunResult) -> dict[str, dict[str, int]]:
    injected = Counter(e.kind for e in result.faults if not e.skipped)
    skipped = Counter(e.kind for e in result.faults if e.skipped)
    kinds = sorted(set(injected) | set(skipped))
    return {k: {"injected": injected[k], "skipped": skipped[k]} for k in kinds}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def text(result: RunResult) -> str:
    s = result.stats
    lines = [
        f"hafs chaos run: {'PASS' if result.ok else 'FAIL'}",
        f"  seed {result.seed}  (replay: hactl chaos run --seed {result.seed} "
        f"--duration {result.config['duration_s']:.0f} "
        f"--nameservices {result.config['nameservices']})",
        f"  {result.duration:.0f} s; {result.config['nameservices']} nameservice(s) of "
        f"{result.config['namenodes']} NameNodes, {result.config['datanodes']} DataNodes; "
        f"network namespaces {'on' if result.config['network'] else 'off'}, "
        f"tmpfs disks {'on' if result.config['disks'] else 'off'}",
        f"  directory {result.directory}",
        "",
        "Faults",
    ]
    by_type = faults_by_type(result)
    total = sum(v["injected"] for v in by_type.values())
    for kind, n in by_type.items():
        extra = f"  ({n['skipped']} skipped)" if n["skipped"] else ""
        lines.append(f"  {kind:<22} {n['injected']:>4}{extra}")
    lines.append(f"  {'total injected':<22} {total:>4}")
    for kind, why in sorted(result.unavailable.items()):
        lines.append(f"  {kind:<22}  unavailable: {why}")
    lines += ["", "Operations           ok   failed  unknown"]
    errors = s.get("errors", {})
    for kind, c in sorted(result.counts.items()):
        lines.append(f"  {kind:<14} {c['ok']:>8} {c['fail']:>8} {c['unknown']:>8}")
        for outcome, names in sorted(errors.get(kind, {}).items()):
            why = ", ".join(f"{n} {name}" for name, n in sorted(names.items(), key=lambda i: -i[1]))
            lines.append(f"      {outcome}: {why}")
    e = s.get("elections", {})
    repairs = s.get("repair_times_s", [])
    lines += [
        "",
        "Availability",
        f"  elections              {e.get('count', 0)} (unresolved {e.get('unresolved', 0)}); "
        f"to a new leader: median {_seconds(e.get('median_s'))}, max {_seconds(e.get('max_s'))}",
        f"  longest with no write  {_seconds(s.get('longest_without_write_s'))}",
        f"  longest with no read   {_seconds(s.get('longest_without_read_s'))}",
        "  re-replication         "
        + (
            f"{len(repairs)} repairs, median {statistics.median(repairs):.1f} s, "
            f"max {max(repairs):.1f} s"
            if repairs
            else "no repair episode seen"
        ),
        f"  verified               {s.get('files_verified', 0)} files, "
        f"{s.get('replicas_verified', 0)} replicas, "
        f"{s.get('bytes_verified', 0) / MiB:.1f} MiB",
        "",
        "Checkers",
    ]
    for verdict in result.verdicts:
        lines.append("  " + str(verdict).replace("\n", "\n  "))
    if s.get("stuck_workers"):
        lines.append(f"  (workers still in a call at the end: {', '.join(s['stuck_workers'])})")
    return "\n".join(lines)
