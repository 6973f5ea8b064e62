"""``hactl dev``: a local development cluster on 127.0.0.1, kept in ``--dir``.

Every command replaces hactl with ``python -m chaos dev ACTION ...``
(``os.execv``), so the client never imports chaos or server code; what each
action does, its messages and exit codes are in ``chaos/devctl.py``. Options
are declared here too, so ``hactl dev ACTION --help`` and usage errors need
no exec.

Imports: the standard library, click and ``client.cli``.
"""

from __future__ import annotations

from typing import NoReturn

import click

from client.cli.context import json_option, pass_state
from client.cli.output import exec_module

dir_option = click.option(
    "--dir",
    "directory",
    default=".dev/cluster",
    show_default=True,
    help="Where the cluster keeps its configs, state, data and logs.",
)


def exec_chaos(action: str, *args: str) -> NoReturn:
    exec_module(f"dev {action}", "chaos", "dev", action, *args)


@click.group("dev")
def dev() -> None:
    """A local dev cluster on 127.0.0.1: up, status, kill/stop/start/pause/resume, down."""


@dev.command("up")
@dir_option
@click.option(
    "--nameservices",
    type=click.IntRange(min=1),
    default=None,
    help="Nameservices ns1..nsK, each a Raft group of its own; ns1 is the default  "
    "[default: as recorded in DIR, else 1]",
)
@click.option(
    "--namenodes",
    type=click.IntRange(min=1),
    default=None,
    help="NameNodes in each nameservice  [default: as recorded in DIR, else 3]",
)
@click.option(
    "--datanodes",
    type=click.IntRange(min=0),
    default=None,
    help="DataNodes, shared by every nameservice  [default: as recorded in DIR, else 3]",
)
@click.option(
    "--foreground", is_flag=True, help="Stay in the foreground; Ctrl-C stops it (make run)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the leaders and DataNodes.",
)
def up(directory, nameservices, namenodes, datanodes, foreground, timeout) -> None:
    """Start the cluster, wait for a leader in every nameservice, write DIR/cluster.toml,
    print how to use it.

    By default the nodes keep running in the background and this exits 0;
    re-running it while DIR's cluster runs exits 1. A DIR whose nodes are
    stopped restarts them on their recorded ports, with their data (and
    refuses other counts).
    """
    args = ["--dir", directory, "--timeout", str(timeout)]
    for option, value in (
        ("--nameservices", nameservices),
        ("--namenodes", namenodes),
        ("--datanodes", datanodes),
    ):
        if value is not None:
            args += [option, str(value)]
    if foreground:
        args.append("--foreground")
    exec_chaos("up", *args)


@dev.command("status")
@dir_option
@json_option
@pass_state
def status(state, directory, json_) -> None:
    """Each node: name, kind, nameservice, pid, alive, role, addresses."""
    exec_chaos("status", "--dir", directory, *(["--json"] if json_ or state.json else []))


@dev.command("down")
@dir_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL.",
)
def down(directory, timeout) -> None:
    """Stop every process of the cluster (SIGCONT, SIGTERM, then SIGKILL); idempotent."""
    exec_chaos("down", "--dir", directory, "--timeout", str(timeout))


NODE_COMMANDS = {
    "kill": "SIGKILL the node and wait until it is gone.",
    "stop": "SIGTERM the node and wait for it to exit (SIGKILL after --timeout).",
    "start": "Restart a stopped node from its config (same ports, data; appends to its log).",
    "pause": "SIGSTOP the node (it keeps its ports but answers nothing).",
    "resume": "SIGCONT a paused node.",
}


def node_command(action: str, text: str) -> click.Command:
    @click.command(action, help=text)
    @dir_option
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        help="Seconds to wait (stop: for the exit; start: until it serves).",
    )
    @click.argument("node")
    def command(directory, timeout, node) -> None:
        exec_chaos(action, "--dir", directory, "--timeout", str(timeout), node)

    return command


for _action, _text in NODE_COMMANDS.items():
    dev.add_command(node_command(_action, _text))
