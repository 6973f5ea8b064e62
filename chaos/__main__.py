"""``python -m chaos dev up``: run a local dev cluster in the foreground until Ctrl-C.

``hactl dev up`` and ``make run`` start this. State lives under ``--dir``
(default ``.dev/cluster``) and survives restarts.
"""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import threading
from pathlib import Path

from chaos.cluster import LocalCluster


def dev_up(args: argparse.Namespace) -> int:
    base = Path(args.dir).resolve()
    cluster = LocalCluster(base, namenodes=args.namenodes)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print(f"starting a hafs dev cluster in {base} ...", flush=True)
    try:
        cluster.start()
    except Exception as e:
        print(f"the dev cluster did not start: {e}\n{cluster.logs()}", file=sys.stderr)
        return 1
    try:  # from here on, whatever happens, the cluster's processes are stopped
        print(banner(cluster, base), flush=True)
        while not stopping.wait(1.0):
            dead = [n.node_id for n in cluster.nodes if not n.running]
            if dead:
                print(f"node(s) {', '.join(dead)} exited; see the logs", file=sys.stderr)
                return 1
    finally:
        cluster.stop()
        print("hafs dev cluster stopped", flush=True)
    return 0


def banner(cluster: LocalCluster, base: Path) -> str:
    user = getpass.getuser()
    nodes = ", ".join(f"{n.node_id}={n.address}" for n in cluster.nodes)
    return f"""
hafs dev cluster is up (Ctrl-C stops it)
  nameservice  {cluster.nameservice}
  namenodes    {nodes}
  logs         {base}/*.log
  client conf  {cluster.client_conf}

In another shell, as {user} (the superuser of this cluster):
  export HAFS_CONF={cluster.client_conf}
  .venv/bin/hactl fs -mkdir -p /user/{user}
  .venv/bin/hactl fs -ls /
  .venv/bin/hactl ha status
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="local development cluster")
    dev_sub = dev.add_subparsers(dest="action", required=True)
    up = dev_sub.add_parser("up", help="start a dev cluster in the foreground")
    up.add_argument("--dir", default=".dev/cluster")
    up.add_argument("--namenodes", type=int, default=1)
    args = parser.parse_args(argv)
    return dev_up(args)


if __name__ == "__main__":
    sys.exit(main())
