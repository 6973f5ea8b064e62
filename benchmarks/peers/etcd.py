"""etcd measured in the same run as hafs: puts, linearizable gets, failover gaps.

``run(base_dir, seconds, repeats, kills)`` starts etcd 3.4 clusters of 3 members on
127.0.0.1 (``etcd_cluster``) and measures, each figure a median of ``repeats`` rounds:

- ``put``: a new key with a 100-byte value per operation;
- ``get``: a linearizable ``Range`` (``serializable=false``: the leader confirms its
  leadership with a quorum, ReadIndex) of one key the ``put`` phase wrote;

at concurrency 1, 16 and 64, time-bounded phases of ``seconds`` sent to the leader over
``grpc.aio`` with the very phase runner and row aggregation of the hafs metadata
benchmark (``benchmarks.metadata.timed_phase``, ``aggregate``), so ops/s, p50, p99 and
CPU mean the same on both sides. The concurrency-1 ``put`` row is the sequential put.

Then the failover gap (``etcd_failover``), ``kills`` SIGKILLs of the leader, on a fresh
cluster with etcd's default timing and on one with ``TUNED`` timing.

Without an etcd binary the result is ``{"missing": MISSING}``: nothing is measured, and
nothing is made up. A part that fails is recorded under ``failures`` and the others run.

Imports: the standard library, grpc, ``benchmarks`` and the generated etcd stubs.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import traceback
from pathlib import Path
from typing import Any

import grpc

from benchmarks.metadata import CALL_TIMEOUT_S, Phase, aggregate, timed_phase
from benchmarks.peers import etcd_failover
from benchmarks.peers.etcd_cluster import (
    CHANNEL_OPTIONS,
    DEFAULT,
    MISSING,
    TUNED,
    EtcdCluster,
    EtcdError,
    Timing,
    find_binary,
    version,
)
from benchmarks.peers.etcdserverpb import rpc_pb2, rpc_pb2_grpc

OPERATIONS = ("put", "get")
VALUE = b"v" * 100
SETTINGS = {"default": DEFAULT, "tuned": TUNED}


async def _round(
    stub: rpc_pb2_grpc.KVStub,
    concurrency: int,
    prefix: str,
    seconds: float,
    pids: dict[str, int],
) -> dict[str, Phase]:
    """One put phase, then one get phase over the keys it wrote."""
    workers = [stub] * concurrency  # one channel, as the hafs benchmark's workers share one

    def key(i: int) -> bytes:
        return f"{prefix}/k{i:08d}".encode()

    async def put(w: rpc_pb2_grpc.KVStub, i: int) -> None:
        await w.Put(rpc_pb2.PutRequest(key=key(i), value=VALUE), timeout=CALL_TIMEOUT_S)

    out = {"put": await timed_phase(workers, put, seconds, None, pids)}
    made = sorted(out["put"].done)
    if not made:
        return out
    check = await stub.Range(rpc_pb2.RangeRequest(key=key(made[-1])), timeout=CALL_TIMEOUT_S)
    if not check.kvs or check.kvs[0].value != VALUE:
        raise EtcdError(f"a key just put is not read back: {key(made[-1])!r}")

    async def get(w: rpc_pb2_grpc.KVStub, i: int) -> None:
        await w.Range(
            rpc_pb2.RangeRequest(key=key(made[i % len(made)]), serializable=False),
            timeout=CALL_TIMEOUT_S,
        )

    out["get"] = await timed_phase(workers, get, seconds, None, pids)
    return out


async def _workload(
    address: str,
    seconds: float,
    concurrencies: tuple[int, ...],
    repeats: int,
    pids: dict[str, int],
) -> list[dict]:
    rows = []
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = rpc_pb2_grpc.KVStub(channel)
        await stub.Put(rpc_pb2.PutRequest(key=b"/warm", value=VALUE), timeout=30)
        await stub.Range(rpc_pb2.RangeRequest(key=b"/warm"), timeout=30)
        for concurrency in concurrencies:
            rounds = [
                await _round(stub, concurrency, f"/bench/c{concurrency}r{r}", seconds, pids)
                for r in range(repeats)
            ]
            for op in OPERATIONS:
                phases = [rd[op] for rd in rounds if op in rd]
                if phases:
                    rows.append(aggregate(op, concurrency, phases))
    return rows


def workload(
    cluster: EtcdCluster, seconds: float, concurrencies: tuple[int, ...], repeats: int
) -> list[dict]:
    """Rows like the metadata benchmark's (operation ``put``/``get``), against the leader."""
    leader = cluster.wait_ready(30)
    pids = {**cluster.pids(leader), "load generator": os.getpid()}
    return asyncio.run(_workload(leader.address, seconds, concurrencies, repeats, pids))


def flags_shown(cluster: EtcdCluster) -> list[str]:
    """The first member's command line, its temporary paths, ports and token made generic."""
    out = []
    for flag in cluster.flags(cluster.members[0]):
        flag = flag.replace(str(cluster.base_dir), "$DIR").replace(cluster.token, "TOKEN")
        out.append(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", flag))
    return out


def run(
    base_dir: Path,
    seconds: float,
    repeats: int,
    kills: int,
    concurrencies: tuple[int, ...] = (1, 16, 64),
    log=print,
    binary: str | None = None,
) -> dict[str, Any]:
    """The ``etcd`` benchmark's result; ``{"missing": ...}`` when etcd is not installed."""
    binary = binary or find_binary()
    if binary is None:
        log(f"etcd: {MISSING}")
        return {"missing": MISSING}
    out: dict[str, Any] = {
        "version": version(binary),
        "binary": binary,
        "members": 3,
        "value_bytes": len(VALUE),
        "seconds_per_phase": seconds,
        "repeats": repeats,
        "concurrencies": list(concurrencies),
        "timing": {
            name: {"heartbeat_ms": t.heartbeat_ms, "election_ms": t.election_ms}
            for name, t in SETTINGS.items()
        },
        "rows": [],
        "failover": {},
        "failures": {},
        "seconds": {},
    }
    log(
        f"etcd {out['version']}: 3 members; put/get at c={list(concurrencies)}, "
        f"{seconds:g} s phases, {repeats} round(s); {kills} leader kills per timing"
    )

    def measure_workload() -> None:
        with EtcdCluster(binary, base_dir / "workload", DEFAULT) as cluster:
            out["flags"] = flags_shown(cluster)
            out["rows"] = workload(cluster, seconds, concurrencies, repeats)

    _part(out, "workload", log, measure_workload)
    for name, timing in SETTINGS.items():
        _part(
            out,
            f"failover-{name}",
            log,
            lambda n=name, t=timing: _failover(out, base_dir, binary, n, t, kills, log),
        )
    return out


def _failover(
    out: dict, base_dir: Path, binary: str, name: str, timing: Timing, kills: int, log
) -> None:
    log(
        f"etcd failover, {name} timing (heartbeat {timing.heartbeat_ms} ms, election "
        f"timeout {timing.election_ms} ms): {kills} SIGKILLs of the leader"
    )
    with EtcdCluster(binary, base_dir / f"failover-{name}", timing) as cluster:
        out["failover"][name] = etcd_failover.run(cluster, kills, name, log)


def _part(out: dict, name: str, log, fn) -> None:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:  # recorded; the other parts still run
        log(traceback.format_exc())
        out["failures"][name] = f"{type(exc).__name__}: {exc}"
    out["seconds"][name] = round(time.monotonic() - started, 1)
