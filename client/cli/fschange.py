"""The changing ``hactl fs`` commands: ``-mkdir -mv -rm -rmdir -chmod -chown -chgrp
-setrep -expunge``, printing what ``hdfs dfs`` prints. ``-setrep -w`` then waits
for the replicas (``fsdata.wait_for_replication``), at most ``--timeout`` seconds.

``-mv`` takes ``hafs://NS/path`` to name a nameservice of the config directly
(a plain path goes where the mount table routes it). A rename cannot cross
nameservices (``CrossNamespace``, like EXDEV); with ``--copy`` it becomes a
verified copy and delete (``client.crossmove``).

JSON shapes (``--json``): ``-mkdir`` a list of FileStatus; ``-mv`` a list of
``{"src", "dst"}``; ``-rm``/``-rmdir`` a list of ``{"path", "trash_path"}``
(``null`` when deleted for good); ``-chmod`` ``{"path", "permission"}`` (octal
string); ``-chown``/``-chgrp`` ``{"path", "owner", "group"}`` (``null``:
unchanged); ``-setrep`` ``{"path", "replication", "changed"}``; ``-expunge``
``{"checkpoint", "removed"}``.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fsdata import wait_for_replication
from client.cli.fsformat import ModeChange, absolute, parse_mode, parse_owner
from client.cli.globargs import expand
from client.crossmove import move_across
from client.types import FileStatus, octal_string
from hafs_api import paths
from hafs_api.errors import (
    CrossNamespace,
    DirectoryNotEmpty,
    HafsError,
    IsADirectory,
    ParentNotDirectory,
)


def tree(client, top: FileStatus, on_error=None) -> Iterator[FileStatus]:
    """``top`` and, for a directory, everything under it (depth first, entries by name).

    ``on_error(err, path)``: a directory that cannot be listed is reported and
    skipped; without it the error propagates.
    """
    stack = [iter([top])]
    while stack:
        st = next(stack[-1], None)
        if st is None:
            stack.pop()
            continue
        yield st
        if st.is_dir:
            if on_error is None:
                stack.append(client.iter_ls(st.path))
                continue
            try:
                stack.append(iter(list(client.iter_ls(st.path))))
            except HafsError as err:
                on_error(err, st.path)


@click.command("mkdir")
@click.option("-p", "parents", is_flag=True, help="Create parents; no error if it exists.")
@json_option
@click.argument("paths", nargs=-1, required=True)
@pass_state
def mkdir(state, parents, json_, paths) -> None:
    """Create directories."""
    report = report_for(state, json_, "mkdir")
    client = state.client()
    for arg in paths:
        try:
            st = client.mkdir(absolute(arg, client.home), parents=parents, exist_ok=parents)
        except HafsError as err:
            report.error(err, arg)
            continue
        report.record(st.to_dict())
    report.finish()


@click.command("mv")
@click.option(
    "--copy",
    "copy",
    is_flag=True,
    help="Across nameservices: copy, verify, then delete the source (a rename cannot).",
)
@json_option
@click.argument("args", nargs=-1, required=True, metavar="SRC... DST")
@pass_state
def mv(state, copy, json_, args) -> None:
    """Move files or directories; into DST when it is a directory. A path may name
    its nameservice as hafs://NS/path."""
    if len(args) < 2:
        raise click.UsageError("-mv: expected SRC... DST")
    report = report_for(state, json_, "mv")
    *patterns, target = args
    dst_ns, target = split_nameservice(target)
    dst_fs = state.client_for(dst_ns)
    dst = absolute(target, dst_fs.home)
    sources: list[tuple[str | None, str]] = []
    for arg in patterns:
        ns, pattern = split_nameservice(arg)
        sources += [(ns, path) for path in expand(state.client_for(ns), report, [pattern])]
    try:
        into = dst_fs.stat(dst).is_dir
    except FileNotFoundError:
        into = False
    except HafsError as err:
        report.error(err, target)
        report.finish()
        return
    if len(sources) > 1 and not into:
        report.error(ParentNotDirectory("Is not a directory", dst), target)
        report.finish()
        return
    for ns, arg in sources:
        src_fs = state.client_for(ns)
        src = absolute(arg, src_fs.home)
        try:
            moved = paths.child(dst, paths.basename(src)) if into else dst
            src_ns, dst_ns = src_fs.nameservice_of(src), dst_fs.nameservice_of(moved)
            if src_ns == dst_ns:
                moved = src_fs.mv(src, dst)
            else:
                if not copy:
                    raise CrossNamespace(
                        f"cannot rename across nameservices ({src_ns} to {dst_ns}); "
                        "use -mv --copy for a verified copy and delete",
                        src,
                    )
                move_across(src_fs, src, dst_fs, moved)
        except HafsError as err:
            report.error(err, err.path or arg)
            continue
        report.record({"src": src, "dst": moved})
    report.finish()


