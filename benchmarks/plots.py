"""PNG plots of one results dictionary, for ``docs/benchmarks.md``.

``write(result, directory)`` draws every plot whose benchmark is in
``result`` and deletes the PNGs of those that are not (a plot never outlives
its figures); ``markdown(result)`` links the same plots, so the two agree
without either reading the disk. Each plot is a pure function of the results:
``series`` functions pick the figures (no matplotlib needed), ``draw``
functions put them on a figure. matplotlib is imported only by ``write``,
with the non-interactive ``Agg`` backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import raftceiling, report_data

LINK_DIR = "benchmarks"  # the plots' directory, relative to docs/benchmarks.md
CONCURRENCIES = (1, 16, 64)
CEILINGS = ("grpc upload", "grpc download", "cp", "cp + sync", "local write")


# ---- picking the figures -----------------------------------------------------------------


def metadata_series(result: dict) -> dict[str, dict[str, dict[int, float]]]:
    """{run label: {operation: {concurrency: ops/s}}} for each metadata run."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    for run in (result.get("metadata") or {}).get("runs", []):
        ops: dict[str, dict[int, float]] = {}
        for row in run["rows"]:
            ops.setdefault(row["operation"], {})[row["concurrency"]] = row["ops_per_s"]
        out[run["label"]] = ops
    return out


def ceiling_series(result: dict) -> dict[str, dict[int, float]]:
    """{"raw pysyncobj" | "hafs mkdir" | "hafs create": {concurrency: ops/s}}."""
    rc = result.get("raftceiling")
    if not rc:
        return {}
    out = {"raw pysyncobj": {r["concurrency"]: r["ops_per_s"] for r in rc["rows"]}}
    for op in ("mkdir", "create"):
        mine = {
            c: row["ops_per_s"]
            for c in out["raw pysyncobj"]
            if (row := raftceiling.hafs_row(result, op, c)) is not None
        }
        if mine:
            out[f"hafs {op}"] = mine
    return out


def failover_series(result: dict) -> list[tuple[float, float]]:
    """(elected s, gap s) per kill."""
    fo = result.get("failover") or {}
    return [(k["elected_s"], k["gap_s"]) for k in fo.get("per_kill", [])]


def datapath_series(result: dict) -> list[tuple[str, float, bool]]:
    """(operation, MiB/s, is a ceiling) in display order."""
    figures = (result.get("datapath") or {}).get("figures", {})
    names = [n for n in report_data.ORDER if n in figures]
    names += sorted(n for n in figures if n not in report_data.ORDER)
    return [(n, figures[n]["mib_per_s"], n in CEILINGS) for n in names]


def memory_series(result: dict) -> dict[str, dict[str, float]]:
    """{"empty namespace" | "N files" | "N files, peak": {node: MiB}} from ``scale``."""
    sc = result.get("scale")
    if not sc:
        return {}
    out = {}
    if sc.get("memory_empty"):
        out["empty namespace"] = {k: v["rss_mib"] for k, v in sc["memory_empty"].items()}
    out[f"{sc['files']:,} files"] = {k: v["rss_mib"] for k, v in sc["memory"].items()}
    out[f"{sc['files']:,} files, peak"] = {k: v["peak_rss_mib"] for k, v in sc["memory"].items()}
    return out


# ---- drawing -----------------------------------------------------------------------------


