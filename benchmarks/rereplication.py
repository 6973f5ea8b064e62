"""Re-replication after a DataNode is SIGKILLed, as a function of the data it held.

For each total size ``D``, a fresh cluster of 3 NameNodes and 4 DataNodes with
the harness's dev liveness (``chaos.cluster.DEV_BLOCKS``: a DataNode silent for
5 s is dead, the replication monitor runs every 0.5 s, a copy not reported in
15 s is planned again) and 64 MiB blocks:

1. one client writes files of replication 3 totalling ``D`` bytes (256 MiB
   files streamed from memory, ``D`` smaller: one file), then waits until fsck
   is healthy and every block has 3 live replicas;
2. the DataNode holding the most replicas is SIGKILLed; the bytes of those
   replicas are what must be copied again;
3. it measures (i) ``dead_s``, from the kill until the leader reports the
   DataNode dead (under 5 s is possible: the leader counts from the last
   heartbeat, up to 0.5 s before the kill); (ii) ``healthy_s``, from the kill
   until fsck is healthy, with nothing under-replicated or missing and every
   block at 3 live replicas again; (iii) ``copy_s`` = (ii) - (i), and the
   re-replication rate, the held bytes over ``copy_s``.

64 MiB blocks, not the default 128 MiB: more blocks to spread over the copy
streams, and each copy stays well inside the 15 s replication timeout. A size
that does not fit on the disk (its replicas and the copies, with 1 GiB to
spare) is skipped with the reason recorded. Every wait is bounded in
time, and each cluster is stopped and its directory removed before the next.

Imports: the standard library, ``client``, ``chaos.cluster`` and ``benchmarks.common``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_seconds, node_config, running, wait_until
from chaos.cluster import DEV_BLOCKS, LocalCluster
from client import Client, FsckReport

MiB = 1 << 20
DATANODES = 4
REPLICATION = 3
BLOCK_SIZE = 64 * MiB
FILE_SIZE = 256 * MiB
CHUNK = 4 * MiB
SETTLE_TIMEOUT_S = 120.0  # after writing: every block at 3 live replicas
DEAD_TIMEOUT_S = 60.0  # kill to dead; dead_after_s is 5 s
MIN_RATE = 2 * MiB  # the healthy wait allows the held bytes at this rate, plus 120 s


def needed_bytes(size: int) -> int:
    """Disk the run of ``size`` needs: 3 replicas, the re-copied ones, 1 GiB to spare."""
    return REPLICATION * size + size + 1024 * MiB


def run(base: Path, sizes: list[int], log=print) -> dict[str, Any]:
    """One kill per size, each on a fresh cluster under ``base``."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "datanodes": DATANODES,
        "namenodes": 3,
        "replication": REPLICATION,
        "block_size_bytes": BLOCK_SIZE,
        "file_size_bytes": FILE_SIZE,
        "dev_blocks": dict(DEV_BLOCKS),
        "runs": [],
        "skipped": [],
    }
    for size in sizes:
        free = shutil.disk_usage(base).free
        if free < needed_bytes(size):
            reason = (
                f"needs {needed_bytes(size) / MiB:,.0f} MiB free on the disk of {base}, "
                f"has {free / MiB:,.0f} MiB"
            )
            out["skipped"].append({"size_bytes": size, "reason": reason})
            log(f"  {size / MiB:,.0f} MiB: skipped, {reason}")
            continue
        where = base / f"d{size // MiB}"
        cluster = LocalCluster(
            where,
            namenodes=3,
            datanodes=DATANODES,
            namespace={"trash_interval_s": 0, "default_block_size": BLOCK_SIZE},
        )
        try:
            with running(cluster):
                blocks = dict(node_config(cluster, cluster.namenode_nodes[0])["blocks"])
                blocks.pop("token_secret", None)
                out["blocks_config"] = blocks
                out["runs"].append(_one(cluster, size, log))
        finally:
            shutil.rmtree(where, ignore_errors=True)
    return out


