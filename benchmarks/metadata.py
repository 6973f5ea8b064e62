"""Namespace operation throughput in the NNThroughputBenchmark style.

``C`` concurrent clients run one operation for ``T`` seconds against the
leader, straight over gRPC (``grpc.aio``: one event loop, ``C`` calls in
flight, so the load generator costs little CPU on a 2-core machine). Each
client has its own client id and call counter, as a real client would. The
operations, in order, each building on the previous one:

- ``mkdir``: a new directory in a separate tree (parents created as needed);
- ``create``: create + complete of an empty file (two calls, one operation);
- ``stat``: GetFileInfo of a file made by ``create`` (a linearizable read);
- ``list``: GetListing of a directory of those files, 100 entries a page;
- ``rename``: each file made by ``create`` to ``<name>.r``;
- ``delete``: each renamed file (skipping the trash).

Time-bounded: a phase ends after ``T`` seconds, or earlier when it runs out
of files (``rename`` and ``delete`` can only touch what ``create`` made), so
every row reports its own duration and operation count. A failed call counts
as an error, not as an operation. Each figure is the median of ``repeats``.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from benchmarks.common import cpu_seconds, median, percentile
from hafs_api.v1 import common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

OPERATIONS = ("mkdir", "create", "stat", "list", "rename", "delete")
CALL_TIMEOUT_S = 30.0
DIRS = 64  # files spread over this many directories

W = TypeVar("W")  # whatever a simulated client is: a ``Worker`` here, a stub for a peer


class Worker:
    """One simulated client: its own client id and call counter."""

    def __init__(self, stub: namenode_pb2_grpc.ClientNamenodeStub, user: str) -> None:
        self.stub = stub
        self.user = user
        self.client_id = uuid.uuid4().hex
        self.calls = itertools.count(1)

    def header(self) -> common_pb2.RequestHeader:
        return common_pb2.RequestHeader(
            client_id=self.client_id, call_id=next(self.calls), user=self.user
        )


@dataclass
class Phase:
    """What one timed phase did: latencies of successful calls, the items it touched."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    done: list[int] = field(default_factory=list)  # item numbers that succeeded
    errors: Counter = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU cores used, per process

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies)
        return {
            "cpu": self.cpu,
            "ops": len(ordered),
            "seconds": self.seconds,
            "ops_per_s": len(ordered) / self.seconds if self.seconds else 0.0,
            "p50_ms": percentile(ordered, 50) * 1000,
            "p99_ms": percentile(ordered, 99) * 1000,
            "errors": sum(self.errors.values()),
            "error_codes": dict(self.errors),
        }


async def timed_phase(
    workers: Sequence[W],
    fn: Callable[[W, int], Awaitable[None]],
    seconds: float,
    items: int | None = None,
    pids: dict[str, int] | None = None,
) -> Phase:
    """Run ``fn(worker, i)`` for i = 0, 1, ... from every worker until time or items run out.

    ``pids`` (name to process id): also measure how many CPU cores each used. Shared
    with the peers' benchmarks (``benchmarks.peers``): any gRPC service, any workers.
    """
    phase = Phase()
    pids = pids or {}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    counter = itertools.count()
    stop_at = time.perf_counter() + seconds

    async def loop(worker: W) -> None:
        while time.perf_counter() < stop_at:
            i = next(counter)
            if items is not None and i >= items:
                return
            started = time.perf_counter()
            try:
                await fn(worker, i)
            except grpc.aio.AioRpcError as exc:
                phase.errors[exc.code().name] += 1
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.done.append(i)

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in workers))
    phase.seconds = time.perf_counter() - started
    phase.cpu = {
        name: round((cpu_seconds(pid) - cpu_before[name]) / phase.seconds, 2)
        for name, pid in pids.items()
    }
    return phase


