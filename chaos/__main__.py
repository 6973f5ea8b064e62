"""``python -m chaos dev ACTION``: the dev cluster commands behind ``hactl dev``.

``hactl dev ...`` (and ``make run``) exec this with the same arguments; what
each action does is in ``chaos/devctl.py``. State lives under ``--dir``
(default ``.dev/cluster``) and survives restarts.

    dev up [--dir DIR] [--nameservices K] [--namenodes N] [--datanodes M]
           [--foreground] [--timeout S]
    dev status [--dir DIR] [--json]
    dev kill|stop|start|pause|resume [--dir DIR] [--timeout S] NODE
    dev down [--dir DIR] [--timeout S]

``--namenodes`` counts each nameservice's NameNodes; the DataNodes are shared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaos import devctl

DEFAULT_DIR = ".dev/cluster"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m chaos")
    sub = top.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="local development cluster")
    actions = dev.add_subparsers(dest="action", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help)
        p.add_argument("--dir", default=DEFAULT_DIR, help="the cluster's directory")
        return p

    up = action("up", "start the cluster (in the background unless --foreground)")
    up.add_argument(
        "--namenodes", type=int, default=None, help="per nameservice; default: as recorded, else 3"
    )
    up.add_argument("--datanodes", type=int, default=None, help="default: as recorded, else 3")
    up.add_argument(
        "--nameservices", type=int, default=None, help="ns1..nsK; default: as recorded, else 1"
    )
    up.add_argument("--foreground", action="store_true", help="stay until Ctrl-C, then stop all")
    up.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the leaders and DataNodes"
    )
    status = action("status", "list the nodes: pid, alive, role, addresses")
    status.add_argument("--json", action="store_true")
    for name in devctl.NODE_ACTIONS:
        node = action(name, f"{name} one node")
        node.add_argument("--timeout", type=float, default=30.0)
        node.add_argument("node", metavar="NODE")
    down = action("down", "stop every process of the cluster")
    down.add_argument("--timeout", type=float, default=10.0, help="SIGTERM grace before SIGKILL")
    return top


def run(args: argparse.Namespace) -> int:
    base = Path(args.dir).resolve()
    if args.action == "up":
        if args.namenodes is not None and args.namenodes < 1:
            raise devctl.UsageError("--namenodes: a nameservice needs at least one NameNode")
        if args.nameservices is not None and args.nameservices < 1:
            raise devctl.UsageError("--nameservices: a cluster needs at least one nameservice")
        if args.datanodes is not None and args.datanodes < 0:
            raise devctl.UsageError("--datanodes: must not be negative")
        return devctl.up(
            base,
            namenodes=args.namenodes,
            datanodes=args.datanodes,
            nameservices=args.nameservices,
            foreground=args.foreground,
            timeout=args.timeout,
        )
    if args.action == "status":
        return devctl.status(base, as_json=args.json)
    if args.action == "down":
        return devctl.down(base, timeout=args.timeout)
    return devctl.node_action(base, args.action, args.node, timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except devctl.DevError as e:
        print(f"hactl dev {args.action}: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
