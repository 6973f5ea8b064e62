"""The data commands of ``hactl fs``, shaped like ``hdfs dfs``: ``-put`` (``-copyFromLocal``),
``-get`` (``-copyToLocal``), ``-cat``, ``-appendToFile`` and ``-checksum``; and
``wait_for_replication``, the waiting half of ``-setrep -w`` (``fschange``).

Copies go through the client API (``Client.put``/``get``/``open``): each file is
written as ``<name>._COPYING_`` and renamed once complete, also a put from stdin
(``-``). One progress bar (rich on stderr: bytes, speed, ETA) covers a whole
put, get or appendToFile, shown only when stderr is a terminal and not with
``--json``. ``-cat`` streams 1 MiB chunks to stdout's binary stream.

JSON shapes (``--json``): ``-put``/``-get`` a list of ``{"source", "path"}``, one
per file written (``path`` is remote for put, local for get);
``-appendToFile`` ``{"path", "appended", "length"}``; ``-checksum`` a list of
``{"path", "algorithm", "checksum", "length"}`` (``checksum`` in hex, laid out as
hdfs's MD5MD5CRC32 bytes: bytes per CRC, the algorithm's first number, the MD5).
``-cat`` prints only the bytes.

Errors read ``put: 'x': No such file or directory``: a local ``OSError`` becomes
the hafs error of its errno (so ``--json`` gives the same codes), and the
command goes on with its other arguments, exiting 1 at the end.

Imports: click, ``client.cli``, ``client.filecopy`` (a constant) and ``hafs_api``;
rich only when a bar is shown.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fsformat import absolute
from client.cli.globargs import expand
from client.cli.output import quiet_stdout
from client.filecopy import COPYING
from client.types import FileChecksum
from hafs_api import paths
from hafs_api.errors import (
    AccessDenied,
    DeadlineExceeded,
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotFound,
    HafsError,
    InternalError,
    IsADirectory,
    ParentNotDirectory,
)

CHUNK = 1 << 20
POLL_S = 0.5  # between block location checks of -setrep -w

# -- errors and progress ---------------------------------------------------------

_BY_ERRNO = {
    errno.ENOENT: FileNotFound,
    errno.EEXIST: FileAlreadyExists,
    errno.EISDIR: IsADirectory,
    errno.ENOTDIR: ParentNotDirectory,
    errno.ENOTEMPTY: DirectoryNotEmpty,
    errno.EACCES: AccessDenied,
    errno.EPERM: AccessDenied,
}


def _fail(report, err: OSError, typed: str, path: str = "") -> None:
    """Report ``err`` under ``typed`` (the argument as given) when it is about ``path``
    or about nothing in particular, else under the path it names."""
    if isinstance(err, HafsError):
        report.error(err, typed if err.path in ("", path) else err.path)
        return
    name = str(err.filename).removesuffix(COPYING) if err.filename is not None else ""
    where = typed if name in ("", typed, str(Path(typed))) else name
    cls = _BY_ERRNO.get(err.errno)
    reason = err.strerror or str(err)
    report.error(cls(reason, where) if cls else InternalError(f"'{where}': {reason}"), where)


class Meter:
    """One rich progress bar on stderr for a whole command, or none: then ``advance`` is None."""

    def __init__(self, label: str, total: Callable[[], int | None] | None, show: bool) -> None:
        self.advance: Callable[[int], None] | None = None
        self._bar = None
        if not show:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        bar = Progress(TextColumn("{task.description}"), *columns, console=Console(stderr=True))
        task = bar.add_task(label, total=total() if total else None)
        self._bar = bar
        self.advance = lambda n: bar.advance(task, n)

    def __enter__(self) -> Meter:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _meter(report, target: str, total: Callable[[], int | None] | None = None) -> Meter:
    label = f"{report.command} {target}"
    return Meter(label, total, show=not report.json and sys.stderr.isatty())


def _local_size(sources: list[str]) -> int:
    total = 0
    for source in sources:
        with contextlib.suppress(OSError):
            if not os.path.isdir(source):
                total += os.path.getsize(source)
                continue
            for dirpath, _, filenames in os.walk(source):
                total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in filenames)
    return total


def _remote_size(client, sources: list[str]) -> int:
    total = 0
    for source in sources:
        with contextlib.suppress(OSError):
            total += client.content_summary(absolute(source, client.home)).length
    return total


def _split(args: tuple[str, ...]) -> tuple[list[str], str]:
    """``SRC... DST``; one argument copies into the working directory (``.``: the home
    directory for put, which must exist), as hdfs does."""
    *sources, target = args if len(args) > 1 else (*args, ".")
    return sources, target


# -- put -------------------------------------------------------------------------


@click.command("put")
@click.option("-f", "overwrite", is_flag=True, help="Overwrite existing files.")
@click.option("-t", "threads", type=click.IntRange(min=1), default=1, help="Files copied at once.")
@click.option("-p", "preserve", is_flag=True, help="Keep times, permissions and ownership.")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="LOCAL... DST")
@pass_state
def put(state, overwrite, threads, preserve, json_, args) -> None:
    """Copy local files or directory trees (- alone: stdin) to DST."""
    report = report_for(state, json_, click.get_current_context().info_name)
    client = state.client()
    sources, target = _split(args)
    dst = absolute(target, client.home)
    if "-" in sources:
        if len(sources) > 1:
            raise click.UsageError("'-' (stdin) must be the only LOCAL")
        with _meter(report, target) as meter:
            try:
                _put_stream(client, sys.stdin.buffer, dst, overwrite, meter.advance)
                report.record({"source": "-", "path": dst})
            except OSError as err:
                _fail(report, err, target, dst)
        report.finish()
        return
    if (len(sources) > 1 or target == ".") and not _remote_dir(client, report, target, dst):
        report.finish()
        return
    with _meter(report, target, lambda: _local_size(sources)) as meter:
        for arg in sources:
            try:
                kept = _snapshot(Path(arg), _into(client, Path(arg).name, dst)) if preserve else []
                written = client.put(
                    arg, dst, overwrite=overwrite, threads=threads, progress=meter.advance
                )
                _preserve(client, kept)
            except OSError as err:
                _fail(report, err, target if isinstance(err, HafsError) else arg, dst)
                continue
            for path in written:
                report.record({"source": arg, "path": path})
    report.finish()


def _put_stream(client, stream, dst: str, overwrite: bool, progress) -> None:
    try:
        if client.stat(dst).is_dir:
            raise IsADirectory("Is a directory", dst)
        if not overwrite:
            raise FileAlreadyExists("File exists", dst)
    except FileNotFoundError:
        pass  # a new file
    temporary = dst + COPYING
    try:
        with client.open(temporary, "wb", progress=progress) as out:
            while data := stream.read(CHUNK):
                out.write(data)
        client.rename(temporary, dst, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(OSError):  # never created, or already gone
            client.delete(temporary, skip_trash=True)
        raise


def _remote_dir(client, report, typed: str, path: str) -> bool:
    """True if ``path`` is a directory; else report why not (several sources need one)."""
    try:
        if client.stat(path).is_dir:
            return True
        raise ParentNotDirectory("Is not a directory", path)
    except HafsError as err:
        report.error(err, typed)
        return False


def _into(client, name: str, dst: str) -> str:
    """Where put lands a source called ``name``: inside ``dst`` if it is a directory."""
    try:
        return paths.child(dst, name) if client.stat(dst).is_dir else dst
    except FileNotFoundError:
        return dst


def _snapshot(src: Path, root: str) -> list[tuple[str, os.stat_result]]:
    """What ``-p`` keeps, taken before the copy reads (and so touches) the local files:
    each remote path with its local file's or directory's stat."""
    found = [(root, src.stat())]
    if src.is_dir():
        for dirpath, dirnames, filenames in os.walk(src):
            base = paths.join([*paths.split(root), *Path(dirpath).relative_to(src).parts])
            for name in dirnames + filenames:
                found.append((paths.child(base, name), Path(dirpath, name).stat()))
    return found


def _preserve(client, snapshot: list[tuple[str, os.stat_result]]) -> None:
    """``-p``: the permission, owner, group and times of each local file and directory."""
    import grp
    import pwd

    for remote, st in reversed(snapshot):
        client.chmod(remote, st.st_mode & 0o1777)
        with contextlib.suppress(KeyError):  # ids without a name stay as they are
            client.chown(remote, pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
        ms = 1_000_000
        client.set_times(remote, mtime=st.st_mtime_ns // ms, atime=st.st_atime_ns // ms)


# -- get and cat -------------------------------------------------------------------


@click.command("get")
@click.option("-f", "overwrite", is_flag=True, help="Overwrite existing local files.")
@click.option("-t", "threads", type=click.IntRange(min=1), default=1, help="Files copied at once.")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="SRC... LOCALDST")
@pass_state
def get(state, overwrite, threads, json_, args) -> None:
    """Copy files or directory trees to the local disk."""
    report = report_for(state, json_, click.get_current_context().info_name)
    client = state.client()
    patterns, target = _split(args)
    sources = expand(client, report, patterns)
    if len(sources) > 1 and not os.path.isdir(target):
        missing = not os.path.exists(target)
        cls = FileNotFound if missing else ParentNotDirectory
        report.error(cls("No such file or directory" if missing else "Is not a directory"), target)
        report.finish()
        return
    with _meter(report, target, lambda: _remote_size(client, sources)) as meter:
        for arg in sources:
            path = absolute(arg, client.home)
            try:
                written = client.get(
                    path, target, overwrite=overwrite, threads=threads, progress=meter.advance
                )
            except OSError as err:
                _fail(report, err, arg if isinstance(err, HafsError) else target, path)
                continue
            for local in written:
                report.record({"source": path, "path": local})
    report.finish()


@click.command("cat")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@pass_state
def cat(state, paths) -> None:
    """Write files to stdout, one after the other."""
    report = report_for(state, False, "cat")
    client = state.client()
    out = sys.stdout.buffer
    for arg in expand(client, report, paths):
        path = absolute(arg, client.home)
        try:
            with client.open(path, "rb") as f:
                while data := f.read(CHUNK):
                    out.write(data)
            out.flush()
        except BrokenPipeError:
            quiet_stdout()
            raise click.exceptions.Exit(1) from None
        except OSError as err:
            _fail(report, err, arg, path)
    if report.failed:  # no JSON document: stdout carries the bytes
        raise click.exceptions.Exit(1)


# -- appendToFile and checksum ------------------------------------------------------


@click.command("appendToFile")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="LOCAL... DST")
@pass_state
def append_to_file(state, json_, args) -> None:
    """Append local files (- alone: stdin) to DST, creating it if missing."""
    if len(args) < 2:
        raise click.UsageError("expected LOCAL... DST")
    *sources, target = args
    if "-" in sources and len(sources) > 1:
        raise click.UsageError("'-' (stdin) must be the only LOCAL")
    report = report_for(state, json_, "appendToFile")
    client = state.client()
    dst = absolute(target, client.home)
    for arg in sources:  # like hdfs, every source is checked before anything is appended
        if arg != "-" and not os.path.isfile(arg):
            code = errno.EISDIR if os.path.isdir(arg) else errno.ENOENT
            _fail(report, OSError(code, os.strerror(code), arg), arg)
    if report.failed:
        report.finish(None)
        return
    appended, source = 0, target
    total = None if sources == ["-"] else lambda: _local_size(sources)
    try:
        with (
            _meter(report, target, total) as meter,
            client.open(dst, "ab", progress=meter.advance) as out,
        ):
            for source in sources:
                with _local_input(source) as fin:
                    while data := fin.read(CHUNK):
                        out.write(data)
                        appended += len(data)
    except OSError as err:
        _fail(report, err, target if isinstance(err, HafsError) else source, dst)
        report.finish(None)
        return
    length = client.stat(dst).length if report.json else None
    report.finish({"path": dst, "appended": appended, "length": length})


def _local_input(arg: str):
    if arg == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    return open(arg, "rb")


_ALGORITHM = re.compile(r"MD5-of-(\d+)MD5-of-(\d+)CRC32C")


def checksum_hex(result: FileChecksum) -> str:
    """hdfs's bytes of an MD5MD5CRC32 checksum: the two numbers of the algorithm name
    (bytes per CRC in 4 bytes, then the first in 8) before the MD5, in hex."""
    match = _ALGORITHM.fullmatch(result.algorithm)
    if match is None:
        return result.hex
    head = int(match[2]).to_bytes(4, "big") + int(match[1]).to_bytes(8, "big")
    return (head + result.value).hex()


@click.command("checksum")
@json_option
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@pass_state
def checksum(state, json_, paths) -> None:
    """Print each file's checksum: PATH, algorithm, value in hex."""
    report = report_for(state, json_, "checksum")
    client = state.client()
    for arg in expand(client, report, paths):
        path = absolute(arg, client.home)
        try:
            if client.stat(path).is_dir:
                raise IsADirectory("Is a directory", path)
            result = client.checksum(path)
        except OSError as err:
            _fail(report, err, arg, path)
            continue
        value = checksum_hex(result)
        report.line(f"{arg}\t{result.algorithm}\t{value}")
        report.record(
            {
                "path": path,
                "algorithm": result.algorithm,
                "checksum": value,
                "length": result.length,
            }
        )
    report.finish()


