"""The ``hactl`` command group: global options and the subcommand groups.

``hactl [--conf FILE] [--user NAME] [--json] COMMAND ...``: ``fs``, ``fsck``, ``dn``,
``balancer``, ``ha``, ``mount``, ``report``, ``top``, ``safemode``, ``metasave``,
``image``, ``namenode``, ``datanode``, ``dev``, ``chaos``.
``hactl completion bash|zsh|fish`` prints click's shell completion script (the
same as ``_HACTL_COMPLETE=bash_source hactl``).
``hactl namenode start --config FILE``, ``hactl datanode start --config FILE`` and
``hactl dev ...``/``hactl chaos run`` (``client/cli/dev.py``, ``chaos.py``) replace
this process with ``python -m ha_namenode`` / ``python -m datanode`` /
``python -m chaos dev|run ...``
(``os.execv``): the CLI never imports server or chaos code.
"""

from __future__ import annotations

import os
import sys

import click

from client.cli.balancer import balancer
from client.cli.blocks import dn, fsck
from client.cli.chaos import chaos
from client.cli.context import State
from client.cli.dev import dev
from client.cli.fs import fs
from client.cli.ha import ha
from client.cli.image import image
from client.cli.metasave import metasave
from client.cli.mount import mount
from client.cli.output import Failure, exec_module
from client.cli.report import report
from client.cli.safemode import safemode
from client.cli.top import top
from hafs_api.errors import HafsError


@click.group(context_settings={"help_option_names": ["--help"]})
@click.option(
    "--conf", metavar="FILE", default=None, help="Client config (TOML); default: $HAFS_CONF."
)
@click.option("--user", default=None, help="Act as this user (default: config, $HAFS_USER).")
@click.option("--json", "json_", is_flag=True, help="Machine-readable JSON output.")
@click.pass_context
def cli(ctx: click.Context, conf: str | None, user: str | None, json_: bool) -> None:
    """hafs command line: hactl fs -ls /, hactl ha status, hactl image query.

    \b
    Shell completion (bash; likewise zsh, fish):
      eval "$(_HACTL_COMPLETE=bash_source hactl)"    in ~/.bashrc, or
      hactl completion bash > ~/.local/share/bash-completion/completions/hactl
    """
    state = ctx.ensure_object(State)
    state.conf = conf if conf is not None else state.conf
    state.user = user if user is not None else state.user
    state.json = json_ or state.json
    ctx.call_on_close(state.close)


def exec_daemon(kind: str, module: str, config: str) -> None:
    if not os.path.isfile(config):
        raise Failure(f"{kind} start: '{config}': No such file")
    exec_module(f"{kind} start", module, "--config", config)


@cli.group("namenode")
def namenode() -> None:
    """Run a NameNode."""


@namenode.command("start")
@click.option(
    "--config", "config", required=True, metavar="FILE", help="The NameNode's config file."
)
def start(config: str) -> None:
    """Replace hactl with: python -m ha_namenode --config FILE"""
    exec_daemon("namenode", "ha_namenode", config)


@cli.group("datanode")
def datanode() -> None:
    """Run a DataNode."""


@datanode.command("start")
@click.option(
    "--config", "config", required=True, metavar="FILE", help="The DataNode's config file."
)
def start_datanode(config: str) -> None:
    """Replace hactl with: python -m datanode --config FILE"""
    exec_daemon("datanode", "datanode", config)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script: eval "$(hactl completion bash)"."""
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    if complete is None:  # click knows the three shells it is offered
        raise Failure(f"completion: no completion for {shell}")
    script = complete(ctx.find_root().command, {}, "hactl", "_HACTL_COMPLETE")
    click.echo(script.source())


cli.add_command(balancer)
cli.add_command(chaos)
cli.add_command(dev)
cli.add_command(dn)
cli.add_command(fsck)
cli.add_command(fs)
cli.add_command(ha)
cli.add_command(image)
cli.add_command(metasave)
cli.add_command(mount)
cli.add_command(report)
cli.add_command(safemode)
cli.add_command(top)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="hactl")
    except HafsError as err:
        click.echo(f"hactl: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
