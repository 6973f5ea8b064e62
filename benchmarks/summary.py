"""The summary table: every performance target, hafs beside the peer or ceiling it is
measured against in the same run, the ratio, and whether the target is met.

One table serves the console, ``docs/benchmarks.md`` and the README (between the
``<!-- bench-summary -->`` markers, rewritten by ``make bench``), so the three never
disagree. The targets:

| figure | target |
|---|---|
| creates (create + complete), 64 in flight | >= 1.0x etcd puts, 64 in flight |
| linearizable stats, 64 in flight | >= 1.0x etcd linearizable gets, 64 in flight |
| sequential create p50 | <= etcd sequential put p50 |
| failover gap after SIGKILL of the leader | median <= 1.0 s, max <= 2.5 s |
| get, replication 3 | >= 0.6x a raw gRPC stream |
| put, replication 1 | >= 0.5x a raw gRPC stream |
| restart at 1M files | serving <= 10 s |
| NameNode memory | <= 1 KiB RSS per file per replica, or bounded by SQLite |

Context rows (no target) put hafs beside the raw ceilings: raw pysyncobj writes (the
Raft library) and local ``cp`` (the disk). A figure not measured says so; a ratio of
two figures from different runs (a merged document) is not shown.

Imports: the report modules of the peers and the data path, and ``footprint``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmarks import footprint, raftceiling, report_data, report_etcd
from benchmarks.common import md_table, table

NOT_MEASURED = report_etcd.NOT_MEASURED
BEGIN, END = "<!-- bench-summary -->", "<!-- /bench-summary -->"
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Line:
    figure: str
    hafs: str
    other: str  # the peer's or ceiling's figure, named
    ratio: str
    target: str
    met: bool | None  # None: no target, or not measured


def _context(figure: str, hafs: str, other: str, ratio: str) -> Line:
    """A row beside a ceiling, with no target of its own."""
    return Line(figure, hafs, other, ratio, "", None)


def _met(value: bool | None) -> str:
    return {True: "met", False: "NOT met", None: ""}[value]


def _etcd_lines(result: dict) -> list[Line]:
    by_name = {c["name"]: c for c in report_etcd.comparison(result)}
    out = []
    for name, figure, target in (
        ("creates vs puts, 64 in flight", "creates (create + complete), 64 in flight", ">= 1.0x"),
        (
            "linearizable stats vs gets, 64 in flight",
            "linearizable stats, 64 in flight",
            ">= 1.0x",
        ),
        ("sequential create vs put, p50", "sequential create p50", "<= 1.0x"),
    ):
        c = by_name[name]
        out.append(
            Line(
                figure,
                report_etcd.value_text(c["hafs"], c["unit"]),
                "etcd " + report_etcd.value_text(c["etcd"], c["unit"]),
                report_etcd.ratio_text(c),
                target + " etcd",
                c["met"],
            )
        )
    for timing in ("default", "tuned"):
        median = by_name[f"failover gap median (etcd {timing} timing)"]
        top = by_name[f"failover gap max (etcd {timing} timing)"]
        hafs = f"{_s(median['hafs'])} / {_s(top['hafs'])}"
        other = f"etcd {timing}: {_s(median['etcd'])} / {_s(top['etcd'])}"
        if timing == "default":
            checks = [median["met"], top["met"]]
            met = None if None in checks else all(checks)
            out.append(
                Line(
                    "failover gap after SIGKILL of the leader, median / max",
                    hafs,
                    other,
                    report_etcd.ratio_text(median),
                    "<= 1.0 s / <= 2.5 s",
                    met,
                )
            )
        else:
            out.append(
                Line(
                    "the same, beside etcd with tuned timing",
                    hafs,
                    other,
                    report_etcd.ratio_text(median),
                    "",
                    None,
                )
            )
    return out


def _s(v: float | None) -> str:
    return NOT_MEASURED if v is None or v != v else f"{v:.2f} s"


def _data_lines(result: dict) -> list[Line]:
    dp = result.get("datapath")
    out = []
    for t, mine, ceiling, figure in zip(
        report_data.targets(result),
        ("get r3", "put r1"),
        ("grpc download", "grpc upload"),
        ("get, replication 3", "put, replication 1"),
        strict=True,
    ):
        if dp is None:
            out.append(Line(figure, NOT_MEASURED, NOT_MEASURED, "-", t["target"], None))
            continue
        fig = dp["figures"]
        out.append(
            Line(
                figure,
                f"{fig[mine]['mib_per_s']:,.0f} MiB/s",
                f"raw gRPC {fig[ceiling]['mib_per_s']:,.0f} MiB/s",
                f"{t['measured']:.2f}x",
                t["target"] + " raw gRPC",
                t["met"],
            )
        )
    if dp is not None and "cp + sync" in dp["figures"] and "put r1" in dp["figures"]:
        cp = dp["figures"]["cp + sync"]["mib_per_s"]
        put = dp["figures"]["put r1"]["mib_per_s"]
        out.append(
            _context(
                "put, replication 1, beside the disk",
                f"{put:,.0f} MiB/s",
                f"local cp + sync {cp:,.0f} MiB/s",
                f"{put / cp:.2f}x",
            )
        )
    return out


def _scale_lines(result: dict) -> list[Line]:
    sc = result.get("scale")
    if not sc:
        return [
            Line("restart at 1M files, to serving", NOT_MEASURED, "", "-", "<= 10 s", None),
            Line(
                "NameNode memory per file per replica",
                NOT_MEASURED,
                "",
                "-",
                "<= 1 KiB, or bounded by SQLite",
                None,
            ),
        ]
    files = f"{sc['files']:,} files"
    replica = sc["follower_restart"]["caught_up_s"]
    group = sc["group_restart"]["first_stat_s"]
    full = sc["files"] >= 1_000_000
    restart_met = (max(replica, group) <= 10) if full else None
    mem = footprint.per_file(sc)
    return [
        Line(
            f"restart at {files}: a replica / the whole group, to serving",
            f"{replica:.2f} s / {group:.2f} s",
            "",
            "-",
            "<= 10 s" + ("" if full else " (at 1M files; this run had fewer)"),
            restart_met,
        ),
        Line(
            "NameNode memory per file per replica",
            f"{mem['peak_bytes_per_file']:,.0f} B (peak RSS {mem['peak_bytes'] / MiB:,.0f} MiB)",
            f"SQLite {mem['db_bytes_per_file']:,.0f} B/file on disk",
            "-",
            "<= 1 KiB, or bounded by SQLite",
            mem["target_met"] or mem["bound"] == "sqlite",
        ),
    ]


def _ceiling_lines(result: dict) -> list[Line]:
    found = raftceiling.ratios(result)
    rc = result.get("raftceiling")
    raw = raftceiling.raw_row(rc, 64) if rc else None
    out = []
    for op, label in (("mkdir", "mkdir, 64 in flight"), ("create", "creates, 64 in flight")):
        if op not in found or raw is None:
            continue
        mine = raftceiling.hafs_row(result, op, 64)
        out.append(
            _context(
                label,
                f"{mine['ops_per_s']:,.0f}/s",
                f"raw pysyncobj {raw['ops_per_s']:,.0f}/s",
                f"{found[op]:.2f}x",
            )
        )
    return out


def _rereplication_lines(result: dict) -> list[Line]:
    rr = result.get("rereplication")
    out = []
    for run in (rr or {}).get("runs", []):
        held = run["victim_bytes"] / MiB
        out.append(
            Line(
                f"DataNode SIGKILLed holding {held:,.0f} MiB: back to 3 replicas",
                f"{run['healthy_s']:.1f} s",
                f"of which {run['dead_s']:.1f} s to declare it dead (dev setting)",
                "-",
                "",
                None,
            )
        )
    return out


def lines(result: dict) -> list[Line]:
    return (
        _etcd_lines(result)
        + _ceiling_lines(result)
        + _data_lines(result)
        + _rereplication_lines(result)
        + _scale_lines(result)
    )


HEAD = ["figure", "hafs", "peer or ceiling, same run", "ratio", "target", ""]


def _cells(result: dict) -> list[list[str]]:
    return [[x.figure, x.hafs, x.other, x.ratio, x.target, _met(x.met)] for x in lines(result)]


def console(result: dict) -> str:
    return "targets (issue 9):\n" + table(HEAD, _cells(result), "lrrrll")


def markdown(result: dict) -> list[str]:
    return md_table(HEAD, _cells(result), "lrrrll")


def replace_in(readme: Path, result: dict, preface: str) -> bool:
    """Rewrite the README's table between the markers; False if it has no markers."""
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return False
    block = "\n".join([BEGIN, preface, "", *markdown(result), END])
    readme.write_text(pattern.sub(lambda _m: block, text, count=1))
    return True
