"""``python -m benchmarks [--quick]`` (``make bench``): run against a fresh cluster, print, write JSON."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks import metadata
from chaos.cluster import LocalCluster

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller counts, one repeat")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    count, repeats = (300, 1) if args.quick else (2000, 3)
    with tempfile.TemporaryDirectory(prefix="hafs-bench-") as tmp:
        cluster = LocalCluster(Path(tmp), namespace={"trash_interval_s": 0})
        with cluster:
            rows = metadata.run(cluster.addresses[0], count, (1, 16, 64), repeats)
    print(f"{'operation':<10} {'conc':>5} {'ops/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(f"{row['operation']:<10} {row['concurrency']:>5} {row['ops_per_s']:>10.0f} "
              f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    stamp = datetime.datetime.now(datetime.UTC)
    out = args.out or RESULTS / f"{stamp:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": stamp.isoformat(timespec="seconds"), "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "setup": "1 NameNode process, SQLite synchronous=FULL, client on the same host",
        "metadata": rows}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
