"""The reading ``hactl fs`` commands: ``-ls``, ``-stat``, ``-du``, ``-count``, ``-test``.

JSON shapes (``--json``): ``-ls`` and ``-stat`` a flat list of FileStatus
objects; ``-du`` a list of ``{"path", "length", "space_consumed"}``; ``-count``
a list of ContentSummary objects; ``-test`` ``{"path", "test", "result"}``.
"""

from __future__ import annotations

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fsformat import (
    DEFAULT_STAT_FORMAT,
    LsFormatter,
    absolute,
    count_header,
    count_line,
    du_lines,
    format_stat,
    found_line,
)
from client.cli.globargs import expand
from hafs_api.errors import HafsError


@click.command("ls")
@click.option("-R", "recursive", is_flag=True, help="List subdirectories recursively.")
@click.option("-d", "directory", is_flag=True, help="List directories as plain files.")
@click.option("-h", "human", is_flag=True, help="Sizes like 1.5 K instead of bytes.")
@json_option
@click.argument("paths", nargs=-1)
@pass_state
def ls(state, recursive, directory, human, json_, paths) -> None:
    """List directories and files (default: your home directory)."""
    report = report_for(state, json_, "ls")
    client = state.client()
    fmt = LsFormatter(human=human)
    for arg in expand(client, report, paths) if paths else [client.home]:
        try:
            st = client.stat(absolute(arg, client.home))
            if directory or not st.is_dir:
                report.lines(fmt.batch([st]))
                report.record(st.to_dict())
            else:
                _list(client, report, fmt, st.path, recursive)
        except HafsError as err:
            report.error(err, arg)
    report.finish()


def _list(client, report, fmt: LsFormatter, top: str, recursive: bool) -> None:
    """hdfs's order: each entry, then (with -R) its subtree; widths fitted per directory."""
    stack = [iter(_listing(client, report, fmt, top, recursive))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        report.line(fmt.line(entry))
        report.record(entry.to_dict())
        if recursive and entry.is_dir:
            try:
                stack.append(iter(_listing(client, report, fmt, entry.path, recursive)))
            except HafsError as err:
                report.error(err, entry.path)


def _listing(client, report, fmt: LsFormatter, path: str, recursive: bool) -> list:
    entries = client.ls(path)
    if entries and not recursive:
        report.line(found_line(len(entries)))
    fmt.widen(entries)
    return entries


@click.command("stat")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="[FORMAT] PATH...")
@pass_state
def stat(state, json_, args) -> None:
    """Print statistics about paths: %a %A %b %F %g %n %o %r %u %x %X %y %Y (default %y)."""
    fmt, targets = DEFAULT_STAT_FORMAT, list(args)
    if "%" in targets[0] and not targets[0].startswith("/"):
        fmt = targets.pop(0)
    if not targets:
        raise click.UsageError("-stat: not enough arguments: expected a PATH")
    report = report_for(state, json_, "stat")
    client = state.client()
    for arg in expand(client, report, targets):
        try:
            st = client.stat(absolute(arg, client.home))
        except HafsError as err:
            report.error(err, arg)
            continue
        report.line(format_stat(fmt, st))
        report.record(st.to_dict())
    report.finish()


@click.command("du")
@click.option("-s", "summary", is_flag=True, help="One total per argument.")
@click.option("-h", "human", is_flag=True, help="Sizes like 1.5 K instead of bytes.")
@click.option("-v", "header", is_flag=True, help="Print a header line.")
@json_option
@click.argument("paths", nargs=-1)
@pass_state
def du(state, summary, human, header, json_, paths) -> None:
    """Show sizes: size, disk space consumed with all replicas, path."""
    report = report_for(state, json_, "du")
    client = state.client()
    found = []
    for arg in expand(client, report, paths) if paths else [client.home]:
        path = absolute(arg, client.home)
        try:
            found += [client.content_summary(path)] if summary else client.du(path)
        except HafsError as err:
            report.error(err, arg)
    report.lines(du_lines(found, human=human, header=header))
    for s in found:
        report.record({"path": s.path, "length": s.length, "space_consumed": s.space_consumed})
    report.finish()


@click.command("count")
@click.option("-q", "quota", is_flag=True, help="Show quotas and what remains of them.")
@click.option("-h", "human", is_flag=True, help="Sizes like 1.5 K instead of bytes.")
@click.option("-v", "header", is_flag=True, help="Print a header line.")
@json_option
@click.argument("paths", nargs=-1, required=True)
@pass_state
def count(state, quota, human, header, json_, paths) -> None:
    """Count directories, files and bytes under paths."""
    report = report_for(state, json_, "count")
    client = state.client()
    if header:
        report.line(count_header(quota))
    for arg in expand(client, report, paths):
        try:
            summary = client.content_summary(absolute(arg, client.home))
        except HafsError as err:
            report.error(err, arg)
            continue
        report.line(count_line(summary, quota=quota, human=human))
        report.record(summary.to_dict())
    report.finish()


_TESTS = {
    "e": lambda st: True,
    "d": lambda st: st.is_dir,
    "f": lambda st: st.is_file,
    "z": lambda st: st.length == 0,
    "s": lambda st: st.length > 0,
}


@click.command("test")
@click.option("-e", "check", flag_value="e", help="True if the path exists.")
@click.option("-d", "check", flag_value="d", help="True if the path is a directory.")
@click.option("-f", "check", flag_value="f", help="True if the path is a file.")
@click.option("-z", "check", flag_value="z", help="True if the file is empty.")
@click.option("-s", "check", flag_value="s", help="True if the path is not empty.")
@json_option
@click.argument("path")
@pass_state
def test(state, check, json_, path) -> None:
    """Exit 0 if the test holds for PATH (a glob: for all its matches), else 1."""
    if check is None:
        raise click.UsageError("-test: give one of -e, -d, -f, -z, -s")
    report = report_for(state, json_, "test")
    client = state.client()
    targets = expand(client, report, [path], missing_ok=True)  # a glob: every match
    try:
        result = bool(targets) and all(_holds(client, check, t) for t in targets)
    except HafsError as err:
        report.error(err, path)
        report.finish(None)
        return
    report.finish({"path": path, "test": check, "result": result})
    if not result:
        raise click.exceptions.Exit(1)


def _holds(client, check: str, arg: str) -> bool:
    try:
        return _TESTS[check](client.stat(absolute(arg, client.home)))
    except (FileNotFoundError, NotADirectoryError):
        return False


COMMANDS = (ls, stat, du, count, test)