def _bars(ax, groups: list[str], series: dict[str, list[float]]) -> None:
    """Grouped bars: one group per ``groups`` entry, one bar per series."""
    width = 0.8 / max(1, len(series))
    for n, (label, values) in enumerate(series.items()):
        xs = [g + (n - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")


def draw_metadata(fig, result: dict) -> None:
    runs = metadata_series(result)
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    for ax, (label, ops) in zip(axes, runs.items(), strict=True):
        names = list(ops)
        _bars(ax, names, {f"C={c}": [ops[op].get(c, 0.0) for op in names] for c in CONCURRENCIES})
        ax.set_title(label)
        ax.set_ylabel("operations/s")


def draw_ceiling(fig, result: dict) -> None:
    series = ceiling_series(result)
    ax = fig.subplots()
    conc = sorted(series["raw pysyncobj"])
    _bars(
        ax, [f"C={c}" for c in conc], {k: [v.get(c, 0.0) for c in conc] for k, v in series.items()}
    )
    ax.set_title("Raw pysyncobj (3 processes) vs hafs on 3 NameNodes")
    ax.set_ylabel("operations/s")


def draw_failover(fig, result: dict) -> None:
    kills = failover_series(result)
    ax = fig.subplots()
    xs = range(1, len(kills) + 1)
    ax.bar(xs, [e for e, _ in kills], label="SIGKILL to new leader")
    ax.bar(xs, [g - e for e, g in kills], bottom=[e for e, _ in kills], label="to first write")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="target median 1.0 s")
    ax.axhline(2.5, color="red", linestyle=":", linewidth=1, label="target max 2.5 s")
    ax.set_xticks(list(xs))
    ax.set_xlabel("kill")
    ax.set_ylabel("seconds")
    ax.set_title("Failover gap per leader kill")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")


def draw_datapath(fig, result: dict) -> None:
    rows = datapath_series(result)
    ax = fig.subplots()
    ys = range(len(rows))
    colors = ["tab:grey" if ceiling else "tab:blue" for _, _, ceiling in rows]
    ax.barh(ys, [v for _, v, _ in rows], color=colors)
    ax.set_yticks(ys, [n for n, _, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("MiB/s (grey: ceilings, blue: hafs)")
    ax.set_title("Data path throughput, one client")
    ax.grid(axis="x", alpha=0.3)


def draw_memory(fig, result: dict) -> None:
    series = memory_series(result)
    ax = fig.subplots()
    nodes = sorted({n for v in series.values() for n in v})
    _bars(ax, nodes, {k: [v.get(n, 0.0) for n in nodes] for k, v in series.items()})
    db = result["scale"]["generate"]["db_bytes"] / (1 << 20)
    ax.axhline(db, color="black", linestyle="--", linewidth=1)
    ax.annotate(
        f"SQLite database on disk, {db:,.0f} MiB",
        (0, db),
        xytext=(2, 3),
        textcoords="offset points",
        xycoords=("axes fraction", "data"),
        fontsize="small",
    )
    ax.legend(fontsize="small", loc="lower right")
    ax.set_ylabel("resident memory, MiB")
    ax.set_title("NameNode resident memory")


@dataclass(frozen=True)
class Plot:
    name: str  # file name without .png
    title: str  # alt text and caption
    has: Callable[[dict], bool]
    draw: Callable[[Any, dict], None]
    size: tuple[float, float] = (8.0, 4.5)


PLOTS = (
    Plot(
        "metadata",
        "Namespace operations/s by operation and concurrency",
        lambda r: bool(metadata_series(r)),
        draw_metadata,
        (12.0, 4.5),
    ),
    Plot(
        "raftceiling",
        "Raw pysyncobj vs hafs mkdir and create, operations/s",
        lambda r: bool(ceiling_series(r)),
        draw_ceiling,
    ),
    Plot(
        "failover",
        "Failover gap per SIGKILL of the leader",
        lambda r: bool(failover_series(r)),
        draw_failover,
    ),
    Plot(
        "datapath",
        "Data path throughput vs raw gRPC and cp",
        lambda r: bool(datapath_series(r)),
        draw_datapath,
    ),
    Plot(
        "memory",
        "NameNode resident memory, empty and loaded namespace",
        lambda r: bool(memory_series(r)),
        draw_memory,
    ),
)


def available(result: dict) -> list[Plot]:
    return [p for p in PLOTS if p.has(result)]


def markdown(result: dict) -> list[str]:
    """The plots section of docs/benchmarks.md (none when no plot has figures)."""
    chosen = available(result)
    if not chosen:
        return []
    lines = ["", "## Plots", ""]
    for p in chosen:
        lines += [f"![{p.title}]({LINK_DIR}/{p.name}.png)", ""]
    return lines[:-1]


def write(result: dict, directory: Path) -> list[Path]:
    """Draw each available plot to ``directory/<name>.png``; delete the others' files."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for p in PLOTS:
        path = directory / f"{p.name}.png"
        if not p.has(result):
            path.unlink(missing_ok=True)
            continue
        fig = Figure(figsize=p.size, layout="constrained")
        p.draw(fig, result)
        fig.savefig(path, dpi=100, metadata={"Software": None})
        written.append(path)
    return written
