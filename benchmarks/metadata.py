"""Namespace operation throughput in the NNThroughputBenchmark style.

Drives a fresh NameNode process over gRPC (no client library in the way) with
mkdir, create+complete, stat, list, rename and delete, at several
concurrencies. Each figure is the median of ``repeats`` runs.
"""

from __future__ import annotations

import getpass
import itertools
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

from hafs_api.v1 import common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

OPERATIONS = ("mkdir", "create", "stat", "list", "rename", "delete")


class Driver:
    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = namenode_pb2_grpc.ClientNamenodeStub(self.channel)
        self.client_id = uuid.uuid4().hex
        self.calls = itertools.count(1)
        self.lock = threading.Lock()
        self.user = getpass.getuser()

    def header(self) -> common_pb2.RequestHeader:
        with self.lock:
            call = next(self.calls)
        return common_pb2.RequestHeader(client_id=self.client_id, call_id=call, user=self.user)

    def op(self, name: str, base: str, i: int) -> None:
        s, h = self.stub, self.header()
        path = f"{base}/d{i % 64}/f{i}"
        if name == "mkdir":
            s.Mkdir(pb.MkdirRequest(header=h, path=path, permission=0o755, parents=True))
        elif name == "create":
            st = s.Create(
                pb.CreateRequest(
                    header=h, path=path, permission=0o644, create_parent=True, replication=1
                )
            ).status
            s.Complete(pb.CompleteRequest(header=self.header(), path=path, file_id=st.inode_id))
        elif name == "stat":
            s.GetFileInfo(pb.GetFileInfoRequest(header=h, path=path))
        elif name == "list":
            s.GetListing(pb.GetListingRequest(header=h, path=f"{base}/d{i % 64}", limit=100))
        elif name == "rename":
            s.Rename(pb.RenameRequest(header=h, src=path, dst=f"{path}.r"))
        elif name == "delete":
            s.Delete(pb.DeleteRequest(header=h, path=f"{path}.r", skip_trash=True))

    def close(self) -> None:
        self.channel.close()


def timed(fn: Callable[[int], None], count: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []

    def one(i: int) -> None:
        start = time.perf_counter()
        fn(i)
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    if concurrency == 1:
        for i in range(count):
            one(i)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "ops_per_s": count / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def run(address: str, count: int, concurrencies: tuple[int, ...], repeats: int) -> list[dict]:
    """Each repeat uses a fresh directory; ops in one repeat build on the previous op."""
    driver = Driver(address)
    rows = []
    try:
        for concurrency in concurrencies:
            samples: dict[str, list[dict[str, float]]] = {op: [] for op in OPERATIONS}
            for r in range(repeats):
                base = f"/bench/c{concurrency}r{r}"
                for op in OPERATIONS:
                    if op == "mkdir":  # mkdir a separate tree; files go under base
                        samples[op].append(
                            timed(
                                lambda i, b=base: driver.op("mkdir", b + "m", i), count, concurrency
                            )
                        )
                        continue
                    samples[op].append(
                        timed(lambda i, o=op, b=base: driver.op(o, b, i), count, concurrency)
                    )
            for op in OPERATIONS:
                rows.append(
                    {
                        "operation": op,
                        "concurrency": concurrency,
                        "count": count,
                        "repeats": repeats,
                        "ops_per_s": statistics.median(s["ops_per_s"] for s in samples[op]),
                        "p50_ms": statistics.median(s["p50_ms"] for s in samples[op]),
                        "p99_ms": statistics.median(s["p99_ms"] for s in samples[op]),
                    }
                )
    finally:
        driver.close()
    return rows
