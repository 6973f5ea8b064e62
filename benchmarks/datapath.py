"""Data path throughput: one client putting and getting one large file.

On 3 NameNodes and 3 DataNodes (the default 128 MiB blocks), one client in this
process copies a file of ``size`` bytes in and out of hafs, at replication 3
and at replication 1:

- ``put``: ``Client.put`` from a local file on the same disk (the path users
  take: a ``._COPYING_`` temporary renamed into place when complete);
- ``write``: ``open("wb")`` fed 4 MiB writes from memory (no local read);
- ``get``: ``Client.get`` to a local file;
- ``read``: ``open("rb")`` read 4 MiB at a time, the bytes discarded (no local
  write).

Beside them, in the same run and with the same size, two ceilings:

- ``grpc``: a stream of 1 MiB ``bytes`` messages through a bare gRPC server in
  this process on 127.0.0.1 (the same grpcio; no ``.proto``: a generic handler
  whose serializers are left out, so bytes pass through as they are), in both
  directions: ``upload`` (client streaming, the direction of a put) and
  ``download`` (server streaming, the direction of a get);
- ``cp``: the local file copied by ``cp``, and by ``cp`` then ``sync`` of the
  copy (a DataNode fsyncs each replica when it finalizes it). The page cache is
  not dropped, so every source is read from memory;
- ``local write``: the bytes written from memory to a new local file in 1 MiB
  ``write`` calls, then fsynced: what the disk costs one DataNode replica (and
  ``get`` its local copy) without hafs in the way.

Page-cache writes on a VM: where the guest hands memory it freed back to the
host (virtio-balloon free page reporting, as on the 2-core VM this was written
on), the next write into that memory costs the host a fault per page: there,
~2.7 CPU seconds per GiB (~370 MiB/s) against ~0.2 s (>5 GiB/s) into pages
still held, and pages freed for ~10 s are handed back. Every figure that
writes into the page cache (put, write, get, cp, local write and the
DataNodes' replicas) pays this whenever the cache grows, which is part of
their spread from round to round. The benchmark does not try to hide it.

Each figure is the median of ``runs`` rounds (one round runs every operation
once, interleaved, so drift on the shared machine hits them alike), in MiB/s.
CPU seconds of this process (the client) and of the DataNodes are recorded
for each operation, as medians too.

Imports: the standard library, grpc, ``client``, ``chaos.cluster`` and
``benchmarks.common``.
"""

from __future__ import annotations

import dataclasses
import filecmp
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from benchmarks.common import cpu_seconds, median
from chaos.cluster import LocalCluster
from client import Client

MiB = 1 << 20
MESSAGE = MiB  # raw gRPC message size
WRITE = 4 * MiB  # streaming write and read size
REPLICATIONS = (3, 1)
SERVICE = "hafs.bench.Stream"  # the raw gRPC ceiling's service; no .proto behind it


# ---- the raw gRPC ceiling -------------------------------------------------------------


def _chunks(size: int, chunk: bytes) -> Iterator[bytes]:
    whole, rest = divmod(size, len(chunk))
    for _ in range(whole):
        yield chunk
    if rest:
        yield chunk[:rest]


class RawStream:
    """A bare gRPC server on 127.0.0.1: ``Upload`` counts bytes, ``Download`` sends them."""

    def __init__(self) -> None:
        self.chunk = os.urandom(MESSAGE)
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Upload": grpc.stream_unary_rpc_method_handler(self._upload),
                "Download": grpc.unary_stream_rpc_method_handler(self._download),
            },
        )
        self.server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="raw"))
        self.server.add_generic_rpc_handlers((handler,))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.upload_call = self.channel.stream_unary(f"/{SERVICE}/Upload")
        self.download_call = self.channel.unary_stream(f"/{SERVICE}/Download")

    def _upload(self, requests: Iterator[bytes], context: Any) -> bytes:
        return sum(len(m) for m in requests).to_bytes(8, "big")

    def _download(self, request: bytes, context: Any) -> Iterator[bytes]:
        return _chunks(int.from_bytes(request, "big"), self.chunk)

    def upload(self, size: int) -> None:
        got = int.from_bytes(self.upload_call(_chunks(size, self.chunk), timeout=600), "big")
        if got != size:
            raise RuntimeError(f"raw upload: the server counted {got} bytes, not {size}")

    def download(self, size: int) -> None:
        got = sum(len(m) for m in self.download_call(size.to_bytes(8, "big"), timeout=600))
        if got != size:
            raise RuntimeError(f"raw download: received {got} bytes, not {size}")

    def close(self) -> None:
        self.channel.close()
        self.server.stop(0)


