"""``hactl ha``: NameNode HA status, leadership transfer, membership and checkpoints.

``status`` prints a table (id, address, state, term, commit index, applied
index, lag) of the configured NameNodes and the members they report, one table
per nameservice of the config (under a ``Nameservice NAME`` heading when there
are several, the default first), and exits 1 when no NameNode of some
nameservice answered. JSON shapes: ``status`` a list of NodeStatus objects
(each names its ``nameservice``, and has ``state_index`` and ``log_digest``:
its store's applied index and log digest, read together; and the counters
``hactl top`` shows: ``client_calls``, ``client_errors``, ``files``,
``directories``, ``blocks``, and the leader's ``under_replicated_blocks``,
``missing_blocks``, ``corrupt_blocks``, ``pending_replication``,
``live_datanodes``, ``stale_datanodes``, ``dead_datanodes``); ``transfer``
``{"to"}``; ``add-replica`` ``{"id", "rpc", "raft", "changed"}``;
``remove-replica`` ``{"id", "changed"}``; ``checkpoint`` a CheckpointInfo object.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import click

from client.cli.context import json_option, pass_state, report_for
from client.types import NodeStatus
from hafs_api.errors import HafsError

_STYLES = {"active": "bold green", "candidate": "yellow", "unreachable": "red"}


@click.group("ha")
def ha() -> None:
    """High availability: status of the NameNodes, leadership, membership, checkpoints."""


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
    """Show every NameNode (configured or reported as a member) of every nameservice:
    state, term, indexes."""
    report = report_for(state, json_, "ha status")
    client = state.client()
    names = list(
        dict.fromkeys([client.nameservice, *(ns.name for ns in client.config.nameservices)])
    )
    clients = [state.client_for(name) if len(names) > 1 else client for name in names]
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        answers = list(pool.map(lambda fs: _ha_status(fs, timeout), clients))
    everyone: list[NodeStatus] = []
    down = False
    for name, (nodes, error) in zip(names, answers, strict=True):
        if error is not None:
            report.error(error)
        everyone += nodes
        down = down or not any(node.reachable for node in nodes)
        if report.json:
            continue
        if len(names) > 1:
            click.echo(f"Nameservice {name}" + (" (default)" if name == names[0] else ""))
        if nodes:
            print_status_table(nodes)
        for node in nodes:
            if node.error:
                click.echo(f"{node.address}: {node.error}", err=True)
    report.finish([node.to_dict() for node in everyone])
    if down:
        raise click.exceptions.Exit(1)


def _ha_status(client, timeout: float) -> tuple[list[NodeStatus], HafsError | None]:
    try:
        return client.ha_status(timeout=timeout), None
    except HafsError as err:
        return [], err


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


@ha.command("add-replica")
@click.option("--id", "node_id", required=True, metavar="ID", help="The new NameNode's id.")
@click.option("--rpc", "rpc", required=True, metavar="HOST:PORT", help="Its client RPC address.")
@click.option("--raft", "raft", required=True, metavar="HOST:PORT", help="Its Raft address.")
@json_option
@pass_state
def add_replica(state, node_id, rpc, raft, json_) -> None:
    """Add a NameNode to the Raft group (one at a time).

    Start it with a config whose [members] lists the group and itself; it
    catches up from the leader (see its applied index in `hactl ha status`).
    """
    report = report_for(state, json_, "ha add-replica")
    try:
        changed = state.client().add_replica(node_id, rpc, raft)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if changed:
        report.line(f"Added {node_id} (rpc {rpc}, raft {raft}) to the group")
    else:
        report.line(f"{node_id} is a member already (rpc {rpc}, raft {raft})")
    report.finish({"id": node_id, "rpc": rpc, "raft": raft, "changed": changed})


@ha.command("remove-replica")
@click.argument("node_id", metavar="ID")
@json_option
@pass_state
def remove_replica(state, node_id, json_) -> None:
    """Remove NameNode ID from the Raft group (one at a time), then stop it.

    The active NameNode cannot remove itself: `hactl ha transfer --to OTHER` first.
    """
    report = report_for(state, json_, "ha remove-replica")
    try:
        changed = state.client().remove_replica(node_id)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if changed:
        report.line(f"Removed {node_id} from the group; stop its process now")
    else:
        report.line(f"{node_id} is not a member (removed already)")
    report.finish({"id": node_id, "changed": changed})


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