def split_nameservice(arg: str) -> tuple[str | None, str]:
    """``hafs://NS/path`` -> ``(NS, "/path")``; ``hafs:///path`` and plain paths: no NS."""
    if not arg.startswith("hafs://"):
        return None, arg
    host, _, rest = arg[len("hafs://") :].partition("/")
    return host or None, "/" + rest


@click.command("rm")
@click.option("-r", "-R", "recursive", is_flag=True, help="Delete directories and their contents.")
@click.option("-f", "force", is_flag=True, help="No error if a path does not exist.")
@click.option("-skipTrash", "skip_trash", is_flag=True, help="Delete at once, bypassing trash.")
@json_option
@click.argument("paths", nargs=-1, required=True)
@pass_state
def rm(state, recursive, force, skip_trash, json_, paths) -> None:
    """Delete files (to trash, unless -skipTrash)."""
    report = report_for(state, json_, "rm")
    client = state.client()
    for arg in expand(client, report, paths, missing_ok=force):
        path = absolute(arg, client.home)
        try:
            if not recursive and client.stat(path).is_dir:
                raise IsADirectory("Is a directory", path)
            trash = client.delete(path, recursive=recursive, skip_trash=skip_trash)
        except FileNotFoundError as err:
            if not force:
                report.error(err, arg)
            continue
        except HafsError as err:
            report.error(err, arg)
            continue
        report.line(f"Moved: '{path}' to trash at: {trash}" if trash else f"Deleted {path}")
        report.record({"path": path, "trash_path": trash})
    report.finish()


@click.command("rmdir")
@click.option(
    "--ignore-fail-on-non-empty",
    "ignore_non_empty",
    is_flag=True,
    help="No error for a directory that still has entries.",
)
@json_option
@click.argument("paths", nargs=-1, required=True)
@pass_state
def rmdir(state, ignore_non_empty, json_, paths) -> None:
    """Delete empty directories (never to trash)."""
    report = report_for(state, json_, "rmdir")
    client = state.client()
    for arg in expand(client, report, paths):
        try:
            st = client.stat(absolute(arg, client.home))
            if not st.is_dir:
                raise ParentNotDirectory("Is not a directory", st.path)
            client.delete(st.path, recursive=False, skip_trash=True)
        except DirectoryNotEmpty as err:
            if not ignore_non_empty:
                report.error(err, arg)
            continue
        except HafsError as err:
            report.error(err, arg)
            continue
        report.record({"path": st.path, "trash_path": None})
    report.finish()


