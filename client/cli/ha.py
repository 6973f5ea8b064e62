"""``hactl ha``: NameNode HA status, leadership transfer and checkpoints.

``status`` prints a table (id, address, state, term, commit index, applied
index, lag) and exits 1 only when no NameNode answered. JSON shapes: ``status``
a list of NodeStatus objects; ``transfer`` ``{"to"}``; ``checkpoint`` a
CheckpointInfo object.
"""

from __future__ import annotations

import click

from client.cli.context import json_option, pass_state, report_for
from client.types import NodeStatus
from hafs_api.errors import HafsError

_STYLES = {"active": "bold green", "candidate": "yellow", "unreachable": "red"}


@click.group("ha")
def ha() -> None:
    """High availability: status of the NameNodes, leadership, checkpoints."""


@ha.command("status")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds to wait for each NameNode.",
)
@json_option
@pass_state
def status(state, timeout, json_) -> None:
    """Show every configured NameNode: state, term, commit and applied index."""
    report = report_for(state, json_, "ha status")
    try:
        nodes = state.client().ha_status(timeout=timeout)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if not report.json:
        print_status_table(nodes)
        for node in nodes:
            if node.error:
                click.echo(f"{node.address}: {node.error}", err=True)
    report.finish([node.to_dict() for node in nodes])
    if not any(node.reachable for node in nodes):
        raise click.exceptions.Exit(1)


def print_status_table(nodes: list[NodeStatus]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for name in ("ID", "ADDRESS", "STATE"):
        table.add_column(name)
    for name in ("TERM", "COMMIT INDEX", "APPLIED INDEX", "LAG"):
        table.add_column(name, justify="right")
    for node in nodes:
        numbers = (
            (str(node.term), str(node.commit_index), str(node.applied_index))
            if node.reachable
            else ("-", "-", "-")
        )
        table.add_row(
            node.node_id or "-",
            node.address,
            f"[{_STYLES.get(node.state, 'default')}]{node.state}[/]",
            *numbers,
            "-" if node.lag is None else str(node.lag),
        )
    Console(highlight=False).print(table)


@ha.command("transfer")
@click.option("--to", "to", required=True, metavar="ID", help="NameNode id (or address).")
@json_option
@pass_state
def transfer(state, to, json_) -> None:
    """Ask the active NameNode to hand leadership to another."""
    report = report_for(state, json_, "ha transfer")
    try:
        state.client().transfer_leadership(to)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    report.line(f"Leadership transfer to {to} requested")
    report.finish({"to": to})


@ha.command("checkpoint")
@click.option(
    "--address",
    default=None,
    metavar="HOST:PORT",
    help="The NameNode to checkpoint (default: the active one).",
)
@json_option
@pass_state
def checkpoint(state, address, json_) -> None:
    """Have a NameNode write an image of its state now."""
    report = report_for(state, json_, "ha checkpoint")
    try:
        info = state.client().checkpoint(address)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    report.line(
        f"Checkpoint written by {info.address}: {info.image_path} "
        f"(applied index {info.applied_index}, {info.size_bytes} bytes)"
    )
    report.finish(info.to_dict())
