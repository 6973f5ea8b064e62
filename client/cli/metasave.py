"""``hactl metasave FILE``: the leaders' block management dumped to FILE, as ``hdfs
dfsadmin -metasave``.

One dump per nameservice (``--nameservice NAME``, or every configured one, the
default first), one after the other in FILE, laid out like HDFS's::

    Metasave of nameservice ns1 from nn2 (term 3, applied index 120) at ...
    Metasave: Blocks waiting for replication: N      then one line per block:
    /path: blk_ID_GS (replicas: l: LIVE d: DECOM m: MAINT c: CORRUPT e: EXPECTED) [dn1, dn2]
    Metasave: Blocks currently missing: N
    Metasave: Blocks with corrupt replicas: N
    Metasave: Blocks being replicated: N
    Metasave: Blocks N waiting deletion from D datanodes.
    Metasave: Leases: N
    Metasave: Number of datanodes: N                 then one line per DataNode

``--limit N`` caps each list (default: the leader's, 10,000); a dump that left
something out ends with a ``truncated`` line. FILE ``-`` is stdout. FILE is
written to a temporary file beside it, then renamed: it is never left half
written. Text mode prints ``Created metasave file FILE``.

JSON (``--json``): FILE holds a list of MetaSaveReport objects, one per
nameservice; stdout gets ``{"file", "nameservices", "truncated"}`` (nothing
more when FILE is ``-``: the list is stdout). Exit 1 when FILE cannot be
written or a nameservice did not answer (the others are still written).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.output import Failure, dumps
from client.cli.report import byte_desc
from client.cli.safemode import nameservice_option, nameservices, per_nameservice, status_line
from client.metasave import MetaBlock, MetaSaveReport
from hafs_api.errors import HafsError

STDOUT = "-"


@click.command("metasave")
@click.argument("file")
@nameservice_option
@click.option(
    "--limit",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    metavar="N",
    help="At most N entries per list (default: the leader's, 10000).",
)
@json_option
@pass_state
def metasave(state, file, nameservice, limit, json_) -> None:
    """Dump the leaders' block management to FILE ('-': stdout), as dfsadmin -metasave."""
    out = report_for(state, json_, "metasave")
    names = nameservices(state, nameservice, "metasave")
    reports: list[MetaSaveReport] = []
    for answer in per_nameservice(state, names, lambda client: client.metasave(limit)):
        if isinstance(answer, HafsError):
            out.error(answer)
        else:
            reports.append(answer)
    if reports:
        if out.json:
            text = dumps([dataclasses.asdict(r) for r in reports]) + "\n"
        else:
            text = "\n".join("\n".join(metasave_lines(r)) for r in reports) + "\n"
        if file == STDOUT:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_whole(file, text)
            out.line(f"Created metasave file {file}")
    if out.json and file == STDOUT:  # stdout holds the dump itself
        if out.failed:
            raise click.exceptions.Exit(1)
        return
    out.finish(
        {
            "file": file,
            "nameservices": [r.nameservice for r in reports],
            "truncated": any(r.truncated for r in reports),
        }
    )


def write_whole(file: str, text: str) -> None:
    """Write ``text`` to ``file`` through a temporary file and a rename: all or nothing."""
    target = Path(file)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise Failure(f"metasave: cannot write {file}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as open() would have made it, not mkstemp's 0600
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise Failure(f"metasave: cannot write {file}: {err.strerror or err}") from None


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "never"


def _block_line(b: MetaBlock, name: Callable[[str], str]) -> str:
    counts = f"l: {b.live} d: {b.decommissioning} m: {b.maintenance} c: {b.corrupt} e: {b.expected}"
    where = ", ".join(name(dn) for dn in b.locations)
    path = b.path or "(unknown file)"
    return f"{path}: blk_{b.block_id}_{b.gen_stamp} (replicas: {counts}) [{where}]"


def metasave_lines(r: MetaSaveReport) -> list[str]:
    """The dump as text. DataNodes are named by address (``(dead)`` after a dead one)."""
    nodes = {n.datanode_id: n for n in r.datanodes}

    def name(datanode: str) -> str:
        node = nodes.get(datanode)
        if node is None:
            return datanode
        return node.address + (" (dead)" if node.liveness == "dead" else "")

    live = sum(1 for n in r.datanodes if n.liveness != "dead")
    objects = r.files + r.directories
    out = [
        f"Metasave of nameservice {r.nameservice} from {r.node_id} "
        f"(term {r.term}, applied index {r.applied_index}) at {_when(r.scanned)}",
        f"{objects} files and directories, {r.blocks} blocks = "
        f"{objects + r.blocks} total filesystem objects",
        status_line(r.safe_mode),
        f"Live Datanodes: {live}",
        f"Dead Datanodes: {len(r.datanodes) - live}",
        f"Metasave: Blocks waiting for replication: {len(r.under_replicated)}",
        *(_block_line(b, name) for b in r.under_replicated),
        f"Metasave: Blocks currently missing: {len(r.missing)}",
        *(_block_line(b, name) for b in r.missing),
        f"Metasave: Blocks with corrupt replicas: {len(r.corrupt)}",
        *(_block_line(b, name) for b in r.corrupt),
        f"Metasave: Blocks being replicated: {len(r.replicating)}",
        *(
            f"blk_{c.block_id}_{c.gen_stamp} len={c.length} from {name(c.source)} to "
            f"{', '.join(name(t) for t in c.targets)} (times out in {c.timeout_s:.0f}s)"
            for c in r.replicating
        ),
    ]
    by_node: dict[str, list[str]] = {}
    for d in r.pending_deletion:
        by_node.setdefault(d.datanode, []).append(f" blk_{d.block_id}_{d.gen_stamp}")
    out.append(
        f"Metasave: Blocks {len(r.pending_deletion)} waiting deletion from "
        f"{len(by_node)} datanodes."
    )
    for datanode in sorted(by_node):
        out += [name(datanode), *by_node[datanode]]
    out.append(f"Metasave: Leases: {len(r.leases)}")
    out += [f"{x.holder} (renewed {_when(x.renewed)}): {', '.join(x.paths)}" for x in r.leases]
    out.append(f"Metasave: Number of datanodes: {len(r.datanodes)}")
    for n in r.datanodes:
        contact = "never" if n.last_heartbeat_s is None else f"{n.last_heartbeat_s:.1f}s ago"
        out.append(
            f"{n.address} ({n.datanode_id}) {n.rack or '/default-rack'} {n.liveness} "
            f"{n.admin_state}: capacity {byte_desc(n.capacity)} used {byte_desc(n.used)} "
            f"remaining {byte_desc(n.remaining)} replicas {n.replicas} "
            f"transfers {n.active_transfers} last contact {contact}"
        )
    if r.truncated:
        out.append("Metasave: truncated: a list stopped at its limit, or the scan at its budget")
    return out
