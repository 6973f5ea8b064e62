"""Console tables and ``docs/benchmarks.md`` sections for etcd, and hafs against it.

The ``etcd`` result (``benchmarks.peers.etcd``) and the comparison the issue "Peers in
the same run" asks for: hafs (3 NameNodes) over etcd (3 members), each a ratio of two
figures of **one** run:

- creates with 64 in flight (create + complete) >= 1.0x etcd puts with 64 in flight;
- linearizable stats with 64 in flight >= 1.0x etcd linearizable gets with 64 in flight;
- sequential create p50 <= 1.0x etcd sequential put p50 (concurrency 1);
- failover gap median <= 1.0 s and max <= 2.5 s, beside etcd's with default and tuned
  timing.

A figure not measured says so ("not measured": not run, failed, or etcd not installed);
nothing is quoted in its place. In a merged document (``--doc-from``) a ratio of
figures from two different runs is not shown. ``benchmarks.report`` calls in here; this
module imports only ``benchmarks.common``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import md_table, table

NOT_MEASURED = "not measured"


# ---- picking figures ------------------------------------------------------------------


def _pick(rows: list[dict], op: str, concurrency: int) -> dict | None:
    return next((r for r in rows if r["operation"] == op and r["concurrency"] == concurrency), None)


def hafs_row(result: dict, op: str, concurrency: int) -> dict | None:
    """The 3-NameNode metadata row of ``op`` at ``concurrency``."""
    runs = (result.get("metadata") or {}).get("runs", [])
    run = next((r for r in runs if r["namenodes"] == 3), None)
    return _pick(run["rows"], op, concurrency) if run else None


def etcd_row(result: dict, op: str, concurrency: int) -> dict | None:
    return _pick(measured(result).get("rows", []), op, concurrency)


def measured(result: dict) -> dict:
    """The etcd result when it holds measurements, else {}."""
    et = result.get("etcd") or {}
    return {} if "missing" in et else et


def etcd_state(result: dict) -> str:
    """Why etcd figures are (not) there: "measured", "missing: ...", "not run", "failed: ..."."""
    et = result.get("etcd")
    if et is None:
        error = result.get("errors", {}).get("etcd")
        return f"failed: {error}" if error else "not run"
    if "missing" in et:
        return f"missing: {et['missing']}"
    return "measured"


def etcd_failover(result: dict, timing: str) -> dict | None:
    return measured(result).get("failover", {}).get(timing)


def ratio(hafs: float | None, etcd: float | None) -> float | None:
    """hafs / etcd, or None when either is missing (or etcd's is 0)."""
    if hafs is None or etcd is None or etcd == 0 or hafs != hafs or etcd != etcd:
        return None
    return hafs / etcd


def same_run(result: dict, *names: str) -> bool:
    """Whether the benchmarks ``names`` come from one run (always, unless merged)."""
    runs = result.get("runs")
    if not runs:
        return True
    files = {next((r["file"] for r in reversed(runs) if n in r["benchmarks"]), None) for n in names}
    return len(files) == 1


# ---- the comparison -------------------------------------------------------------------


def comparison(result: dict) -> list[dict[str, Any]]:
    """One dict per compared figure: name, hafs, etcd (values, or None), unit, ratio
    (hafs/etcd, None unless both are of one run), goal, met (None: cannot tell)."""
    out: list[dict[str, Any]] = []

    def add(name, hafs, etcd, unit, benchmarks, goal="", check=None) -> None:
        r = ratio(hafs, etcd) if same_run(result, *benchmarks) else None
        met = None
        if check is not None:
            met = check(hafs, r)
        out.append(
            {
                "name": name,
                "hafs": hafs,
                "etcd": etcd,
                "unit": unit,
                "ratio": r,
                "goal": goal,
                "met": met,
                "same_run": same_run(result, *benchmarks),
            }
        )

    def at_least_1x(_hafs, r):
        return None if r is None else r >= 1.0

    def at_most_1x(_hafs, r):
        return None if r is None else r <= 1.0

    def value(row: dict | None, key: str) -> float | None:
        return row[key] if row else None

    meta = ("metadata", "etcd")
    add(
        "creates vs puts, 64 in flight",
        value(hafs_row(result, "create", 64), "ops_per_s"),
        value(etcd_row(result, "put", 64), "ops_per_s"),
        "/s",
        meta,
        ">= 1.0x",
        at_least_1x,
    )
    add(
        "linearizable stats vs gets, 64 in flight",
        value(hafs_row(result, "stat", 64), "ops_per_s"),
        value(etcd_row(result, "get", 64), "ops_per_s"),
        "/s",
        meta,
        ">= 1.0x",
        at_least_1x,
    )
    add(
        "sequential create vs put, p50",
        value(hafs_row(result, "create", 1), "p50_ms"),
        value(etcd_row(result, "put", 1), "p50_ms"),
        "ms",
        meta,
        "<= 1.0x",
        at_most_1x,
    )
    fo = result.get("failover")
    for timing in ("default", "tuned"):
        et = etcd_failover(result, timing)
        add(
            f"failover gap median (etcd {timing} timing)",
            fo["gap_median_s"] if fo else None,
            et["gap_median_s"] if et else None,
            "s",
            ("failover", "etcd"),
            "hafs <= 1.0 s" if timing == "default" else "",
            (lambda h, _r: None if h is None else h <= 1.0) if timing == "default" else None,
        )
        add(
            f"failover gap max (etcd {timing} timing)",
            fo["gap_max_s"] if fo else None,
            et["gap_max_s"] if et else None,
            "s",
            ("failover", "etcd"),
            "hafs <= 2.5 s" if timing == "default" else "",
            (lambda h, _r: None if h is None else h <= 2.5) if timing == "default" else None,
        )
    return out


def value_text(v: float | None, unit: str) -> str:
    if v is None or v != v:
        return NOT_MEASURED
    if unit == "/s":
        return f"{v:,.0f}/s"
    if unit == "ms":
        return f"{v:.2f} ms"
    return f"{v:.3f} s"


def ratio_text(c: dict) -> str:
    if c["ratio"] is not None:
        return f"{c['ratio']:.2f}x"
    if c["hafs"] is not None and c["etcd"] is not None and not c["same_run"]:
        return "- (different runs)"
    return "-"


def _met(c: dict) -> str:
    return {True: "met", False: "NOT met", None: "-"}[c["met"]]


def _comparison_cells(result: dict) -> list[list[str]]:
    return [
        [
            c["name"],
            value_text(c["hafs"], c["unit"]),
            value_text(c["etcd"], c["unit"]),
            ratio_text(c),
            c["goal"],
            _met(c),
        ]
        for c in comparison(result)
    ]


HEAD = ["", "hafs", "etcd", "hafs/etcd", "goal", ""]


# ---- the etcd benchmark itself ----------------------------------------------------------


def _rows(et: dict) -> list[list[Any]]:
    return [
        [
            r["operation"],
            r["concurrency"],
            r["ops"],
            f"{r['ops_per_s']:,.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            r["errors"],
            f"{r['cpu_cores'].get('leader', float('nan')):.2f}",
            f"{sum(v for k, v in r['cpu_cores'].items() if k != 'load generator'):.2f}",
        ]
        for r in et.get("rows", [])
    ]


ROW_HEAD = ["operation", "C", "ops", "ops/s", "p50 ms", "p99 ms", "errors", "leader", "all"]


def _failover_line(name: str, fo: dict) -> str:
    return (
        f"{name} timing (heartbeat {fo['heartbeat_ms']} ms, election timeout "
        f"{fo['election_ms']} ms), {fo['kills']} kills: gap median {fo['gap_median_s']:.3f} s, "
        f"max {fo['gap_max_s']:.3f} s, min {fo['gap_min_s']:.3f} s; election median "
        f"{fo['election_median_s']:.3f} s; rejoin median {fo['rejoin_median_s']:.2f} s; "
        f"probe writes {fo['writes']}, errors {fo['errors']}, acknowledged puts lost "
        f"{fo['lost_acknowledged']}"
    )


def etcd_console(et: dict) -> str:
    if "missing" in et:
        return f"etcd: missing ({et['missing']})"
    out = f"etcd {et['version']}, 3 members:\n" + table(ROW_HEAD, _rows(et))
    for name, fo in et.get("failover", {}).items():
        out += "\n" + _failover_line(name, fo)
    for part, error in et.get("failures", {}).items():
        out += f"\n{part} FAILED: {error}"
    return out


def _why_not(state: str) -> str:
    if state == "not run":
        return "the benchmark `etcd` was not part of this run"
    kind, _, detail = state.partition(": ")
    return detail if kind == "missing" else f"the benchmark failed (`{detail}`)"


def markdown(result: dict) -> list[str]:
    """The "hafs and etcd" section: the setup, the comparison, etcd's own figures."""
    et = result.get("etcd") or {}
    state = etcd_state(result)
    lines = ["", "## hafs and etcd, measured in the same run", ""]
    if state == "measured":
        tuned = et["timing"]["tuned"]
        probe = next(iter(et.get("failover", {}).values()), {})
        attempt_ms = probe.get("attempt_timeout_ms", float("nan"))
        wait_ms = probe.get("retry_wait_ms", float("nan"))
        lines += [
            f"etcd {et['version']} (`{et['binary']}`, Debian's `etcd-server`, installed by "
            "`benchmarks/install_peers.sh`), 3 members on 127.0.0.1, each a process with "
            "its data directory in the run's temporary directory, on the disk hafs's "
            "NameNodes use. etcd fsyncs its WAL before it acknowledges a write. Every "
            "other setting is etcd's default (no pre-vote, a snapshot every 100,000 "
            "entries). A member's flags (ports, directory and cluster token vary): "
            + " ".join(f"`{f}`" for f in et.get("flags", []))
            + ".",
            "",
            f"The load is hafs's own: the phase runner of the metadata benchmark "
            f"(`grpc.aio`, one channel to the leader, `C` calls in flight, "
            f"{et['seconds_per_phase']:g} s phases, median of {et['repeats']} round(s)). "
            f"`put` writes a new key with a {et['value_bytes']}-byte value; `get` is a "
            "linearizable `Range` (`serializable=false`) of a key the `put` phase wrote. "
            "Failover: the failover benchmark's probe (a write every 10 ms) puts through "
            "the member it believes leads; after an error, or "
            f"{attempt_ms:.0f} ms without an answer, it tries the next member "
            f"{wait_ms:.0f} ms later. etcd's clientv3 waits 25 ms between retries; a put "
            "that a follower forwarded to a dead leader is failed by etcd only after 5 s "
            "plus two election timeouts, hence the short attempt, which also means "
            f"etcd's gap may include up to {attempt_ms:.0f} ms of an abandoned attempt. "
            "Default timing is etcd's (`--heartbeat-interval=100 "
            "--election-timeout=1000`); tuned is `--heartbeat-interval="
            f"{tuned['heartbeat_ms']} --election-timeout={tuned['election_ms']}`; each "
            "timing on a fresh cluster.",
        ]
    else:
        lines.append(f"etcd was **{NOT_MEASURED}**: {_why_not(state)}; no figure is quoted.")
    lines += ["", "Each ratio divides two figures of one run (hafs: 3 NameNodes).", ""]
    lines += md_table(HEAD, _comparison_cells(result), "lrrrll")
    if state != "measured":
        return lines
    lines += ["", f"### etcd {et['version']}, 3 members", ""]
    lines += md_table(ROW_HEAD, _rows(et), "lrrrrrrrr")
    lines += [
        "",
        "CPU: cores used during the phase by the leader and by all 3 members together.",
        "",
    ]
    for name, fo in et.get("failover", {}).items():
        lines.append(f"- Failover, {_failover_line(name, fo)}.")
    for part, error in et.get("failures", {}).items():
        lines.append(f"- **{part} failed:** `{error}`")
    return lines
