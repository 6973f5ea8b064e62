"""The ``hactl fs`` commands that write files inside the cluster (no local side):
``-cp``, ``-touchz`` and ``-touch``.

``-cp [-f] SRC... DST`` copies files and directory trees the way ``hdfs dfs
-cp`` does: DST that is an existing directory receives each source under its
own name; otherwise (one source only) DST becomes the copy, and its parent
must exist. A directory is copied recursively, merging into a
directory that already exists. Each file streams from a reader to a writer
(never through the local disk), into ``<target>._COPYING_``, renamed into
place once complete; a failed copy removes its temporary. Without ``-f`` an
existing target file is the error ``cp: '/t': File exists``.

``-touchz`` creates empty files; as in hdfs the parent must exist and an
existing file must be empty (``touchz: '/f': Not a zero-length file``).
``-touch`` sets times (now, or ``-t yyyyMMdd:HHmmss`` local time), creating
missing files empty unless ``-c``. Path arguments take globs
(``client.cli.globargs``); the DST of ``-cp`` does not.

JSON shapes (``--json``): ``-cp`` a list of ``{"source", "path"}``, one per file
written; ``-touchz``/``-touch`` a list of ``{"path", "created"}``.
Imports: click, ``client.cli``, ``client.filecopy`` (a constant) and ``hafs_api``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fsdata import CHUNK
from client.cli.fsformat import absolute
from client.cli.globargs import expand
from client.filecopy import COPYING
from client.types import FileStatus
from hafs_api import paths
from hafs_api.errors import (
    FileAlreadyExists,
    FileNotFound,
    HafsError,
    InvalidArgument,
    IsADirectory,
    ParentNotDirectory,
)


@click.command("cp")
@click.option("-f", "overwrite", is_flag=True, help="Overwrite existing files.")
@json_option
@click.argument("args", nargs=-1, required=True, metavar="SRC... DST")
@pass_state
def cp(state, overwrite, json_, args) -> None:
    """Copy files or directory trees within the cluster; into DST when it is a directory."""
    if len(args) < 2:
        raise click.UsageError("-cp: expected SRC... DST")
    *patterns, target = args
    report = report_for(state, json_, "cp")
    client = state.client()
    sources = expand(client, report, patterns)
    dst = absolute(target, client.home)
    try:
        into_dir = _is_dir(client, dst)
        if len(patterns) > 1 or len(sources) > 1:
            if into_dir is None:
                client.stat(dst)  # raises FileNotFound
            if not into_dir:
                raise ParentNotDirectory("Is not a directory", dst)
    except HafsError as err:
        report.error(err, target)
        report.finish()
        return
    for arg in sources:
        src = absolute(arg, client.home)
        try:
            top = client.stat(src)
            where = paths.child(dst, top.name) if into_dir else dst
            _check_target(client, arg, top, where, target)
            for source, written in _copy_tree(client, report, top, where, overwrite):
                report.record({"source": source, "path": written})
        except HafsError as err:
            report.error(err, arg if err.path in ("", src) else err.path)
    report.finish()


def _is_dir(client, path: str) -> bool | None:
    """True for a directory, False for a file, None if ``path`` does not exist."""
    try:
        return client.stat(path).is_dir
    except FileNotFoundError:
        return None


def _check_target(client, arg: str, top: FileStatus, where: str, typed: str) -> None:
    """Refuse to copy a path onto or into itself; a new target's parent must exist."""
    if where == top.path:
        raise InvalidArgument(f"'{arg}' and '{typed}' are identical")
    if top.is_dir and where.startswith(top.path.rstrip("/") + "/"):
        raise InvalidArgument(f"'{arg}' to '{where}': is a subdirectory of itself")
    if _is_dir(client, where) is None and not _is_dir(client, paths.parent(where)):
        raise FileNotFound("No such file or directory", where)  # like hdfs: no parent


