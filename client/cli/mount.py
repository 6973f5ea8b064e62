"""``hactl mount``: the federation's mount table: list, add and remove mounts.

``list`` prints the version, the default nameservice (which owns every path
no mount matches) and a table of Mount, Nameservice, Mode (``rw`` or ``ro``).
``add PATH NAMESERVICE [--read-only] [--ns-quota N] [--ds-quota BYTES]``
mounts a nameservice at PATH. ``BYTES`` takes binary suffixes, ``10g`` or
``512m``, as ``hdfs dfsadmin -setSpaceQuota`` does. ``remove PATH`` removes the
mount at PATH. The changes go to the default nameservice's leader, need the
superuser, and reach every client at its next call to an affected path. A
change the leader could not yet install in some nameservice prints them as
pending; the leader keeps trying.

JSON shapes: ``list`` ``{"version", "default_nameservice", "mounts": [{"path",
"nameservice", "read_only"}]}``; ``add``/``remove`` the same plus ``"pending"``.
"""

from __future__ import annotations

import click

from client.cli.context import json_option, pass_state, report_for
from client.types import MountChange, mount_table_dict
from hafs_api.errors import HafsError
from hafs_api.mounts import MountTable

_SUFFIXES = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


class ByteSize(click.ParamType):
    """A byte count: ``1048576``, ``512k``, ``10g`` (powers of 1024)."""

    name = "bytes"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        power = _SUFFIXES.get(text[-1:], 0)
        number = text[:-1] if power else text
        try:
            size = int(number)
        except ValueError:
            self.fail(f"{value!r} is not a byte count like 1048576, 512k or 10g", param, ctx)
        if size < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return size * 1024**power


@click.group("mount")
def mount() -> None:
    """The mount table: which nameservice owns which path prefix."""


@mount.command("list")
@json_option
@pass_state
def list_mounts(state, json_) -> None:
    """Show the mount table (fresh from the default nameservice)."""
    report = report_for(state, json_, "mount list")
    try:
        table = state.client().mounts()
    except HafsError as err:
        report.error(err)
        report.finish(None)
        return
    report.lines(table_lines(table))
    report.finish(mount_table_dict(table))


def table_lines(table: MountTable) -> list[str]:
    out = [f"Mount table version {table.version}, default nameservice {table.default}"]
    if not table.mounts:
        return [*out, "No mounts: every path belongs to the default nameservice"]
    width = max(len("Mount"), *(len(m.path) for m in table.mounts))
    ns_width = max(len("Nameservice"), *(len(m.nameservice) for m in table.mounts))
    out.append(f"{'Mount':<{width}}  {'Nameservice':<{ns_width}}  Mode")
    for m in table.mounts:
        out.append(
            f"{m.path:<{width}}  {m.nameservice:<{ns_width}}  {'ro' if m.read_only else 'rw'}"
        )
    return out


@mount.command("add")
@click.argument("path")
@click.argument("nameservice")
@click.option("--read-only", "read_only", is_flag=True, help="Refuse changes under PATH.")
@click.option(
    "--ns-quota", type=click.IntRange(min=1), default=None, help="Name quota of the mount point."
)
@click.option(
    "--ds-quota", type=ByteSize(), default=None, help="Space quota (bytes, all replicas): 10g."
)
@json_option
@pass_state
def add(state, path, nameservice, read_only, ns_quota, ds_quota, json_) -> None:
    """Mount NAMESERVICE at PATH: PATH and everything below it belong to it."""
    report = report_for(state, json_, "mount add")
    try:
        change = state.client().add_mount(path, nameservice, read_only, ns_quota, ds_quota)
    except HafsError as err:
        report.error(err, path)
        report.finish(None)
        return
    mode = "read-only" if read_only else "read-write"
    report.line(f"Mounted {nameservice} at {path} ({mode}); {_version(change)}")
    report.finish(change.to_dict())


@mount.command("remove")
@click.argument("path")
@json_option
@pass_state
def remove(state, path, json_) -> None:
    """Remove the mount at PATH (nothing is deleted in either nameservice)."""
    report = report_for(state, json_, "mount remove")
    try:
        change = state.client().remove_mount(path)
    except HafsError as err:
        report.error(err, path)
        report.finish(None)
        return
    report.line(f"Removed the mount at {path}; {_version(change)}")
    report.finish(change.to_dict())


def _version(change: MountChange) -> str:
    text = f"mount table version {change.table.version}"
    if change.pending:
        text += f" (not yet installed in {', '.join(change.pending)}: retrying)"
    return text
