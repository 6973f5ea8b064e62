"""Profile the NameNodes under one metadata operation: where their Python time goes.

``python -m benchmarks.profile [--op mkdir] [--concurrency 64] [--seconds 10]``
starts a fresh dev cluster (3 NameNodes, as ``make bench``), runs the metadata
benchmark's round (``benchmarks.metadata.one_round``) and, during the phase of
``--op``, records every NameNode with ``py-spy record --gil``: only the thread
that holds the GIL is sampled, so the shares are of the Python time that
serialises the process (a NameNode's ceiling), not of threads asleep.

It writes py-spy's raw stacks (one file per NameNode, for flame graphs) and
``summary.json`` under ``--out``, and prints per NameNode the share of samples
by package (walking out from the innermost frame, the first in a known package,
such as grpc, pysyncobj, sqlalchemy, cryptography or the standard library's
threading, or in one of hafs's own modules) and the heaviest inclusive frames.
``docs/performance.md`` quotes its output.

py-spy ships in the ``bench`` extra; it needs ptrace rights on the NameNodes
(root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import grpc

from benchmarks import metadata
from benchmarks.common import running
from hafs_api.v1 import namenode_pb2_grpc

RESULTS = Path(__file__).resolve().parent / "results"
# The innermost frame from one of these decides a sample's package.
PACKAGES = (
    "grpc",
    "pysyncobj",
    "sqlalchemy",
    "sqlite3",
    "cryptography",
    "google/protobuf",
    "prometheus_client",
    "concurrent/futures",
    "threading.py",
    "queue.py",
    "json",
    "zlib",
    "pickle",
)
OURS = ("ha_namenode/", "hafs_api/")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?):(?P<line>\d+)\)$")


def _file(frame: str) -> str:
    m = _FRAME.match(frame)
    return m.group("file") if m else frame


def package(stack: list[str]) -> str:
    """The package a sample is charged to: walking out from the innermost frame, the
    first that is in a known package or in hafs's own modules (``hafs:<path>``);
    ``other`` when none is. So a library's frames count as the library's time even
    when hafs called them, and hafs's own Python as hafs's."""
    for frame in reversed(stack[1:]):  # stack[0] names the thread
        path = _file(frame)
        for name in PACKAGES:
            if f"/{name}" in path or path.startswith(name):
                return name.removesuffix(".py")
        for root in OURS:
            if root in path:
                return "hafs:" + path[path.index(root) :]
    return "other"


def summarise(raw: str, top: int = 15) -> dict:
    """Shares of one py-spy ``--format raw`` file: by package and by inclusive frame."""
    by_package: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        n = int(count)
        stack = stack_text.split(";")
        total += n
        by_package[package(stack)] += n
        for frame in set(stack[1:]):  # the thread's name is not a frame
            inclusive[frame] += n
    if not total:
        return {"samples": 0, "packages": {}, "frames": {}}
    skip = ("Thread.run ", "Thread._bootstrap ", "Thread._bootstrap_inner ")
    frames = [(k, v) for k, v in inclusive.most_common() if not k.startswith(skip)]
    return {
        "samples": total,
        "packages": {k: round(v / total, 4) for k, v in by_package.most_common()},
        "frames": {k: round(v / total, 4) for k, v in frames[:top]},
    }


def console(name: str, s: dict) -> str:
    lines = [f"{name}: {s['samples']} samples with the GIL"]
    lines += [f"  {share:6.1%}  {pkg}" for pkg, share in s["packages"].items()]
    lines.append("  heaviest frames (inclusive):")
    lines += [f"  {share:6.1%}  {frame}" for frame, share in s["frames"].items()]
    return "\n".join(lines)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    return found


@contextmanager
def recording(op: str, wanted: str, pids: dict[str, int], out: Path, seconds: float) -> Iterator:
    """py-spy on every NameNode for the phase of ``wanted``; nothing for other phases."""
    if op != wanted:
        yield
        return
    spy = _py_spy()
    record = [spy, "record", "--gil", "--nonblocking", "-r", "200", "-f", "raw"]
    record += ["-d", str(int(seconds) + 1)]
    procs = [
        subprocess.Popen(
            [*record, "-o", str(out / f"{name}.txt"), "-p", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for p in procs:
            try:
                _, err = p.communicate(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                continue
            if p.returncode:
                print(f"py-spy failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)


async def _drive(address: str, op: str, concurrency: int, seconds: float, watch) -> dict:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = namenode_pb2_grpc.ClientNamenodeStub(channel)
        workers = [metadata.Worker(stub, getpass.getuser()) for _ in range(concurrency)]
        phases = await metadata.one_round(workers, "/profile", seconds, watch=watch)
    return phases[op].summary() if op in phases else {}


def main(argv: list[str] | None = None) -> int:
    from chaos.cluster import LocalCluster  # the harness, as benchmarks.__main__ uses it

    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    ap.add_argument("--op", default="mkdir", choices=metadata.OPERATIONS)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--namenodes", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    _py_spy()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    out = args.out or RESULTS / f"profile-{stamp}-{args.op}-c{args.concurrency}"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hafs-profile-") as tmp:
        cluster = LocalCluster(
            Path(tmp), namenodes=args.namenodes, namespace={"trash_interval_s": 0}
        )
        with running(cluster):
            leader = cluster.wait_leader(30)
            time.sleep(1.0)  # the first heartbeats and the trash check settle
            pids = {
                ("leader" if n is leader else f"follower-{n.node_id}"): n.process.pid
                for n in cluster.namenode_nodes
                if n.process is not None
            }

            def watch(op: str):
                return recording(op, args.op, pids, out, args.seconds)

            phase = asyncio.run(
                _drive(leader.address, args.op, args.concurrency, args.seconds, watch)
            )
    report = {
        "op": args.op,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "namenodes": args.namenodes,
        "phase": phase,
        "profiles": {},
    }
    print(f"{args.op}, {args.concurrency} in flight, under py-spy: {phase}")
    for name in pids:
        raw = out / f"{name}.txt"
        if raw.exists():
            report["profiles"][name] = summarise(raw.read_text())
            print(console(name, report["profiles"][name]))
    (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