# -- setrep -w ---------------------------------------------------------------------


def wait_for_replication(
    client, report, files: list[str], replication: int, timeout: float, sleep=time.sleep
) -> None:
    """Wait until every block of every file has exactly ``replication`` replicas, printing
    hdfs's ``Waiting for /f .... done``; give up (one error per file) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    for path in files:
        _echo(report, f"Waiting for {path} ...")
        try:
            while (short := _short_block(client.block_locations(path), replication)) is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded(
                        f"'{path}': gave up after {timeout:g}s waiting for {replication} "
                        f"replicas of every block (block {short.block_id} has {len(short.hosts)})"
                    )
                _echo(report, ".")
                sleep(min(POLL_S, left))
        except OSError as err:
            _echo(report, "\n")
            _fail(report, err, path, path)
            continue
        _echo(report, " done\n")


def _short_block(blocks, replication: int):
    return next((b for b in blocks if len(b.hosts) != replication), None)


def _echo(report, text: str) -> None:
    if not report.json:
        click.echo(text, nl=False)
        sys.stdout.flush()


def _alias(command: click.Command, name: str) -> click.Command:
    return click.Command(
        name, callback=command.callback, params=command.params, help=f"Same as -{command.name}."
    )


COMMANDS = (
    put,
    _alias(put, "copyFromLocal"),
    get,
    _alias(get, "copyToLocal"),
    cat,
    append_to_file,
    checksum,
)
