"""More ``hactl fs`` commands of the ``hdfs dfs`` shape: ``-head``, ``-tail [-f]``,
``-getmerge``, ``-find`` and ``-df`` (``-cp``, ``-touchz`` and ``-touch`` are in ``fswrite``).

``-head`` and ``-tail`` read only the range they print (``Client.read_bytes``):
the first or last KiB. ``-tail -f`` then polls the file every second for new
bytes until Ctrl-C. Path arguments take globs (``client.cli.globargs``).

JSON shapes (``--json``): ``-getmerge`` ``{"path", "sources", "length"}`` (the
local file, the remote files in the order merged, bytes written); ``-find`` a
list of absolute paths; ``-df`` a list of ``{"filesystem", "path", "capacity", "used", "remaining",
"use_percent"}`` (capacity from the live DataNodes). ``-head``/``-tail`` print
only the bytes.

Imports: click, ``client.cli``, ``client.glob`` and ``hafs_api``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fschange import tree
from client.cli.fsdata import CHUNK, _fail
from client.cli.fsformat import absolute, human_size
from client.cli.globargs import expand
from client.cli.output import quiet_stdout
from client.glob import component_matcher
from hafs_api.errors import HafsError, IsADirectory

KIB = 1024  # what -head and -tail show
FOLLOW_S = 1.0  # between polls of -tail -f

# -- head and tail -------------------------------------------------------------------


def _out(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        quiet_stdout()
        raise click.exceptions.Exit(1) from None


def _end_bytes_only(report) -> None:
    if report.failed:  # no JSON document: stdout carries the bytes
        raise click.exceptions.Exit(1)


@click.command("head")
@click.argument("file")
@pass_state
def head(state, file) -> None:
    """Print the first KiB of FILE."""
    report = report_for(state, False, "head")
    client = state.client()
    for arg in expand(client, report, [file]):
        try:
            _out(client.read_bytes(absolute(arg, client.home), 0, KIB))
        except OSError as err:
            _fail(report, err, arg, absolute(arg, client.home))
    _end_bytes_only(report)


@click.command("tail")
@click.option("-f", "follow", is_flag=True, help="Go on printing bytes as the file grows.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=FOLLOW_S,
    show_default=True,
    metavar="SECONDS",
    help="With -f: time between polls.",
)
@click.argument("file")
@pass_state
def tail(state, follow, interval, file) -> None:
    """Print the last KiB of FILE; -f follows it until Ctrl-C."""
    report = report_for(state, False, "tail")
    client = state.client()
    for arg in expand(client, report, [file]):
        path = absolute(arg, client.home)
        try:
            st = client.stat(path)
            if st.is_dir:
                raise IsADirectory("Is a directory", path)
            start = max(st.length - KIB, 0)
            _out(client.read_bytes(path, start, st.length))
            if follow:
                _follow(client, path, st.length, interval)
        except OSError as err:
            _fail(report, err, arg, path)
    _end_bytes_only(report)


def _follow(client, path: str, offset: int, interval: float) -> None:
    """Print what is appended after ``offset``, polling every ``interval`` s, until Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(interval)
            while data := client.read_bytes(path, offset, offset + CHUNK):
                _out(data)
                offset += len(data)


# -- getmerge ------------------------------------------------------------------------


@click.command("getmerge")
@click.option("-nl", "newline", is_flag=True, help="Add a newline after each file.")
@click.option("-skip-empty-file", "skip_empty", is_flag=True, help="Leave out empty files.")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="SRC... LOCALDST")
@pass_state
def getmerge(state, newline, skip_empty, json_, args) -> None:
    """Concatenate files (a directory: its files, by name) into one local file."""
    if len(args) < 2:
        raise click.UsageError("-getmerge: expected SRC... LOCALDST")
    *patterns, target = args
    report = report_for(state, json_, "getmerge")
    client = state.client()
    files = []
    for arg in expand(client, report, patterns):
        try:
            st = client.stat(absolute(arg, client.home))
            files += [e for e in client.iter_ls(st.path) if e.is_file] if st.is_dir else [st]
        except HafsError as err:
            report.error(err, arg)
    if report.failed and not files:
        report.finish(None)
        return
    merged, length = [], 0
    try:
        with open(target, "wb") as out:
            for st in files:
                if skip_empty and st.length == 0:
                    continue
                try:
                    length += _copy_out(client, st.path, out)
                except HafsError as err:
                    report.error(err, st.path)
                    continue
                merged.append(st.path)
                if newline:
                    out.write(b"\n")
                    length += 1
    except OSError as err:
        _fail(report, err, target)
    report.finish({"path": os.path.abspath(target), "sources": merged, "length": length})