def _copy_tree(
    client, report, top: FileStatus, where: str, overwrite: bool
) -> Iterator[tuple[str, str]]:
    """Copy ``top`` to ``where`` (a directory: everything under it, depth first),
    yielding ``(source, target)`` for each file written; errors in a file or a
    subdirectory are reported and the copy goes on."""
    stack = [(top, where)]
    while stack:
        st, target = stack.pop()
        try:
            if st.is_file:
                copy_file(client, st.path, target, overwrite)
                yield st.path, target
                continue
            if _is_dir(client, target) is False:
                raise ParentNotDirectory("Is not a directory", target)
            client.mkdir(target, exist_ok=True)
            children = list(client.iter_ls(st.path))
        except HafsError as err:
            if st is top:
                raise
            report.error(err, err.path or st.path)
            continue
        stack.extend((child, paths.child(target, child.name)) for child in reversed(children))


def copy_file(client, src: str, dst: str, overwrite: bool = False) -> None:
    """Stream ``src`` into ``dst._COPYING_``, then rename it to ``dst``."""
    if not overwrite and client.exists(dst):
        raise FileAlreadyExists("File exists", dst)
    temporary = dst + COPYING
    try:
        with client.open(src, "rb") as fin, client.open(temporary, "wb") as out:
            while data := fin.read(CHUNK):
                out.write(data)
        client.rename(temporary, dst, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(OSError):  # never created, or already gone
            client.delete(temporary, skip_trash=True)
        raise


# -- touchz and touch ----------------------------------------------------------------


@click.command("touchz")
@json_option
@click.argument("paths_", nargs=-1, required=True, metavar="PATH...")
@pass_state
def touchz(state, json_, paths_) -> None:
    """Create empty files; an existing file must be empty (it is created anew)."""
    report = report_for(state, json_, "touchz")
    client = state.client()
    for arg in expand(client, report, paths_):
        path = absolute(arg, client.home)
        try:
            created = _touchz(client, arg, path)
        except HafsError as err:
            report.error(err, arg)
            continue
        report.record({"path": path, "created": created})
    report.finish()


def _touchz(client, arg: str, path: str) -> bool:
    """Make ``path`` an empty file; True if it did not exist. Like hdfs, the parent must
    exist and an existing file must be empty."""
    try:
        st = client.stat(path)
    except FileNotFoundError:
        parent = client.stat(paths.parent(path))  # FileNotFound: no parent
        if not parent.is_dir:
            raise ParentNotDirectory("Is not a directory", parent.path) from None
        client.write_bytes(path, b"", overwrite=False)
        return True
    if st.is_dir:
        raise IsADirectory("Is a directory", path)
    if st.length:
        raise InvalidArgument(f"'{arg}': Not a zero-length file")
    client.write_bytes(path, b"")
    return False


@click.command("touch")
@click.option("-a", "atime_only", is_flag=True, help="Change only the access time.")
@click.option("-m", "mtime_only", is_flag=True, help="Change only the modification time.")
@click.option("-t", "stamp", metavar="yyyyMMdd:HHmmss", help="Use this local time, not now.")
@click.option("-c", "no_create", is_flag=True, help="Do not create missing files.")
@json_option
@click.argument("paths_", nargs=-1, required=True, metavar="PATH...")
@pass_state
def touch(state, atime_only, mtime_only, stamp, no_create, json_, paths_) -> None:
    """Set access and modification times (default: now); create missing files empty."""
    try:
        when = datetime.strptime(stamp, "%Y%m%d:%H%M%S") if stamp else datetime.now()
    except ValueError:
        raise click.BadParameter(f"'{stamp}' is not yyyyMMdd:HHmmss", param_hint="-t") from None
    ms = int(when.timestamp() * 1000)
    both = not atime_only and not mtime_only
    report = report_for(state, json_, "touch")
    client = state.client()
    for arg in expand(client, report, paths_):
        path = absolute(arg, client.home)
        try:
            created = False
            if not client.exists(path):
                if no_create:
                    continue
                created = _touchz(client, arg, path)
            mtime = ms if both or mtime_only else None
            client.set_times(path, mtime=mtime, atime=ms if both or atime_only else None)
        except HafsError as err:
            report.error(err, arg)
            continue
        report.record({"path": path, "created": created})
    report.finish()


COMMANDS = (cp, touchz, touch)