# ---- the hafs operations ----------------------------------------------------------------


def _write(fs: Client, path: str, size: int, replication: int, chunk: bytes) -> None:
    with fs.open(path, "wb", replication=replication) as f:
        for piece in _chunks(size, chunk):
            f.write(piece)


def _read(fs: Client, path: str, size: int) -> None:
    got = 0
    with fs.open(path, "rb") as f:
        while data := f.read(WRITE):
            got += len(data)
    if got != size:
        raise RuntimeError(f"read {path}: {got} bytes, not {size}")


def _check_size(path: Path, size: int) -> None:
    if path.stat().st_size != size:
        raise RuntimeError(f"{path}: {path.stat().st_size} bytes, not {size}")


def _cp(src: Path, dst: Path, sync: bool) -> None:
    subprocess.run(["cp", str(src), str(dst)], check=True, timeout=600)
    if sync:
        subprocess.run(["sync", str(dst)], check=True, timeout=600)


def _local_write(path: Path, size: int, chunk: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for piece in _chunks(size, chunk):
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_source(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MiB)
            f.write(os.urandom(n))
            left -= n


# ---- measuring --------------------------------------------------------------------------


def _timed(action: Callable[[], None], pids: dict[str, int]) -> dict[str, Any]:
    """Run ``action``; its wall seconds and the CPU seconds of each pid while it ran."""
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_s": {k: cpu_seconds(p) - before[k] for k, p in pids.items()}}


def _summary(samples: list[dict[str, Any]], size: int) -> dict[str, Any]:
    seconds = [s["seconds"] for s in samples]
    keys = samples[0]["cpu_s"].keys()
    return {
        "mib_per_s": median([size / MiB / s for s in seconds]),
        "seconds": median(seconds),
        "runs_mib_per_s": [round(size / MiB / s, 1) for s in seconds],
        "cpu_s": {k: round(median([s["cpu_s"][k] for s in samples]), 2) for k in keys},
    }


def run(cluster: LocalCluster, workdir: Path, size: int, runs: int, log=print) -> dict[str, Any]:
    """Measure every operation ``runs`` times on ``cluster``; medians in MiB/s."""
    workdir.mkdir(parents=True, exist_ok=True)
    need = 8 * size + 2 * 1024 * MiB  # replicas (3 + 1 + temporaries), local copies, slack
    free = shutil.disk_usage(workdir).free
    if free < need:
        raise RuntimeError(f"needs {need / MiB:,.0f} MiB free in {workdir}, has {free / MiB:,.0f}")
    src, dst, copy = workdir / "source.bin", workdir / "got.bin", workdir / "copy.bin"
    _make_source(src, size)
    datanodes = {n.node_id: n.process.pid for n in cluster.datanode_nodes if n.process}
    namenodes = {n.node_id: n.process.pid for n in cluster.namenode_nodes if n.process}
    pids = {"client": os.getpid(), **datanodes, **namenodes}
    samples: dict[str, list[dict[str, Any]]] = {}
    raw = RawStream()
    base = Client(addresses=cluster.addresses)
    clients = {
        r: Client(
            config=dataclasses.replace(
                base.config, client=dataclasses.replace(base.config.client, replication=r)
            )
        )
        for r in REPLICATIONS
    }
    memory = os.urandom(WRITE)
    block_size = 0
    try:
        base.mkdir("/bench", parents=True, exist_ok=True)
        raw.upload(64 * MiB)  # warm the channel
        for n in range(runs):
            steps: list[tuple[str, Callable[[], None]]] = [
                ("grpc upload", lambda: raw.upload(size)),
                ("grpc download", lambda: raw.download(size)),
                ("cp", lambda: _cp(src, copy, sync=False)),
                ("cp + sync", lambda: _cp(src, copy, sync=True)),
                ("local write", lambda: _local_write(copy, size, raw.chunk)),
            ]
            for r, fs in clients.items():
                remote = f"/bench/r{r}"
                steps += [
                    (f"put r{r}", lambda fs=fs, p=remote: fs.put(src, p + ".put", overwrite=True)),
                    (
                        f"write r{r}",
                        lambda fs=fs, p=remote, r=r: _write(fs, p + ".w", size, r, memory),
                    ),
                    (f"get r{r}", lambda fs=fs, p=remote: fs.get(p + ".put", dst, overwrite=True)),
                    (f"read r{r}", lambda fs=fs, p=remote: _read(fs, p + ".put", size)),
                ]
            for name, action in steps:
                sample = _timed(action, pids)
                samples.setdefault(name, []).append(sample)
                rate = size / MiB / sample["seconds"]
                log(f"  round {n + 1}/{runs}: {name:<13} {rate:8.1f} MiB/s")
                if name.startswith(("cp", "local")):
                    _check_size(copy, size)
                    copy.unlink()
                if name.startswith("get"):
                    _check_size(dst, size)
                    if n == 0:
                        _same(src, dst)  # untimed: the bytes came back as they went in
                    dst.unlink()
            for r, fs in clients.items():
                block_size = _check_replication(fs, f"/bench/r{r}.put", r, size)
    finally:
        raw.close()
        for fs in (base, *clients.values()):
            fs.close()
        for path in (src, dst, copy):
            path.unlink(missing_ok=True)
    figures = {name: _summary(s, size) for name, s in samples.items()}
    out = _result(figures, size, runs, list(datanodes), list(namenodes))
    out["block_size_bytes"] = block_size
    return out


def _check_replication(fs: Client, path: str, replication: int, size: int) -> int:
    """The file is all there, with ``replication`` replicas asked; its block size."""
    status = fs.stat(path)
    if status.length != size or status.replication != replication:
        raise RuntimeError(
            f"{path}: {status.length} bytes at replication {status.replication}, "
            f"not {size} at {replication}"
        )
    return status.block_size


def _same(a: Path, b: Path) -> None:
    if not filecmp.cmp(a, b, shallow=False):
        raise RuntimeError(f"{b} differs from {a}")


def _result(
    figures: dict[str, dict], size: int, runs: int, datanodes: list[str], namenodes: list[str]
) -> dict[str, Any]:
    for fig in figures.values():  # CPU: client, DataNodes together, NameNodes together
        cpu = fig.pop("cpu_s")
        fig["cpu_s"] = {
            "client": cpu["client"],
            "datanodes": round(sum(cpu[d] for d in datanodes), 2),
            "namenodes": round(sum(cpu[n] for n in namenodes), 2),
            "per_datanode": {d: cpu[d] for d in datanodes},
        }
    up = figures["grpc upload"]["mib_per_s"]
    down = figures["grpc download"]["mib_per_s"]
    get, put = figures["get r3"]["mib_per_s"], figures["put r1"]["mib_per_s"]
    return {
        "size_bytes": size,
        "runs": runs,
        "message_bytes": MESSAGE,
        "write_bytes": WRITE,
        "figures": figures,
        "ratios": {
            "get_vs_grpc_download": get / down,
            "put_r1_vs_grpc_upload": put / up,
            "get_r1_vs_grpc_download": figures["get r1"]["mib_per_s"] / down,
            "put_r3_vs_grpc_upload": figures["put r3"]["mib_per_s"] / up,
            "read_r3_vs_grpc_download": figures["read r3"]["mib_per_s"] / down,
            "write_r1_vs_grpc_upload": figures["write r1"]["mib_per_s"] / up,
            "put_r1_vs_local_write": put / figures["local write"]["mib_per_s"],
            "get_vs_local_write": get / figures["local write"]["mib_per_s"],
        },
        "targets": {
            "get >= 0.6x raw gRPC stream": {"ratio": get / down, "met": get / down >= 0.6},
            "put r1 >= 0.5x raw gRPC stream": {"ratio": put / up, "met": put / up >= 0.5},
        },
    }
