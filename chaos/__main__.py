"""``python -m chaos dev ACTION``: the dev cluster commands behind ``hactl dev``.

``hactl dev ...`` (and ``make run``) exec this with the same arguments; what
each action does is in ``chaos/devctl.py``. State lives under ``--dir``
(default ``.dev/cluster``) and survives restarts.

    dev up [--dir DIR] [--nameservices K] [--namenodes N] [--datanodes M]
           [--foreground] [--timeout S]
    dev status [--dir DIR] [--json]
    dev kill|stop|start|pause|resume [--dir DIR] [--timeout S] NODE
    dev down [--dir DIR] [--timeout S]
    run [--duration S] [--seed N] [--faults LIST] [--nameservices K] [--json FILE] ...

``run`` is ``hactl chaos run``: one chaos run (``chaos/runner.py``), its report
on stdout (``chaos/report.py``), exit status 1 on any violation.

``--namenodes`` counts each nameservice's NameNodes; the DataNodes are shared.
"""

from __future__ import annotations

import argparse
import random
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
    chaos = sub.add_parser("run", help="one chaos run: faults, workloads, checkers, a report")
    chaos.add_argument("--duration", type=float, default=240.0, help="seconds of faults")
    chaos.add_argument("--seed", type=int, default=None, help="default: random, printed")
    chaos.add_argument("--faults", default="all", help="comma-separated kinds, 'all', 'network'")
    chaos.add_argument("--nameservices", type=int, default=1)
    chaos.add_argument("--namenodes", type=int, default=3, help="per nameservice")
    chaos.add_argument("--datanodes", type=int, default=4)
    chaos.add_argument("--min-faults", type=int, default=0, help="inject at least this many")
    chaos.add_argument(
        "--workloads", default="register,set,data", help="comma-separated: register, set, data"
    )
    chaos.add_argument("--json", default=None, metavar="FILE", help="write the report as JSON")
    chaos.add_argument("--workdir", default=None, help="keep the run's directory under here")
    chaos.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return top


def chaos_run(args: argparse.Namespace) -> int:
    import logging

    from chaos import faults, report, runner

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        kinds = faults.parse_kinds(args.faults)
    except ValueError as e:
        print(f"hactl chaos run: --faults: {e}", file=sys.stderr)
        return 2
    from chaos.workloads import WORKLOADS

    workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    if not workloads or not set(workloads) <= set(WORKLOADS):
        print(f"hactl chaos run: --workloads: pick from {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    for name in ("duration", "nameservices", "namenodes", "datanodes"):
        if getattr(args, name) <= 0:
            print(f"hactl chaos run: --{name} must be positive", file=sys.stderr)
            return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"hactl chaos run: seed {seed}", file=sys.stderr, flush=True)
    cfg = runner.RunConfig(
        duration=args.duration,
        seed=seed,
        faults=kinds,
        nameservices=args.nameservices,
        namenodes=args.namenodes,
        datanodes=args.datanodes,
        min_faults=args.min_faults,
        workload_kinds=workloads,
        workdir=Path(args.workdir) if args.workdir else None,
        keep=bool(args.workdir),
    )
    result = runner.run(cfg)
    print(report.text(result), flush=True)
    if args.json:
        report.write_json(result, args.json)
    return 0 if result.ok else 1


def run(args: argparse.Namespace) -> int:
    if args.command == "run":
        return chaos_run(args)
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
        print(f"hactl dev {getattr(args, 'action', args.command)}: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
