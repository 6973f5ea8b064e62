"""``hactl report``: capacity, block health and DataNodes, laid out like
``hdfs dfsadmin -report``, one report per nameservice.

For each nameservice of the config (the default first, under a ``Nameservice
NAME`` heading when there are several) it prints the totals, then one section
per DataNode. Capacities are over the live DataNodes. The block counts come
from that nameservice's ``fsck /``, because each nameservice has its own block
pool. ``--live``, ``--dead``, ``--decommissioning``, ``--enteringmaintenance``
and ``--inmaintenance`` choose the sections (default: live and dead). A
DataNode in maintenance shows its ``Maintenance expiry``. A nameservice that
does not answer is reported on stderr, the others are still printed, and the
exit code is 1.

JSON: a list with one object per nameservice: ``{"nameservice",
"configured_capacity", "present_capacity", "dfs_remaining", "dfs_used",
"dfs_used_percent", "under_replicated", "corrupt", "missing", and a list of
DatanodeReport objects under each chosen section: "live", "dead",
"decommissioning", "entering_maintenance", "in_maintenance"}``.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import click

from client.admin import DatanodeReport, FsckReport
from client.cli.blocks import expiry_text
from client.cli.context import json_option, pass_state, report_for
from hafs_api.errors import HafsError

RULE = "-" * 49
_UNITS = ("KB", "MB", "GB", "TB", "PB", "EB")
_DECOMMISSION = {
    "in service": "Normal",
    "decommissioning": "Decommission in progress",
    "decommissioned": "Decommissioned",
    "entering maintenance": "Entering maintenance",
    "in maintenance": "In maintenance",
}
_SECTIONS = {
    "live": lambda n: n.liveness != "dead",
    "dead": lambda n: n.liveness == "dead",
    "decommissioning": lambda n: n.admin_state == "decommissioning",
    "entering_maintenance": lambda n: n.admin_state == "entering maintenance",
    "in_maintenance": lambda n: n.admin_state == "in maintenance",
}
_HEADINGS = {
    "entering_maintenance": "Entering maintenance",
    "in_maintenance": "In maintenance",
}


@click.command("report")
@click.option("--live", "live", is_flag=True, help="Only the live DataNodes.")
@click.option("--dead", "dead", is_flag=True, help="Only the dead DataNodes.")
@click.option(
    "--decommissioning", "decommissioning", is_flag=True, help="Only the decommissioning ones."
)
@click.option(
    "--enteringmaintenance", "entering", is_flag=True, help="Only the ones entering maintenance."
)
@click.option("--inmaintenance", "inside", is_flag=True, help="Only the ones in maintenance.")
@json_option
@pass_state
def report(state, live, dead, decommissioning, entering, inside, json_) -> None:
    """Capacity, block health and every DataNode, per nameservice (dfsadmin -report)."""
    out = report_for(state, json_, "report")
    flags = {
        "live": live,
        "dead": dead,
        "decommissioning": decommissioning,
        "entering_maintenance": entering,
        "in_maintenance": inside,
    }
    chosen = [name for name, flag in flags.items() if flag] or ["live", "dead"]
    client = state.client()
    configured = [ns.name for ns in client.config.nameservices]
    names = list(dict.fromkeys([client.config.default_nameservice, *configured]))
    clients = [state.client_for(name) for name in names]
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        answers = list(pool.map(_gather, clients))
    records = []
    for index, (name, answer) in enumerate(zip(names, answers, strict=True)):
        if isinstance(answer, HafsError):
            out.error(answer)
            continue
        nodes, health = answer
        if len(names) > 1:
            if index:
                out.line("")
            out.line(f"Nameservice {name}" + (" (default)" if index == 0 else ""))
        out.lines(report_lines(nodes, health, chosen))
        records.append(report_record(name, nodes, health, chosen))
    out.finish(records)


def _gather(client) -> tuple[list[DatanodeReport], FsckReport] | HafsError:
    try:
        return client.datanodes(), client.fsck("/")
    except HafsError as err:
        return err


def sections(nodes: list[DatanodeReport], chosen: list[str]) -> dict[str, list[DatanodeReport]]:
    """The DataNodes of each chosen section, in order: live, dead, decommissioning,
    entering maintenance, in maintenance."""
    ordered = [name for name in _SECTIONS if name in chosen]
    return {name: [n for n in nodes if _SECTIONS[name](n)] for name in ordered}


def totals(nodes: list[DatanodeReport]) -> dict[str, int | float]:
    live = [n for n in nodes if n.liveness != "dead"]
    used = sum(n.used for n in live)
    remaining = sum(n.remaining for n in live)
    present = used + remaining
    return {
        "configured_capacity": sum(n.capacity for n in live),
        "present_capacity": present,
        "dfs_remaining": remaining,
        "dfs_used": used,
        "dfs_used_percent": _percent(used, present),
    }


def report_record(
    name: str, nodes: list[DatanodeReport], health: FsckReport, chosen: list[str]
) -> dict:
    record: dict = {"nameservice": name, **totals(nodes)}
    record.update(
        under_replicated=health.under_replicated, corrupt=health.corrupt, missing=health.missing
    )
    for section, members in sections(nodes, chosen).items():
        record[section] = [dataclasses.asdict(n) for n in members]
    return record


def report_lines(nodes: list[DatanodeReport], health: FsckReport, chosen: list[str]) -> list[str]:
    t = totals(nodes)
    out = [
        f"Configured Capacity: {_bytes(t['configured_capacity'])}",
        f"Present Capacity: {_bytes(t['present_capacity'])}",
        f"DFS Remaining: {_bytes(t['dfs_remaining'])}",
        f"DFS Used: {_bytes(t['dfs_used'])}",
        f"DFS Used%: {t['dfs_used_percent']:.2f}%",
        f"Under replicated blocks: {health.under_replicated}",
        f"Blocks with corrupt replicas: {health.corrupt}",
        f"Missing blocks: {health.missing}",
        "",
        RULE,
    ]
    for section, members in sections(nodes, chosen).items():
        heading = _HEADINGS.get(section, section.capitalize())
        out.append(f"{heading} datanodes ({len(members)}):")
        out.append("")
        for node in members:
            out += datanode_lines(node)
            out.append("")
    return out


def datanode_lines(n: DatanodeReport) -> list[str]:
    host = n.address.rpartition(":")[0] or n.address
    non_dfs = max(n.capacity - n.used - n.remaining, 0)
    maintenance = []
    if n.admin_state.endswith("maintenance"):
        maintenance = [f"Maintenance expiry: {expiry_text(n.maintenance_expiry_ms)}"]
    return [
        f"Name: {n.address} ({n.datanode_id})",
        f"Hostname: {host}",
        f"Rack: {n.rack or '/default-rack'}",
        f"Decommission Status : {_DECOMMISSION.get(n.admin_state, n.admin_state)}",
        *maintenance,
        f"Configured Capacity: {_bytes(n.capacity)}",
        f"DFS Used: {_bytes(n.used)}",
        f"Non DFS Used: {_bytes(non_dfs)}",
        f"DFS Remaining: {_bytes(n.remaining)}",
        f"DFS Used%: {_percent(n.used, n.capacity):.2f}%",
        f"DFS Remaining%: {_percent(n.remaining, n.capacity):.2f}%",
        f"Xceivers: {n.active_transfers}",
        f"Volume Failures: {n.failed_volumes}",
        f"Last contact: {_last_contact(n.last_heartbeat_s)}",
        f"Block report received: {'yes' if n.reported else 'not yet (from this leader)'}",
        f"Num of Blocks: {n.replicas}",
    ]


def byte_desc(n: int) -> str:
    """hdfs's ``StringUtils.byteDesc``: ``0 B``, ``48 KB``, ``49.09 GB``."""
    if n < 1024:
        return f"{n} B"
    value, index = n / 1024, 0
    while value >= 1024 and index + 1 < len(_UNITS):
        value, index = value / 1024, index + 1
    return f"{value:.2f}".rstrip("0").rstrip(".") + f" {_UNITS[index]}"


def _bytes(n: int | float) -> str:
    return f"{int(n)} ({byte_desc(int(n))})"


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _last_contact(seconds_ago: float | None) -> str:
    if seconds_ago is None:
        return "never"
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(time.time() - seconds_ago))
