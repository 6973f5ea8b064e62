"""``hactl fs``: HDFS-style dash commands (``hactl fs -ls /``) on click.

``DashGroup`` maps a leading ``-ls`` to the ``ls`` subcommand, so both
``hactl fs -ls /`` and ``hactl fs ls /`` work; the subcommands declare hdfs's
single-dash options (``-R``, ``-skipTrash``, ``-immediate``) directly, which
click accepts as long options. The commands live in ``fsquery`` (reads),
``fschange`` (changes), ``fsdata`` (file data: put, get, cat, appendToFile,
checksum), ``fsmore`` (head, tail, getmerge, find, df), ``fswrite`` (cp, touchz,
touch) and ``fsxattr`` (setfattr, getfattr). Path arguments take HDFS globs
(``client.cli.globargs``).
Shell completion offers the dash forms (``hactl fs -l<TAB>``).
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from client.cli import fschange, fsdata, fsmore, fsquery, fswrite, fsxattr


class DashGroup(click.Group):
    """A group whose subcommands may be named with one leading dash, like ``hdfs dfs``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and not args[0].startswith("--"):
            name = args[0][1:]
            if name in self.commands:
                args = [name, *args[1:]]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        if incomplete.startswith("-") and not incomplete.startswith("--"):
            names = (f"-{name}" for name in self.list_commands(ctx))
            return [CompletionItem(name) for name in names if name.startswith(incomplete)]
        return super().shell_complete(ctx, incomplete)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "-COMMAND [ARGS]...")


@click.group("fs", cls=DashGroup)
def fs() -> None:
    """File system commands, as in hdfs dfs: hactl fs -ls /"""


for _command in (
    *fsquery.COMMANDS,
    *fschange.COMMANDS,
    *fsdata.COMMANDS,
    *fsmore.COMMANDS,
    *fswrite.COMMANDS,
    *fsxattr.COMMANDS,
):
    fs.add_command(_command)