async def one_round(
    workers: list[Worker],
    base: str,
    seconds: float,
    pids: dict[str, int] | None = None,
    watch: Callable[[str], AbstractContextManager] | None = None,
) -> dict[str, Phase]:
    """The six operations once, under ``base``; each phase builds on the one before.

    ``watch(operation)``: a context entered around each phase (the profiler's hook)."""
    t = CALL_TIMEOUT_S

    async def timed(fn, items: int | None = None) -> Phase:
        name = "list" if fn.__name__ == "listing" else fn.__name__
        with watch(name) if watch else nullcontext():
            return await timed_phase(workers, fn, seconds, items, pids)

    def path(i: int) -> str:
        return f"{base}/d{i % DIRS}/f{i}"

    async def mkdir(w: Worker, i: int) -> None:
        await w.stub.Mkdir(
            pb.MkdirRequest(
                header=w.header(), path=f"{base}m/d{i % DIRS}/f{i}", permission=0o755, parents=True
            ),
            timeout=t,
        )

    async def create(w: Worker, i: int) -> None:
        reply = await w.stub.Create(
            pb.CreateRequest(
                header=w.header(), path=path(i), permission=0o644, create_parent=True, replication=1
            ),
            timeout=t,
        )
        await w.stub.Complete(
            pb.CompleteRequest(header=w.header(), path=path(i), file_id=reply.status.inode_id),
            timeout=t,
        )

    out = {"mkdir": await timed(mkdir)}
    out["create"] = await timed(create)
    made = sorted(out["create"].done)
    if not made:
        return out

    async def stat(w: Worker, i: int) -> None:
        p = path(made[i % len(made)])
        await w.stub.GetFileInfo(pb.GetFileInfoRequest(header=w.header(), path=p), timeout=t)

    async def listing(w: Worker, i: int) -> None:
        d = f"{base}/d{made[i % len(made)] % DIRS}"
        await w.stub.GetListing(
            pb.GetListingRequest(header=w.header(), path=d, limit=100), timeout=t
        )

    async def rename(w: Worker, i: int) -> None:
        p = path(made[i])
        await w.stub.Rename(pb.RenameRequest(header=w.header(), src=p, dst=f"{p}.r"), timeout=t)

    out["stat"] = await timed(stat)
    out["list"] = await timed(listing)
    out["rename"] = await timed(rename, len(made))
    renamed = sorted(made[i] for i in out["rename"].done)

    async def delete(w: Worker, i: int) -> None:
        p = f"{path(renamed[i])}.r"
        await w.stub.Delete(pb.DeleteRequest(header=w.header(), path=p, skip_trash=True), timeout=t)

    out["delete"] = await timed(delete, len(renamed))
    return out


def aggregate(op: str, concurrency: int, phases: Sequence[Phase]) -> dict:
    """One row from the rounds of one (operation, concurrency): medians of each figure,
    totals of operations and errors, the CPU of the middle round."""
    samples = [p.summary() for p in phases]
    return {
        "operation": op,
        "concurrency": concurrency,
        "repeats": len(samples),
        "ops": sum(s["ops"] for s in samples),
        "seconds": median([s["seconds"] for s in samples]),
        "ops_per_s": median([s["ops_per_s"] for s in samples]),
        "p50_ms": median([s["p50_ms"] for s in samples]),
        "p99_ms": median([s["p99_ms"] for s in samples]),
        "errors": sum(s["errors"] for s in samples),
        "error_codes": dict(sum((Counter(s["error_codes"]) for s in samples), Counter())),
        "cpu_cores": samples[len(samples) // 2]["cpu"],
    }


async def _run(
    address: str,
    seconds: float,
    concurrencies: tuple[int, ...],
    repeats: int,
    tag: str,
    pids: dict[str, int] | None,
) -> list[dict]:
    user = getpass.getuser()
    rows = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
        warm = Worker(stub, user)
        await stub.GetFileInfo(pb.GetFileInfoRequest(header=warm.header(), path="/"), timeout=30)
        for concurrency in concurrencies:
            rounds = []
            for r in range(repeats):
                workers = [Worker(stub, user) for _ in range(concurrency)]
                base = f"/bench/{tag}/c{concurrency}r{r}"
                rounds.append(await one_round(workers, base, seconds, pids))
            for op in OPERATIONS:
                phases = [rd[op] for rd in rounds if op in rd]
                if phases:
                    rows.append(aggregate(op, concurrency, phases))
    return rows


def run(
    address: str,
    seconds: float,
    concurrencies: tuple[int, ...] = (1, 16, 64),
    repeats: int = 1,
    tag: str = "run",
    pids: dict[str, int] | None = None,
) -> list[dict]:
    """One row per (operation, concurrency), medians over ``repeats`` rounds.

    ``pids`` (name to process id): each row also says how many CPU cores each
    process used during the phase (of the middle round), to show what saturates.
    """
    return asyncio.run(_run(address, seconds, concurrencies, repeats, tag, pids))
