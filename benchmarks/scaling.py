"""How each figure would scale on separate machines: arithmetic from the measured
per-operation CPU costs of the same run, for ``docs/benchmarks.md``.

On the benchmark machine every process shares its cores, so a figure there is
bounded by the *sum* of the CPU the processes spend per operation. On separate
machines each process has its own cores, and a CPython process runs Python on
about one core at a time (the GIL), so a NameNode's rate is bounded by the CPU
its busiest process spends per operation: ``1 / (leader CPU seconds per op)``.
The data path is bounded the same way per DataNode and for the client.

These are ceilings from CPU alone: they assume the network and disks keep up and
that the load is spread (clients on other hosts, one nameservice per group of
hosts). They are estimates, labelled as such, not measurements.

Imports: ``benchmarks.common`` only, nothing from hafs.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import md_table

GiB = 1 << 30
MiB = 1 << 20
OPS = ("mkdir", "create", "stat")


def _row(result: dict, op: str, concurrency: int = 64) -> dict | None:
    runs = (result.get("metadata") or {}).get("runs", [])
    run = next((r for r in runs if r["namenodes"] == 3), None)
    rows = (run or {}).get("rows", [])
    return next((r for r in rows if r["operation"] == op and r["concurrency"] == concurrency), None)


def metadata_costs(result: dict) -> list[dict[str, Any]]:
    """Per operation at 64 in flight: CPU ms per op of the leader, of the busiest
    follower and of all NameNodes, and the ceilings they imply."""
    out = []
    for op in OPS:
        row = _row(result, op)
        if row is None or row["ops_per_s"] <= 0:
            continue
        cores = row["cpu_cores"]
        rate = row["ops_per_s"]
        leader = cores.get("leader", 0.0) / rate
        followers = [v / rate for k, v in cores.items() if k.startswith("follower")]
        busiest = max(followers, default=0.0)
        namenodes = leader + sum(followers)
        out.append(
            {
                "operation": op,
                "measured_ops_per_s": rate,
                "leader_cores": cores.get("leader", 0.0),
                "leader_ms": leader * 1000,
                "follower_ms": busiest * 1000,
                "namenodes_ms": namenodes * 1000,
                "own_hosts_ops_per_s": 1 / max(leader, busiest) if max(leader, busiest) else 0.0,
            }
        )
    return out


def datapath_costs(result: dict) -> list[dict[str, Any]]:
    """Per data-path operation: CPU seconds per GiB of the client and of the busiest
    DataNode, and the MiB/s each would allow on a core of its own."""
    dp = result.get("datapath")
    if not dp:
        return []
    gib = dp["size_bytes"] / GiB
    out = []
    for name in ("put r1", "put r3", "get r3"):
        fig = dp["figures"].get(name)
        if not fig or "cpu_s" not in fig:
            continue
        client = fig["cpu_s"]["client"] / gib
        datanode = max(fig["cpu_s"].get("per_datanode", {}).values(), default=0.0) / gib
        bound = max(client, datanode)
        out.append(
            {
                "operation": name,
                "measured_mib_per_s": fig["mib_per_s"],
                "client_s_per_gib": client,
                "datanode_s_per_gib": datanode,
                "own_hosts_mib_per_s": 1024 / bound if bound else 0.0,
                "bound_by": "client" if client >= datanode else "a DataNode",
            }
        )
    return out


def markdown(result: dict) -> list[str]:
    meta, data = metadata_costs(result), datapath_costs(result)
    if not meta and not data:
        return []
    lines = [
        "",
        "## Scaling on separate machines (estimates from this run's CPU costs)",
        "",
        "On this machine all processes share its cores, so throughput is bounded by the "
        "CPU *all* of them spend per operation. On separate machines each process has its "
        "own cores, and CPython runs a process's Python on about one core at a time (the "
        "GIL), so a nameservice is bounded by its *busiest* process: "
        "`1 / (leader CPU seconds per operation)`. These are ceilings from CPU alone "
        "(network and disks assumed to keep up, clients on other hosts), computed from "
        "the CPU each process used during the phases above; they are estimates, not "
        "measurements.",
        "",
    ]
    if meta:
        head = ["operation, 64 in flight", "measured here", "leader CPU/op"]
        head += ["busiest follower CPU/op", "all NameNodes CPU/op"]
        head += ["one NameNode per host (ceiling)"]
        rows = [
            [
                m["operation"],
                f"{m['measured_ops_per_s']:,.0f}/s",
                f"{m['leader_ms']:.2f} ms",
                f"{m['follower_ms']:.2f} ms",
                f"{m['namenodes_ms']:.2f} ms",
                f"{m['own_hosts_ops_per_s']:,.0f}/s",
            ]
            for m in meta
        ]
        lines += md_table(head, rows)
        lines += [
            "",
            "- A replicated write costs CPU on every replica (each applies it), a "
            "linearizable read only on the leader, which also runs every client RPC; so "
            "the leader is the busiest process and sets the ceiling.",
            "- Federation multiplies it: nameservices share nothing on the metadata path "
            "(clients route by the mount table straight to the owner), so `K` nameservices "
            "on their own hosts give about `K` times the ceiling. On this machine two "
            "groups share two cores, which is why the federation benchmark's ratio "
            "measures contention rather than this.",
            "- Where the leader already used about one core here (CPU-bound by its GIL), "
            "the ceiling is close to what was measured: a host of its own adds little "
            "until the leader spends less Python per operation. `docs/performance.md` has "
            "the profiles and what would remove each cost.",
        ]
    if data:
        head = ["data path", "measured here", "client CPU s/GiB"]
        head += ["busiest DataNode CPU s/GiB", "each on its own host (ceiling)"]
        rows = [
            [
                d["operation"],
                f"{d['measured_mib_per_s']:,.0f} MiB/s",
                f"{d['client_s_per_gib']:.2f}",
                f"{d['datanode_s_per_gib']:.2f}",
                f"{d['own_hosts_mib_per_s']:,.0f} MiB/s ({d['bound_by']})",
            ]
            for d in data
        ]
        lines += ["", *md_table(head, rows)]
        lines += [
            "",
            "- A pipeline of replicas runs at the pace of its slowest member, so with "
            "DataNodes on their own hosts and disks a write is bounded by the busier of the "
            "client and one DataNode, not by three replicas sharing two cores and one disk "
            "as here. Many clients writing different files spread over all DataNodes: "
            "aggregate bandwidth grows with the number of DataNodes (each block's pipeline "
            "picks 3 of them).",
            "- A read streams from one replica: one client's read is bounded by its own CPU "
            "(checksum verification and message handling); many readers add up across "
            "DataNodes.",
        ]
    return lines