def _settled(fs: Client) -> FsckReport | None:
    """The fsck report when every block has its 3 live replicas and nothing is amiss."""
    report = fs.fsck("/", list_files=True)
    ok = (
        report.healthy
        and report.under_replicated == 0
        and report.missing == 0
        and report.open_for_write == 0
        and all(b.live >= REPLICATION for f in report.entries for b in f.blocks)
    )
    return report if ok else None


def _write(fs: Client, size: int) -> float:
    """Files of replication 3 totalling ``size`` bytes; the seconds it took."""
    chunk = os.urandom(CHUNK)
    fs.mkdir("/held", parents=True, exist_ok=True)
    started = time.monotonic()
    left, n = size, 0
    while left:
        this = min(left, FILE_SIZE)
        with fs.open(f"/held/f{n:04d}", "wb", replication=REPLICATION) as f:
            done = 0
            while done < this:
                piece = chunk[: min(CHUNK, this - done)]
                f.write(piece)
                done += len(piece)
        left -= this
        n += 1
    return time.monotonic() - started


def _one(cluster: LocalCluster, size: int, log) -> dict[str, Any]:
    log(f"  {size / MiB:,.0f} MiB at replication 3 on {DATANODES} DataNodes: writing")
    with Client(addresses=cluster.addresses) as fs:
        write_s = _write(fs, size)
        wait_until("every block at 3 live replicas", lambda: _settled(fs), SETTLE_TIMEOUT_S, 0.25)
        report = _settled(fs)
        assert report is not None
        held: Counter[str] = Counter()
        replicas: Counter[str] = Counter()
        for f in report.entries:
            for b in f.blocks:
                for loc in b.locations:
                    held[loc] += b.length
                    replicas[loc] += 1
        address, count = replicas.most_common(1)[0]
        victim = next(n for n in cluster.datanode_nodes if n.address == address)
        survivors = {
            n.node_id: n.process.pid
            for n in cluster.datanode_nodes
            if n is not victim and n.process is not None
        }
        log(
            f"  wrote {size / MiB:,.0f} MiB in {write_s:.1f} s ({report.blocks} blocks); "
            f"killing {victim.node_id}, {count} replicas, {held[address] / MiB:,.0f} MiB"
        )
        killed_at = time.monotonic()
        if not victim.kill():
            raise RuntimeError(f"{victim.node_id} did not exit after SIGKILL")
        dead_at = wait_until(
            f"{victim.node_id} declared dead",
            lambda: any(d.address == address and d.liveness == "dead" for d in fs.datanodes()),
            DEAD_TIMEOUT_S,
            0.05,
        )
        cpu_before = {k: cpu_seconds(p) for k, p in survivors.items()}
        after_dead = fs.fsck("/")
        timeout = 120.0 + held[address] / MIN_RATE
        healthy_at = wait_until(
            "fsck healthy, every block at 3 replicas", lambda: _settled(fs), timeout, 0.2
        )
        cpu = {k: round(cpu_seconds(p) - cpu_before[k], 2) for k, p in survivors.items()}
        final = _settled(fs)
        if final is not None and any(
            address in b.locations for f in final.entries for b in f.blocks
        ):
            raise RuntimeError(f"fsck still counts a replica on the dead {victim.node_id}")
    copy_s = healthy_at - dead_at
    result = {
        "size_bytes": size,
        "files": len(report.entries),
        "blocks": report.blocks,
        "write_s": round(write_s, 2),
        "victim": victim.node_id,
        "victim_replicas": count,
        "victim_bytes": held[address],
        "under_replicated_when_dead": after_dead.under_replicated,
        "dead_s": round(dead_at - killed_at, 3),
        "healthy_s": round(healthy_at - killed_at, 3),
        "copy_s": round(copy_s, 3),
        "copy_mib_per_s": held[address] / MiB / copy_s if copy_s > 0 else float("nan"),
        "survivor_cpu_s": cpu,
    }
    log(
        f"  {size / MiB:,.0f} MiB: dead after {result['dead_s']:.2f} s, healthy after "
        f"{result['healthy_s']:.2f} s; copy {copy_s:.2f} s for {held[address] / MiB:,.0f} MiB "
        f"({result['copy_mib_per_s']:.1f} MiB/s)"
    )
    return result