class ModeType(click.ParamType):
    name = "MODE"

    def convert(self, value, param, ctx) -> ModeChange:
        if isinstance(value, ModeChange):
            return value
        try:
            return parse_mode(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


@click.command("chmod")
@click.option("-R", "recursive", is_flag=True, help="Apply to everything under directories.")
@json_option
@click.argument("mode", type=ModeType())
@click.argument("paths", nargs=-1, required=True)
@pass_state
def chmod(state, recursive, json_, mode: ModeChange, paths) -> None:
    """Change permissions: octal (755, 1777) or symbolic (u+x,go-w,a=r,+t)."""
    report = report_for(state, json_, "chmod")
    client = state.client()
    for arg in expand(client, report, paths):
        try:
            top = client.stat(absolute(arg, client.home))
            for st in tree(client, top) if recursive else [top]:
                new = mode.apply(st.permission, st.is_dir)
                if new != st.permission or mode.octal is not None:
                    client.chmod(st.path, new)
                report.record({"path": st.path, "permission": octal_string(new)})
        except HafsError as err:
            report.error(err, arg)
    report.finish()


def _set_owner(state, json_, command, owner, group, recursive, paths) -> None:
    report = report_for(state, json_, command)
    client = state.client()
    for arg in expand(client, report, paths):
        try:
            top = client.stat(absolute(arg, client.home))
            for st in tree(client, top) if recursive else [top]:
                client.chown(st.path, owner, group)
                report.record({"path": st.path, "owner": owner, "group": group})
        except HafsError as err:
            report.error(err, arg)
    report.finish()


def _owner_spec(ctx, param, value: str) -> tuple[str | None, str | None]:
    try:
        return parse_owner(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


@click.command("chown")
@click.option("-R", "recursive", is_flag=True, help="Apply to everything under directories.")
@json_option
@click.argument("spec", metavar="OWNER[:GROUP]", callback=_owner_spec)
@click.argument("paths", nargs=-1, required=True)
@pass_state
def chown(state, recursive, json_, spec, paths) -> None:
    """Change the owner (and group) of paths."""
    _set_owner(state, json_, "chown", spec[0], spec[1], recursive, paths)


@click.command("chgrp")
@click.option("-R", "recursive", is_flag=True, help="Apply to everything under directories.")
@json_option
@click.argument("group", callback=lambda ctx, p, v: _owner_spec(ctx, p, f":{v}")[1])
@click.argument("paths", nargs=-1, required=True)
@pass_state
def chgrp(state, recursive, json_, group, paths) -> None:
    """Change the group of paths."""
    _set_owner(state, json_, "chgrp", None, group, recursive, paths)


@click.command("setrep")
@click.option(
    "-R",
    "recursive",
    is_flag=True,
    help="Accepted for compatibility: directories are always done recursively.",
)
@click.option("-w", "wait", is_flag=True, help="Wait until every block has N replicas.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="With -w: give up after this long.",
)
@json_option
@click.argument("replication", type=click.IntRange(min=1), metavar="N")
@click.argument("paths", nargs=-1, required=True)
@pass_state
def setrep(state, recursive, wait, timeout, json_, replication, paths) -> None:
    """Set the replication of files (every file under a directory); -w waits for it."""
    report = report_for(state, json_, "setrep")
    client = state.client()
    done = []
    for arg in expand(client, report, paths):
        try:
            top = client.stat(absolute(arg, client.home))
            for st in tree(client, top):
                if st.is_file:
                    changed = client.set_replication(st.path, replication)
                    done.append(st.path)
                    report.line(f"Replication {replication} set: {st.path}")
                    report.record({"path": st.path, "replication": replication, "changed": changed})
        except HafsError as err:
            report.error(err, arg)
    if wait:
        wait_for_replication(client, report, done, replication, timeout)
    report.finish()


@click.command("expunge")
@click.option(
    "-immediate",
    "immediate",
    is_flag=True,
    help="Delete every trash checkpoint now, not only expired ones.",
)
@json_option
@pass_state
def expunge(state, immediate, json_) -> None:
    """Empty the trash: checkpoint Current, delete expired checkpoints."""
    report = report_for(state, json_, "expunge")
    try:
        result = state.client().expunge(immediate=immediate)
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    if result.checkpoint:
        report.line(f"Created trash checkpoint: {result.checkpoint}")
    for removed in result.removed:
        report.line(f"Deleted trash checkpoint: {removed}")
    report.finish(result.to_dict())


COMMANDS = (mkdir, mv, rm, rmdir, chmod, chown, chgrp, setrep, expunge)
