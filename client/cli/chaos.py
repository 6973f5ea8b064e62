"""``hactl chaos run``: one chaos run against a fresh local cluster, and its report.

The command replaces hactl with ``python -m chaos run ...`` (``os.execv``), so
the client never imports chaos or server code; what a run does is in
``chaos/runner.py`` and its report in ``chaos/report.py``. Options are declared
here too, so ``--help`` and usage errors need no exec. The exit status is 0
when every checker passed, 1 on any violation, 2 on a usage error.

Imports: the standard library, click and ``client.cli``.
"""

from __future__ import annotations

import click

from client.cli.output import exec_module

FAULTS_HELP = (
    "Comma-separated fault kinds, 'all' or 'network': kill-leader, kill-follower, "
    "kill-datanode, kill-group, kill-during-election, pause-leader, pause-datanode, "
    "isolate-leader, split, bridge, one-way-leader, partition-datanode, partition-client, "
    "corrupt-replica, full-disk."
)


@click.group("chaos")
def chaos() -> None:
    """Fault injection against a real local cluster, with checkers (needs root for
    partitions and full disks)."""


@chaos.command("run")
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=240.0,
    show_default=True,
    help="Seconds of faults.",
)
@click.option("--seed", type=int, default=None, help="Replay a run  [default: random, printed]")
@click.option("--faults", default="all", show_default=True, help=FAULTS_HELP)
@click.option("--nameservices", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--namenodes",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="NameNodes per nameservice.",
)
@click.option("--datanodes", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--min-faults",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep injecting past the duration until this many faults.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report as JSON to FILE.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the run's cluster directory (logs, data, history) under here.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def run(
    duration: float,
    seed: int | None,
    faults: str,
    nameservices: int,
    namenodes: int,
    datanodes: int,
    min_faults: int,
    json_file: str | None,
    workdir: str | None,
    verbose: bool,
) -> None:
    """Start a cluster, run the register, set and data workloads while injecting faults,
    heal, check everything, print the report; exit 1 on any violation."""
    args = [
        "--duration", str(duration),
        "--faults", faults,
        "--nameservices", str(nameservices),
        "--namenodes", str(namenodes),
        "--datanodes", str(datanodes),
        "--min-faults", str(min_faults),
    ]  # fmt: skip
    if seed is not None:
        args += ["--seed", str(seed)]
    if json_file:
        args += ["--json", json_file]
    if workdir:
        args += ["--workdir", workdir]
    if verbose:
        args.append("--verbose")
    exec_module("chaos run", "chaos", "run", *args)
