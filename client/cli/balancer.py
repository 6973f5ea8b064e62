"""``hactl balancer``: move replicas until every DataNode's usage is within a threshold
of the mean, like ``hdfs balancer``. The balancer runs inside the nameservice's
leader; this command starts it, follows it, and can stop it::

    hactl balancer [--threshold PCT] [--bandwidth 10MB] [--max-moves N]
                   [--exclude DN,...] [--nameservice NAME] [--no-wait]
    hactl balancer --status | --stop

Waiting (the default), it prints HDFS's table, one line per iteration::

    Time Stamp               Iteration#  Bytes Already Moved  Bytes Left To Move  Moves In Flight
    Nov 22, 2026 11:39:17 AM          1               0 B             12.5 MB                8

and ends with ``The cluster is balanced. Exiting...`` or the reason it stopped.
The run lives in the leader's memory: after a leader change the new leader's
balancer is idle, and this command says so and exits 5 (run it again).

Exit codes: 0 balanced (or, with ``--no-wait``, ``--status`` or ``--stop``, the
call answered); 1 an error (unreachable, not the superuser, already running,
bad argument); 3 no progress (nothing could be moved, yet not balanced); 4
stopped by an operator; 5 the leader changed. JSON (``--json``): one
BalancerStatus object, the last one seen (``null`` on an error).
"""

from __future__ import annotations

import dataclasses
import time

import click

from client.balancer import BalancerStatus
from client.cli.context import json_option, pass_state, report_for
from client.cli.mount import ByteSize
from client.cli.report import byte_desc
from hafs_api.errors import HafsError

POLL_S = 0.5
EXIT = {"balanced": 0, "no_progress": 3, "stopped": 4}
LEADER_CHANGED = 5
HEADER = (
    f"{'Time Stamp':<25}{'Iteration#':>10}  {'Bytes Already Moved':>19}  "
    f"{'Bytes Left To Move':>18}  {'Moves In Flight':>15}"
)


class Bandwidth(ByteSize):
    """Bytes per second: ``10485760``, ``10m``, ``10MB``, ``10MiB``, ``1g/s`` (1024-based)."""

    name = "bandwidth"

    def convert(self, value, param, ctx) -> int:
        text = str(value).strip().lower().removesuffix("/s")
        for suffix in ("ib", "b"):
            if text.endswith(suffix) and text[: -len(suffix)][-1:].isalpha():
                text = text[: -len(suffix)]
                break
        size = super().convert(text, param, ctx)
        if size < 1:
            self.fail(f"{value!r} is not a positive bandwidth", param, ctx)
        return size


@click.command("balancer")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 100, min_open=True),
    default=10.0,
    show_default=True,
    help="Percent of capacity a DataNode may differ from the mean.",
)
@click.option(
    "--bandwidth",
    type=Bandwidth(),
    default=None,
    help="Bytes per second of moves per DataNode: 10MB (default: the NameNodes').",
)
@click.option(
    "--max-moves",
    type=click.IntRange(min=1),
    default=None,
    help="Moves in flight per DataNode (default: the NameNodes').",
)
@click.option(
    "--exclude", "exclude", multiple=True, help="DataNodes (ids or addresses, comma-separated)."
)
@click.option("--nameservice", default=None, help="The nameservice (default: the default one).")
@click.option("--no-wait", "no_wait", is_flag=True, help="Start it and return at once.")
@click.option("--status", "show", is_flag=True, help="Show the leader's balancer and exit.")
@click.option("--stop", "stop", is_flag=True, help="Stop the running balancer.")
@json_option
@pass_state
def balancer(
    state, threshold, bandwidth, max_moves, exclude, nameservice, no_wait, show, stop, json_
) -> None:
    """Balance DataNode usage to within --threshold percent of the mean (hdfs balancer)."""
    if show and stop:
        raise click.UsageError("--status and --stop exclude each other")
    report = report_for(state, json_, "balancer")
    client = state.client_for(nameservice)
    names = [n.strip() for item in exclude for n in item.split(",") if n.strip()]
    try:
        if show or stop:
            status = client.stop_balancer() if stop else client.balancer_status()
            report.lines(status_lines(status))
            report.finish(dataclasses.asdict(status))
            return
        status = client.start_balancer(
            threshold,
            bandwidth=bandwidth or 0,
            max_concurrent_moves=max_moves or 0,
            exclude=names,
        )
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if no_wait:
        report.line(f"The balancer is running (threshold {status.threshold_percent:g}%).")
        report.finish(dataclasses.asdict(status))
        return
    code = _follow(client, status, report)
    if code != 0:
        raise click.exceptions.Exit(code)


def _follow(client, started: BalancerStatus, report) -> int:
    began = time.monotonic()
    report.line(HEADER)
    status, shown = started, None
    try:
        while True:
            progress = (status.iterations, status.bytes_moved, status.bytes_left)
            if progress != shown:  # a line per iteration, and the last figures once
                report.line(progress_line(status))
                shown = progress
            if status.finished:
                break
            time.sleep(POLL_S)
            status = client.balancer_status()
            if status.state == "idle" or status.started_ms != started.started_ms:
                report.line(
                    "The leader changed and the balancer stopped with it (a new leader "
                    "starts idle). Run hactl balancer again."
                )
                report.finish(dataclasses.asdict(status))
                return LEADER_CHANGED
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return 1
    report.line(ending(status))
    report.line(f"Balancing took {time.monotonic() - began:.3f} seconds")
    report.finish(dataclasses.asdict(status))
    return EXIT.get(status.state, 1)


def ending(status: BalancerStatus) -> str:
    if status.state == "balanced":
        return "The cluster is balanced. Exiting..."
    if status.state == "stopped":
        return f"The balancer was {status.message or 'stopped'}. Exiting..."
    return f"{status.message or status.state} Exiting..."


def progress_line(s: BalancerStatus) -> str:
    stamp = time.strftime("%b %d, %Y %I:%M:%S %p")
    return (
        f"{stamp:<25}{s.iterations:>10}  {byte_desc(s.bytes_moved):>19}  "
        f"{byte_desc(s.bytes_left):>18}  {s.moves_in_flight:>15}"
    )


def status_lines(s: BalancerStatus) -> list[str]:
    started = (
        time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(s.started_ms / 1000))
        if s.started_ms
        else "-"
    )
    out = [
        f"State: {s.state}",
        f"Threshold: {s.threshold_percent:g}%",
        f"Mean used: {s.mean_used_percent:.2f}%",
        f"Started: {started}",
        f"Iterations: {s.iterations}",
        f"Moves: {s.moves_done} done, {s.moves_failed} failed, {s.moves_in_flight} in flight",
        f"Bytes moved: {byte_desc(s.bytes_moved)}",
        f"Bytes left to move: {byte_desc(s.bytes_left)}",
    ]
    if s.message:
        out.append(f"Message: {s.message}")
    out.append(f"{'DATANODE':<34} {'USED%':>7} {'DEVIATION':>10}")
    out += [
        f"{n.datanode_id:<34} {n.used_percent:>7.2f} {n.deviation_percent:>+10.2f}" for n in s.nodes
    ]
    return out
