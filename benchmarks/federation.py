"""Federation scaling: metadata throughput with one nameservice, then two at once.

Each nameservice is its own Raft group of 3 NameNodes. The same load (the
``metadata`` benchmark's phases: mkdir, create + close, stat, list, rename,
delete) runs at ``concurrency`` against the leader of one group, then against
the leaders of two groups at the same time (one asyncio load generator driving
both). The figure of merit is the two groups' summed ops/s over the one
group's, per operation, with the CPU cores each group's three processes used.

On this machine every process shares the same 2 cores, so two groups cannot
be faster than the CPU allows: the ratio here measures contention, not the
design. On separate machines each group has its own CPUs and disks, nothing is
shared between groups on the metadata path (a client routes each call straight
to the owning group, and no call touches two groups), so throughput adds up
group by group until the network or the client saturates.
"""

from __future__ import annotations

import asyncio
import getpass
from collections import Counter
from pathlib import Path
from typing import Any

import grpc

from benchmarks.common import median, running
from benchmarks.metadata import OPERATIONS, Worker, one_round
from chaos.cluster import LocalCluster
from hafs_api.v1 import namenode_pb2 as pb
from hafs_api.v1 import namenode_pb2_grpc


def _pids(cluster: LocalCluster, label: str) -> dict[str, int]:
    return {
        f"{label}/{n.node_id}": n.process.pid
        for n in cluster.namenode_nodes
        if n.process is not None
    }


async def _load(
    targets: list[tuple[str, str, dict[str, int]]], concurrency: int, seconds: float, tag: str
):
    """Run one round of the phases against every (label, leader address) at once, under
    a base directory of its own (``tag``: a round never meets another's paths)."""
    user = getpass.getuser()
    channels = [grpc.aio.insecure_channel(address) for _, address, _ in targets]
    try:
        rounds = []
        pids = {name: pid for _, _, group in targets for name, pid in group.items()}
        for (label, _, _), channel in zip(targets, channels, strict=True):
            stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
            warm = Worker(stub, user)
            await stub.GetFileInfo(
                pb.GetFileInfoRequest(header=warm.header(), path="/"), timeout=30
            )
            workers = [Worker(stub, user) for _ in range(concurrency)]
            rounds.append(one_round(workers, f"/fed/{tag}/{label}", seconds, pids))
        return await asyncio.gather(*rounds)
    finally:
        for channel in channels:
            await channel.close()


def _rows(results, targets) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        phases = [r[op] for r in results if op in r]
        if not phases:
            continue
        summaries = [p.summary() for p in phases]
        cpu: dict[str, float] = {}
        for label, _, group in targets:
            cpu[label] = round(
                median([sum(p.cpu.get(name, 0.0) for name in group) for p in phases]), 2
            )
        out[op] = {
            "ops_per_s": sum(s["ops_per_s"] for s in summaries),
            "per_group_ops_per_s": [round(s["ops_per_s"], 1) for s in summaries],
            "p50_ms": median([s["p50_ms"] for s in summaries]),
            "errors": sum(s["errors"] for s in summaries),
            "error_codes": dict(sum((p.errors for p in phases), Counter())),
            "cpu_cores_per_group": cpu,
        }
    return out


def run(base: Path, seconds: float, concurrency: int, repeats: int, log=print) -> dict[str, Any]:
    namespace = {"trash_interval_s": 0}
    one = LocalCluster(base / "ns1", namenodes=3, nameservice="ns1", namespace=namespace)
    two = LocalCluster(base / "ns2", namenodes=3, nameservice="ns2", namespace=namespace)
    runs: dict[str, list[dict[str, dict[str, Any]]]] = {"one": [], "two": []}
    with running(one), running(two):
        first = [("ns1", one.wait_leader(30).address, _pids(one, "ns1"))]
        both = [*first, ("ns2", two.wait_leader(30).address, _pids(two, "ns2"))]
        for r in range(repeats):
            log(f"federation: round {r + 1}/{repeats}, 1 nameservice, c={concurrency}")
            runs["one"].append(
                _rows(asyncio.run(_load(first, concurrency, seconds, f"one{r}")), first)
            )
            log(f"federation: round {r + 1}/{repeats}, 2 nameservices at once")
            runs["two"].append(
                _rows(asyncio.run(_load(both, concurrency, seconds, f"two{r}")), both)
            )
    table = []
    for op in OPERATIONS:
        ones = [r[op] for r in runs["one"] if op in r]
        twos = [r[op] for r in runs["two"] if op in r]
        if not ones or not twos:
            continue
        single = median([x["ops_per_s"] for x in ones])
        double = median([x["ops_per_s"] for x in twos])
        table.append(
            {
                "operation": op,
                "one_ops_per_s": round(single, 1),
                "two_ops_per_s": round(double, 1),
                "ratio": round(double / single, 2) if single else 0.0,
                "two_per_group_ops_per_s": twos[len(twos) // 2]["per_group_ops_per_s"],
                "one_cpu_cores": ones[len(ones) // 2]["cpu_cores_per_group"],
                "two_cpu_cores": twos[len(twos) // 2]["cpu_cores_per_group"],
                "errors": sum(x["errors"] for x in ones + twos),
            }
        )
    return {
        "seconds_per_phase": seconds,
        "concurrency_per_group": concurrency,
        "repeats": repeats,
        "namenodes_per_group": 3,
        "rows": table,
        "runs": runs,
    }


def console(result: dict[str, Any]) -> str:
    lines = [
        f"federation: concurrency {result['concurrency_per_group']} per group, "
        f"{result['seconds_per_phase']:g} s phases, median of {result['repeats']}",
        f"{'operation':<10} {'1 ns ops/s':>11} {'2 ns ops/s':>11} {'ratio':>6} {'errors':>6}"
        "  cpu cores",
    ]
    for row in result["rows"]:
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in row["two_cpu_cores"].items())
        lines.append(
            f"{row['operation']:<10} {row['one_ops_per_s']:>11,.0f} "
            f"{row['two_ops_per_s']:>11,.0f} {row['ratio']:>6.2f} {row['errors']:>6}  "
            f"1 ns: {row['one_cpu_cores']['ns1']:.2f}; 2 ns: {cpu}"
        )
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Federation: one nameservice, then two",
        "",
        f"Each nameservice is a Raft group of 3 NameNodes; {result['concurrency_per_group']} "
        f"clients per group run each phase for {result['seconds_per_phase']:g} s, first "
        "against one group, then against two at once from the same load generator; "
        f"medians of {result['repeats']}. CPU is cores used by each group's 3 processes. "
        "Every process shares this machine's 2 cores, so the ratio shows contention; on "
        "separate machines the groups share nothing on the metadata path and add up. "
        "Failed calls (all rounds, both modes) count as no operation; their gRPC codes "
        "are in the result JSON (`error_codes`, recorded from this version on).",
        "",
        "| operation | 1 nameservice ops/s | 2 nameservices ops/s | ratio | per group | "
        "failed calls | CPU cores, 1 ns | CPU cores, 2 ns |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for row in result["rows"]:
        per_group = " + ".join(f"{v:,.0f}" for v in row["two_per_group_ops_per_s"])
        two_cpu = ", ".join(f"{k} {v:.2f}" for k, v in row["two_cpu_cores"].items())
        lines.append(
            f"| {row['operation']} | {row['one_ops_per_s']:,.0f} | {row['two_ops_per_s']:,.0f} | "
            f"{row['ratio']:.2f}x | {per_group} | {row['errors']} | "
            f"{row['one_cpu_cores']['ns1']:.2f} | {two_cpu} |"
        )
    return lines
