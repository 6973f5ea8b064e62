"""``hactl top``'s screen: a ``Snapshot`` (``client.cli.topstats``) as a rich renderable.

Pure: ``render(snapshot)`` builds the renderable and prints nothing, so tests
render it with ``Console(record=True)`` and read the text. Per nameservice:

* a title line: the leader (id, address, term), or ``NO LEADER`` in red;
* rates (client RPCs/s and errors/s on the leader, writes/s) and the
  namespace's files, directories and blocks;
* block health (under-replicated, missing, corrupt, pending replication) and
  DataNodes (live, stale, dead): missing, corrupt and dead in red when not 0,
  under-replicated and stale in yellow; then the problems (``problems``) in red;
* one row per NameNode: state, term, applied index, lag behind the leader,
  client RPCs/s, and an unreachable one in red with its error.

Imports: rich and ``client.cli.topstats``.
"""

from __future__ import annotations

import time

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from client.cli.topstats import BEHIND, NameserviceStats, NodeRow, Snapshot

STATE_STYLES = {
    "active": "bold green",
    "standby": "default",
    "candidate": "yellow",
    "unknown": "yellow",
    "unreachable": "bold red",
}
DASH = "-"


def render(snapshot: Snapshot) -> RenderableType:
    when = time.strftime("%H:%M:%S", time.localtime(snapshot.wall))
    every = f"rates over {snapshot.interval_s:.1f} s" if snapshot.interval_s else "no rates yet"
    header = Text.assemble(("hafs top", "bold"), f"  {when}  {every}  (Ctrl-C quits)")
    parts: list[RenderableType] = [header]
    for ns in snapshot.nameservices:
        parts += [Text(""), *_nameservice(ns)]
    return Group(*parts)


def _nameservice(ns: NameserviceStats) -> list[RenderableType]:
    title = Text.assemble(("Nameservice ", "bold"), (ns.name, "bold cyan"), "  ")
    leader = ns.leader
    if leader is not None:
        title.append(f"leader {leader.node_id or DASH} ({leader.address}), term {leader.term}")
    elif ns.answered:
        title.append("NO LEADER", style="bold red")
    else:
        title.append("NO NAMENODE ANSWERS", style="bold red")
    if ns.error:
        title.append(f"  {ns.error}", style="red")
    rates = Text.assemble(
        "  client ",
        (_rate(ns.client_rpcs_per_s), "bold"),
        " rpc/s   errors ",
        (_rate(ns.errors_per_s), "red" if ns.errors_per_s else "bold"),
        "/s   writes ",
        (_rate(ns.writes_per_s), "bold"),
        "/s   files ",
        (_count(ns.files), "bold"),
        "   dirs ",
        (_count(ns.directories), "bold"),
        "   blocks ",
        (_count(ns.blocks), "bold"),
    )
    health = Text.assemble(
        "  blocks: under-replicated ",
        _flag(ns.under_replicated, "yellow"),
        "   missing ",
        _flag(ns.missing, "bold red"),
        "   corrupt ",
        _flag(ns.corrupt, "bold red"),
        "   pending replication ",
        _flag(ns.pending_replication, ""),
    )
    datanodes = Text.assemble(
        "  DataNodes: live ",
        _flag(ns.live_datanodes, ""),
        "   stale ",
        _flag(ns.stale_datanodes, "yellow"),
        "   dead ",
        _flag(ns.dead_datanodes, "bold red"),
    )
    parts: list[RenderableType] = [title, rates, health, datanodes]
    problems = ns.problems
    if problems:
        parts.append(Text(f"  problems: {'; '.join(problems)}", style="bold red"))
    return [*parts, _nodes(ns.nodes)]


def _nodes(nodes: tuple[NodeRow, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("ID", "ADDRESS", "STATE"):
        table.add_column(name)
    for name in ("TERM", "APPLIED", "LAG", "RPC/S"):
        table.add_column(name, justify="right")
    table.add_column("NOTE")
    for node in nodes:
        state = Text(node.state, style=STATE_STYLES.get(node.state, "default"))
        if not node.reachable:
            note = Text(node.error or "no answer", style="red")
            table.add_row(node.node_id or DASH, node.address, state, *[DASH] * 4, note)
            continue
        behind = node.lag is not None and node.lag > BEHIND
        table.add_row(
            node.node_id or DASH,
            node.address,
            state,
            str(node.term),
            str(node.applied_index),
            Text(_count(node.lag), style="yellow" if behind else ""),
            _rate(node.client_rpcs_per_s),
            Text("behind", style="yellow") if behind else "",
        )
    return table


def _rate(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def _count(value: int | None) -> str:
    return DASH if value is None else str(value)


def _flag(value: int | None, style: str) -> tuple[str, str]:
    """``value`` as text, in ``style`` when it is not 0 (a problem to see)."""
    return _count(value), (style if value else "")
