"""``hactl fsck`` and ``hactl dn``: block health and DataNode administration.

``fsck PATH [--files]`` is laid out like ``hdfs fsck`` (with ``--files``, like
``-files -blocks -locations``) and exits 1 unless the path is HEALTHY (no
missing and no corrupt block). ``dn list`` shows the DataNodes as the leader
sees them; ``dn decommission|recommission ID`` drains a DataNode or puts it back.
JSON shapes: ``fsck`` one FsckReport object; ``dn list`` a list of
DatanodeReport objects; ``dn decommission|recommission`` one DatanodeReport.
"""

from __future__ import annotations

import dataclasses

import click

from client.admin import DatanodeReport, FsckReport
from client.cli.context import json_option, pass_state, report_for
from client.cli.fsformat import human_size as human
from hafs_api.errors import HafsError


@click.command("fsck")
@click.argument("path", default="/")
@click.option("--files", "files", is_flag=True, help="List each file, its blocks and locations.")
@json_option
@pass_state
def fsck(state, path, files, json_) -> None:
    """Check the health of every block under PATH (exit 1 unless HEALTHY)."""
    report = report_for(state, json_, "fsck")
    try:
        result = state.client().fsck(path, list_files=files)
    except HafsError as err:
        report.error(err, path)
        report.finish(None)
        return
    if not report.json:
        report.lines(fsck_lines(result))
    report.finish(dataclasses.asdict(result))
    if not result.healthy:
        raise click.exceptions.Exit(1)


def fsck_lines(r: FsckReport) -> list[str]:
    status = "HEALTHY" if r.healthy else "CORRUPT"
    out: list[str] = []
    for f in r.entries:
        state = " OPENFORWRITE" if f.open_for_write else ""
        out.append(
            f"{f.path} {f.length} bytes, replicated: replication={f.replication}, "
            f"{len(f.blocks)} block(s):{state}  {_file_state(f)}"
        )
        for i, b in enumerate(f.blocks):
            where = ", ".join(b.locations)
            extra = f" Corrupt_repl={b.corrupt}" if b.corrupt else ""
            if b.decommissioning:
                extra += f" Decommissioning_repl={b.decommissioning}"
            out.append(
                f"{i}. blk_{b.block_id}_{b.gen_stamp} len={b.length} "
                f"Live_repl={b.live}{extra} [{where}]"
            )
        out.append("")
    out += [
        f"Status: {status}",
        f" Number of data-nodes:\t{r.datanodes}",
        f" Total size:\t{r.total_bytes} B ({human(r.total_bytes)})",
        f" Total dirs:\t{r.directories}",
        f" Total files:\t{r.files}",
        f" Total blocks (validated):\t{r.blocks}",
        f" Live replicas:\t{r.replicas}",
        f" Under-replicated blocks:\t{r.under_replicated}",
        f" Over-replicated blocks:\t{r.over_replicated}",
        f" Corrupt blocks:\t{r.corrupt}",
        f" Missing blocks:\t{r.missing}",
        f" Open files:\t{r.open_for_write}",
        "",
        f"The filesystem under path '{r.path}' is {status}",
    ]
    return out


def _file_state(f) -> str:
    if any(b.live == 0 and not b.under_construction for b in f.blocks):
        return "MISSING"
    if any(b.corrupt for b in f.blocks):
        return "CORRUPT"
    if any(b.live < b.expected and not b.under_construction for b in f.blocks):
        return "Under replicated"
    return "OK"


@click.group("dn")
def dn() -> None:
    """DataNodes: list, decommission, recommission."""


@dn.command("list")
@json_option
@pass_state
def list_datanodes(state, json_) -> None:
    """Every registered DataNode: liveness, admin state, capacity, replicas."""
    report = report_for(state, json_, "dn list")
    try:
        nodes = state.client().datanodes()
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if not report.json:
        report.lines(datanode_lines(nodes))
    report.finish([dataclasses.asdict(n) for n in nodes])


def datanode_lines(nodes: list[DatanodeReport]) -> list[str]:
    out = [
        f"{'ID':<34} {'ADDRESS':<21} {'RACK':<10} {'STATE':<6} {'ADMIN':<16} "
        f"{'USED':>9} {'REMAINING':>10} {'REPLICAS':>8}"
    ]
    for n in nodes:
        out.append(
            f"{n.datanode_id:<34} {n.address:<21} {n.rack:<10} {n.liveness:<6} "
            f"{n.admin_state:<16} {human(n.used):>9} {human(n.remaining):>10} {n.replicas:>8}"
        )
    return out


def _admin(state, datanode: str, json_: bool, command: str, call: str) -> None:
    report = report_for(state, json_, f"dn {command}")
    try:
        node = getattr(state.client(), call)(datanode)
    except HafsError as err:
        report.error(err, datanode)
        report.finish(None)
        return
    report.line(f"{command.capitalize()} {node.datanode_id} ({node.address}): {node.admin_state}")
    report.finish(dataclasses.asdict(node))


@dn.command("decommission")
@click.argument("datanode")
@json_option
@pass_state
def decommission(state, datanode, json_) -> None:
    """Drain DATANODE (id or address): copy its replicas elsewhere, then mark it
    decommissioned; it can then be stopped without losing a block."""
    _admin(state, datanode, json_, "decommission", "decommission")


@dn.command("recommission")
@click.argument("datanode")
@json_option
@pass_state
def recommission(state, datanode, json_) -> None:
    """Put DATANODE back in service."""
    _admin(state, datanode, json_, "recommission", "recommission")
