"""``hactl fsck`` and ``hactl dn``: block health and DataNode administration.

``fsck PATH [--files]`` is laid out like ``hdfs fsck`` (with ``--files``, like
``-files -blocks -locations``) and exits 1 unless the path is HEALTHY (no
missing and no corrupt block). ``dn list`` shows the DataNodes as the leader
sees them; ``dn decommission|recommission ID`` drains a DataNode or puts it back;
``dn maintenance ID [--duration 1h]`` lets it stop for a while without its
blocks being re-replicated (``recommission`` ends it early).
JSON shapes: ``fsck`` one FsckReport object; ``dn list`` a list of
DatanodeReport objects; ``dn decommission|recommission|maintenance`` one
DatanodeReport (``null`` on failure). Every ``dn`` command exits 1 on failure.
"""

from __future__ import annotations

import dataclasses
import re
import time

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
            if b.maintenance:
                extra += f" Maintenance_repl={b.maintenance}"
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
    """DataNodes: list, decommission, maintenance, recommission."""


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
        f"{'ID':<34} {'ADDRESS':<21} {'RACK':<10} {'STATE':<6} {'ADMIN':<20} "
        f"{'USED':>9} {'REMAINING':>10} {'REPLICAS':>8}"
    ]
    for n in nodes:
        out.append(
            f"{n.datanode_id:<34} {n.address:<21} {n.rack:<10} {n.liveness:<6} "
            f"{n.admin_state:<20} {human(n.used):>9} {human(n.remaining):>10} {n.replicas:>8}"
        )
    return out


def expiry_text(ms: int) -> str:
    """A maintenance expiry as ``dfsadmin -report`` shows times."""
    if not ms:
        return "never (until recommissioned)"
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


def _admin(state, datanode: str, json_: bool, command: str, call: str, *args) -> None:
    report = report_for(state, json_, f"dn {command}")
    try:
        node = getattr(state.client(), call)(datanode, *args)
    except HafsError as err:
        report.error(err, datanode)
        report.finish(None)
        return
    until = ""
    if node.admin_state.endswith("maintenance"):
        ms = node.maintenance_expiry_ms
        until = f", until {expiry_text(ms)}" if ms else ", until recommissioned"
    report.line(
        f"{command.capitalize()} {node.datanode_id} ({node.address}): {node.admin_state}{until}"
    )
    report.finish(dataclasses.asdict(node))


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType):
    """A duration: ``3600`` or ``3600s``, ``30m``, ``1h``, ``1.5h``, ``2d``; in seconds."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smhd]?)\s*", str(value).lower())
        if match is None or float(match[1]) <= 0:
            self.fail(f"{value!r} is not a duration like 3600, 30m, 1h or 2d", param, ctx)
        return float(match[1]) * _UNITS[match[2]]


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
    """Put DATANODE back in service (ends decommissioning or maintenance)."""
    _admin(state, datanode, json_, "recommission", "recommission")


@dn.command("maintenance")
@click.argument("datanode")
@click.option(
    "--duration",
    type=Duration(),
    default=None,
    help="Back in service after this long: 3600, 30m, 1h, 2d (default: until recommissioned).",
)
@json_option
@pass_state
def maintenance(state, datanode, duration, json_) -> None:
    """Put DATANODE in maintenance: blocks that would keep fewer than the NameNodes'
    maintenance_min_replicas live replicas elsewhere are copied first (entering
    maintenance); then it is in maintenance and may be stopped without its blocks
    being re-replicated. Asked again, only the expiry changes."""
    _admin(state, datanode, json_, "maintenance", "maintenance", duration)