def _copy_out(client, path: str, out) -> int:
    done = 0
    with client.open(path, "rb") as f:
        while data := f.read(CHUNK):
            out.write(data)
            done += len(data)
    return done


# -- find ----------------------------------------------------------------------------


@click.command("find")
@click.option("-name", "name", metavar="PATTERN", help="Basename matches this glob.")
@click.option("-iname", "iname", metavar="PATTERN", help="As -name, ignoring case.")
@click.option("-print", "print_", is_flag=True, help="Print each match (the default).")
@json_option
@click.argument("paths_", nargs=-1, metavar="PATH...")
@pass_state
def find(state, name, iname, print_, json_, paths_) -> None:
    """Print every path under PATH (default: home) whose basename matches."""
    report = report_for(state, json_, "find")
    client = state.client()
    tests = [component_matcher(name)] if name else []
    tests += [component_matcher(iname, ignore_case=True)] if iname else []
    for arg in expand(client, report, paths_) if paths_ else ["."]:
        top = absolute(arg, client.home)
        try:
            for st in tree(client, client.stat(top), report.error):
                if all(test(st.name) for test in tests):
                    report.line(_shown(arg, top, st.path))
                    report.record(st.path)
        except HafsError as err:
            report.error(err, arg)
    report.finish()


def _shown(arg: str, top: str, path: str) -> str:
    """``path`` as find prints it: under the argument as typed (``d/x`` for ``d``)."""
    if path == top or top == "/":
        return arg if path == top else path
    return arg.rstrip("/") + path[len(top) :]


# -- df ------------------------------------------------------------------------------

DF_HEADER = ("Filesystem", "Size", "Used", "Available", "Use%")


@click.command("df")
@click.option("-h", "human", is_flag=True, help="Sizes like 1.5 G instead of bytes.")
@json_option
@click.argument("paths_", nargs=-1, metavar="[PATH]...")
@pass_state
def df(state, human, json_, paths_) -> None:
    """Show the capacity, used and available space of the file system (live DataNodes)."""
    report = report_for(state, json_, "df")
    client = state.client()
    try:
        live = [d for d in client.datanodes() if d.liveness == "live"]
    except HafsError as err:
        report.error(err)
        report.finish()
        return
    capacity, used = sum(d.capacity for d in live), sum(d.used for d in live)
    remaining = sum(d.remaining for d in live)
    percent = round(100 * used / capacity) if capacity else 0
    filesystem = f"hafs://{client.nameservice}"
    rows = []
    for arg in expand(client, report, paths_) if paths_ else ["/"]:
        try:
            path = client.stat(absolute(arg, client.home)).path
        except HafsError as err:
            report.error(err, arg)
            continue
        sizes = [human_size(n) if human else str(n) for n in (capacity, used, remaining)]
        rows.append((filesystem, *sizes, f"{percent}%"))
        report.record(
            {
                "filesystem": filesystem,
                "path": path,
                "capacity": capacity,
                "used": used,
                "remaining": remaining,
                "use_percent": percent,
            }
        )
    if rows:
        report.lines(df_lines(rows))
    report.finish()


def df_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """hdfs's ``-df`` table: the file system left-aligned, the numbers right-aligned,
    columns two spaces apart."""
    table = [DF_HEADER, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(DF_HEADER))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in table
    ]


COMMANDS = (head, tail, getmerge, find, df)
