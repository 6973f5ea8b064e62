"""``hactl top``: a live view of every nameservice's leader, rates and block health.

Every ``--interval`` seconds it asks every NameNode of every configured
nameservice (or only ``--nameservice NAME``) for ``GetStatus``, all in
parallel with ``--timeout`` per call, so a dead or paused NameNode costs one
timeout and shows as unreachable. Two polls make a ``Snapshot``
(``client.cli.topstats``), drawn by ``client.cli.topview.render``:

* on a terminal, a rich ``Live`` view redrawn after every poll; Ctrl-C quits
  (exit code 0);
* elsewhere (a pipe, a log), one frame per poll, one after the other;
* ``--once``: two polls ``--interval`` apart, one frame (or with ``--json`` one
  JSON document), then exit: 1 when no NameNode of some nameservice answered,
  else 0;
* ``--json`` without ``--once``: one JSON document per line per poll.

JSON: ``{"time", "interval_s", "nameservices": [{"nameservice", "leader":
{"node_id", "address", "term"} or null, "rates": {"client_rpcs_per_s",
"errors_per_s", "writes_per_s"}, "namespace": {"files", "directories",
"blocks"}, "blocks": {"under_replicated", "missing", "corrupt",
"pending_replication"}, "datanodes": {"live", "stale", "dead"}, "namenodes":
[{"node_id", "address", "state", "term", "commit_index", "applied_index", "lag",
"client_rpcs_per_s", "error", "reachable"}], "problems": [...], "error"}]}``.
A value that cannot be known is null: rates without two polls of the same
leader, block health without a leader.

The polling is here; the numbers and the drawing are pure functions.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from client.cli.context import json_option, pass_state
from client.cli.output import quiet_stdout
from hafs_api.errors import HafsError

if TYPE_CHECKING:
    from client.cli.topstats import Poll, Snapshot
    from client.client import Client


class Poller:
    """Polls the NameNodes of ``clients`` (nameservice name -> a client bound to it).

    It remembers each address's NameNode id, so a NameNode that stops answering
    keeps its name on the screen.
    """

    def __init__(self, clients: dict[str, Client], timeout: float) -> None:
        self.clients = clients
        self.timeout = timeout
        self._names: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=len(clients), thread_name_prefix="top")

    def poll(self) -> Poll:
        from client.cli.topstats import Poll

        at, wall = time.monotonic(), time.time()
        futures = {
            name: self._pool.submit(client.ha_status, self.timeout)
            for name, client in self.clients.items()
        }
        found, errors = {}, {}
        for name, future in futures.items():
            try:
                nodes = future.result()
            except HafsError as err:
                errors[name] = str(err)
                continue
            for node in nodes:
                if node.node_id:
                    self._names[node.address] = node.node_id
            found[name] = [
                node if node.node_id else replace(node, node_id=self._names.get(node.address, ""))
                for node in nodes
            ]
        return Poll(at, wall, found, errors)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@click.command("top")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls (the rates are over this span).",
)
@click.option(
    "--nameservice", "nameservice", default=None, metavar="NAME", help="Only this nameservice."
)
@click.option("--once", is_flag=True, help="Print one snapshot (two polls apart) and exit.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds to wait for each NameNode per poll.",
)
@json_option
@pass_state
def top(state, interval, nameservice, once, timeout, json_) -> None:
    """Live view of leaders, operation rates and block health of every nameservice.

    Per nameservice: the leader (id, address, term); per NameNode its state,
    applied index, lag and reachability; client RPCs/s and errors/s on the
    leader, writes/s (log entries applied); files, directories, blocks; block
    health and DataNodes. Ctrl-C quits. --once prints one snapshot and exits 1
    when no NameNode of some nameservice answers.
    """
    as_json = json_ or state.json
    poller = Poller(_clients(state, nameservice), timeout)
    try:
        if once:
            answered = _once(poller, interval, as_json)
        else:
            _live(poller, interval, as_json)
            answered = True
    except KeyboardInterrupt:
        answered = True
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        quiet_stdout()
        answered = True
    finally:
        poller.close()
    if not answered:
        raise click.exceptions.Exit(1)


def _clients(state, nameservice: str | None) -> dict[str, Client]:
    client = state.client()
    configured = [client.nameservice, *(ns.name for ns in client.config.nameservices)]
    names = [nameservice] if nameservice else list(dict.fromkeys(configured))
    if len(names) == 1 and names[0] == client.nameservice:
        return {client.nameservice: client}
    return {name: state.client_for(name) for name in names}


def _once(poller: Poller, interval: float, as_json: bool) -> bool:
    from client.cli.topstats import snapshot

    first = poller.poll()
    shot = snapshot(first, _after(poller, first, interval))
    _show(shot, as_json)
    return shot.all_answered


def _live(poller: Poller, interval: float, as_json: bool) -> None:
    from rich.console import Console
    from rich.live import Live

    from client.cli.topstats import snapshot
    from client.cli.topview import render

    console = Console(highlight=False)
    previous = poller.poll()
    shot = snapshot(None, previous)
    if as_json or not console.is_terminal:  # one frame (or JSON line) after another
        while True:
            _show(shot, as_json, console, lines=True)
            current = _after(poller, previous, interval)
            shot, previous = snapshot(previous, current), current
    with Live(render(shot), console=console, auto_refresh=False) as live:
        while True:
            current = _after(poller, previous, interval)
            shot, previous = snapshot(previous, current), current
            live.update(render(shot), refresh=True)


def _after(poller: Poller, previous: Poll, interval: float) -> Poll:
    """The next poll, ``interval`` seconds after ``previous`` began."""
    time.sleep(max(interval - (time.monotonic() - previous.at), 0.0))
    return poller.poll()


def _show(shot: Snapshot, as_json: bool, console=None, lines: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(shot.to_dict(), indent=None if lines else 2))
        return
    from rich.console import Console

    from client.cli.topview import render

    (console or Console(highlight=False)).print(render(shot))
