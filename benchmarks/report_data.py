"""Console tables and ``docs/benchmarks.md`` sections for the data benchmarks.

``datapath`` and ``rereplication`` results, and the targets of the issue
"DataNodes, the data path and block recovery": a get at least 0.6x, and a put
at replication 1 at least 0.5x, a raw gRPC stream on the same machine.
``benchmarks.report`` calls in here; this module imports only ``benchmarks.common``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import md_table, table

MiB = 1 << 20
ISSUE = '"DataNodes, the data path and block recovery"'
ORDER = (
    "grpc upload",
    "grpc download",
    "cp",
    "cp + sync",
    "local write",
    "put r3",
    "write r3",
    "get r3",
    "read r3",
    "put r1",
    "write r1",
    "get r1",
    "read r1",
)
WHAT = {
    "grpc upload": "raw gRPC, client streaming (1 MiB messages)",
    "grpc download": "raw gRPC, server streaming (1 MiB messages)",
    "cp": "local `cp` (page cache not dropped)",
    "cp + sync": "local `cp`, then `sync` of the copy",
    "local write": "1 MiB `write`s from memory to a local file, then fsync",
    "put": "`Client.put` from a local file",
    "write": '`open("wb")`, 4 MiB writes from memory',
    "get": "`Client.get` to a local file",
    "read": '`open("rb")`, 4 MiB reads, discarded',
}


def _what(name: str) -> str:
    op, _, rep = name.rpartition(" r")
    if op in WHAT and rep.isdigit():
        return f"{WHAT[op]}, replication {rep}"
    return WHAT.get(name, name)


def targets(result: dict) -> list[dict[str, Any]]:
    """The data path targets with the measured ratio and whether each is met."""
    dp = result.get("datapath")
    out = []
    for name, least, ratio, mine, ceiling in (
        ("get vs raw gRPC stream", 0.6, "get_vs_grpc_download", "get r3", "grpc download"),
        (
            "put, replication 1, vs raw gRPC stream",
            0.5,
            "put_r1_vs_grpc_upload",
            "put r1",
            "grpc upload",
        ),
    ):
        goal = f">= {least}x"
        if dp is None:
            out.append(
                {"name": name, "target": goal, "measured": None, "met": None, "where": "not run"}
            )
            continue
        value = dp["ratios"][ratio]
        fig = dp["figures"]
        out.append(
            {
                "name": name,
                "target": goal,
                "measured": value,
                "met": value >= least,
                "where": f"{fig[mine]['mib_per_s']:,.0f} MiB/s ({mine}) / "
                f"{fig[ceiling]['mib_per_s']:,.0f} MiB/s ({ceiling}); "
                f"{dp['size_bytes'] / MiB:,.0f} MiB, median of {dp['runs']}",
            }
        )
    return out


def _met(t: dict) -> str:
    return {True: "met", False: "NOT met", None: "-"}[t["met"]]


def _ratio(t: dict) -> str:
    return "-" if t["measured"] is None else f"{t['measured']:.2f}x"


def _datapath_rows(dp: dict) -> list[list[Any]]:
    rows = []
    for name in ORDER:
        fig = dp["figures"].get(name)
        if fig is None:
            continue
        cpu = fig["cpu_s"]
        rows.append(
            [
                name,
                f"{fig['mib_per_s']:,.0f}",
                f"{fig['seconds']:.2f}",
                ", ".join(f"{v:,.0f}" for v in fig["runs_mib_per_s"]),
                f"{cpu['client']:.1f}",
                f"{cpu['datanodes']:.1f}",
                f"{cpu['namenodes']:.1f}",
            ]
        )
    return rows


DATAPATH_HEAD = [
    "operation",
    "MiB/s",
    "s",
    "runs MiB/s",
    "this process cpu s",
    "DataNodes cpu s",
    "NameNodes cpu s",
]


def _rereplication_rows(rr: dict) -> list[list[Any]]:
    return [
        [
            f"{r['size_bytes'] / MiB:,.0f} MiB",
            r["blocks"],
            f"{r['victim_replicas']} ({r['victim_bytes'] / MiB:,.0f} MiB)",
            f"{r['dead_s']:.2f}",
            f"{r['healthy_s']:.2f}",
            f"{r['copy_s']:.2f}",
            f"{r['copy_mib_per_s']:,.1f}",
            f"{sum(r['survivor_cpu_s'].values()):.1f}",
            f"{r['write_s']:.1f}",
        ]
        for r in rr["runs"]
    ]


REREPLICATION_HEAD = [
    "written",
    "blocks",
    "replicas held (bytes)",
    "dead s",
    "healthy s",
    "copy s",
    "copy MiB/s",
    "survivors cpu s",
    "write s",
]


# ---- console ------------------------------------------------------------------------------


RATIOS = {
    "read_r3_vs_grpc_download": "read r3 / grpc download",
    "write_r1_vs_grpc_upload": "write r1 / grpc upload",
    "put_r3_vs_grpc_upload": "put r3 / grpc upload",
    "put_r1_vs_local_write": "put r1 / local write",
    "get_vs_local_write": "get r3 / local write",
}


def _other_ratios(dp: dict) -> str:
    """The ratios beside the targets: without the local disk, and against it."""
    return "; ".join(
        f"{label} {dp['ratios'][key]:.2f}x" for key, label in RATIOS.items() if key in dp["ratios"]
    )


def datapath_console(dp: dict) -> str:
    out = table(DATAPATH_HEAD, _datapath_rows(dp), "lrrlrrr")
    for t in targets({"datapath": dp}):
        out += f"\n{t['name']}: {_ratio(t)} (goal {t['target']}) {_met(t)}: {t['where']}"
    return out + f"\nother ratios: {_other_ratios(dp)}"


def rereplication_console(rr: dict) -> str:
    out = table(REREPLICATION_HEAD, _rereplication_rows(rr), "lrlrrrrrr")
    for s in rr["skipped"]:
        out += f"\n{s['size_bytes'] / MiB:,.0f} MiB skipped: {s['reason']}"
    return out


# ---- docs/benchmarks.md --------------------------------------------------------------------


def markdown(result: dict) -> list[str]:
    """The data sections of docs/benchmarks.md (none when neither benchmark ran)."""
    dp, rr = result.get("datapath"), result.get("rereplication")
    if not (dp or rr):
        return []
    lines = ["", f"## Targets ({ISSUE})", ""]
    lines += md_table(
        ["target", "goal", "measured", "", "how"],
        [[t["name"], t["target"], _ratio(t), _met(t), t["where"]] for t in targets(result)],
        "llrll",
    )
    if dp:
        lines += _datapath_md(dp)
    if rr:
        lines += _rereplication_md(rr)
    return lines


def _datapath_md(dp: dict) -> list[str]:
    size = f"{dp['size_bytes'] / MiB:,.0f} MiB"
    lines = [
        "",
        "## Data path throughput (one client)",
        "",
        f"One client in the benchmark process copies a {size} file in and out of 3 NameNodes "
        f"and 3 DataNodes on 127.0.0.1 ({dp['block_size_bytes'] / MiB:.0f} MiB blocks), at "
        "replication 3 and 1. Beside it, in the same run: a bare gRPC server in the same "
        "process (same grpcio, 1 MiB `bytes` messages, no serializers) streaming the same "
        "number of bytes each way, and `cp` of the same local file. Every source is in the "
        "page cache (it is not dropped); a DataNode fsyncs each replica when it finalizes it, "
        "`cp` does not (`cp + sync` does). Figures are medians of "
        f"{dp['runs']} round(s), each round running every operation once, interleaved. CPU "
        "seconds are medians per operation: `this process` is the client (for raw gRPC, the "
        "client and the server together).",
    ]
    lines[-1] += (
        " Writes into the page cache on a VM that hands freed memory back to its host "
        "(virtio-balloon free page reporting) pay a host fault per page whenever the cache "
        "grows: on the VM this was written on, ~370 MiB/s for such pages against over 5 GiB/s "
        "for pages still held. That cost is in every figure that writes (put, write, get, "
        "cp, local write, the DataNodes' replicas) and is part of their spread between rounds."
    )
    lines.append("")
    rows = [[r[0], _what(r[0]), *r[1:]] for r in _datapath_rows(dp)]
    lines += md_table([DATAPATH_HEAD[0], "what", *DATAPATH_HEAD[1:]], rows, "llrrlrrr")
    lines += ["", f"Other ratios: {_other_ratios(dp)}."]
    return lines


def _rereplication_md(rr: dict) -> list[str]:
    dev = rr["dev_blocks"]
    lines = [
        "",
        "## Re-replication after a DataNode is killed",
        "",
        f"A fresh cluster of {rr['namenodes']} NameNodes and {rr['datanodes']} DataNodes per "
        f"size, with the dev liveness settings (`dead_after_s={dev['dead_after_s']:g}`, "
        f"`monitor_interval_s={dev['monitor_interval_s']:g}`, "
        f"`replication_timeout_s={dev['replication_timeout_s']:g}`; production waits 30 s "
        f"before a DataNode is dead) and {rr['block_size_bytes'] / MiB:.0f} MiB blocks "
        f"(not the default 128 MiB: more blocks to spread over the copy streams). Files of "
        f"replication {rr['replication']} are written until the size is reached; once every "
        "block has 3 live replicas, the DataNode holding the most replicas is SIGKILLed. "
        "`dead` is the kill to the leader reporting it dead (it can be under "
        f"{dev['dead_after_s']:g} s: the leader counts from the last heartbeat, sent up to a "
        "heartbeat interval before the kill); `healthy` the kill to fsck "
        "healthy with nothing under-replicated and every block at 3 live replicas again; "
        "`copy` is healthy minus dead, and its rate is the killed node's bytes over it. "
        "One kill per size.",
        "",
    ]
    lines += md_table(REREPLICATION_HEAD, _rereplication_rows(rr), "lrlrrrrrr")
    for s in rr["skipped"]:
        lines.append(f"\n{s['size_bytes'] / MiB:,.0f} MiB skipped: {s['reason']}.")
    if rr.get("blocks_config"):
        lines += [
            "",
            "NameNode `[blocks]`: "
            + ", ".join(f"`{k}={v}`" for k, v in rr["blocks_config"].items())
            + ".",
        ]
    return lines
