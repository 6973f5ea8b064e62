"""Views across namespaces: listings, summaries and fsck that span mount points.

A routing ``Client`` (``client.router``) sends each call to the nameservice
that owns the path. A directory can have mounts below it that live in other
nameservices. This module joins their parts into one view:

* ``merge_listing``: the owner's listing of a directory, plus an entry for each
  name that leads to a mount (``MountTable.children_mounts``). An entry that
  is a mount point is stat'ed in its own nameservice, with a short deadline.
  An entry that is not, or whose stat failed, keeps the owner's entry if there
  is one, else gets a synthetic directory. The order stays sorted by name, and
  the owner's pages are still streamed.
* ``virtual_directory``: the status of a directory that exists only because
  mounts lie below it (``/user`` for a mount at ``/user/a``).
* ``add_summaries`` (and ``client.admin.add_fsck``): the owner's totals of a
  path plus those of every mount below it. Each mount is asked in its own
  nameservice, once (nested mounts are not counted twice). A mount point its
  nameservice does not have adds nothing.

Not covered: content the owner keeps under a path that is also a mount point
(a "shadowed" directory) still counts in the owner's totals.
Imports: ``client.types`` (value types), ``hafs_api``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from client.types import DIRECTORY, ContentSummary, FileStatus
from hafs_api import paths
from hafs_api.errors import HafsError
from hafs_api.mounts import MountTable

if TYPE_CHECKING:
    from client.client import Client

log = logging.getLogger(__name__)

MOUNT_STAT_DEADLINE = 5.0  # seconds a mount point's stat may take in a listing
VIRTUAL_PERMISSION = 0o755


def virtual_directory(path: str, user: str) -> FileStatus:
    """A directory that only leads to mount points (no nameservice holds it)."""
    return FileStatus(
        path=path,
        kind=DIRECTORY,
        length=0,
        replication=0,
        block_size=0,
        mtime=0,
        atime=0,
        permission=VIRTUAL_PERMISSION,
        owner=user,
        group=user,
    )


def merge_listing(
    fs: Client, path: str, table: MountTable, listing: Iterable[FileStatus]
) -> Iterator[FileStatus]:
    """``listing`` (the owner's, sorted by name) with the entries leading to mounts."""
    pending = table.children_mounts(path)
    try:
        for entry in listing:
            while pending and pending[0] < entry.name:
                yield mount_entry(fs, table, paths.child(path, pending.pop(0)), None)
            if pending and pending[0] == entry.name:
                pending.pop(0)
                yield mount_entry(fs, table, entry.path, entry)
                continue
            yield entry
    except FileNotFoundError:
        if not pending:
            raise  # the directory is missing and no mount lies below it
    for name in pending:
        yield mount_entry(fs, table, paths.child(path, name), None)


def mount_entry(fs: Client, table: MountTable, child: str, shadow: FileStatus | None) -> FileStatus:
    """The entry for ``child``: a mount point's own status when it can be had quickly,
    else the owner's entry (``shadow``), else a synthetic directory."""
    if any(mount.path == child for mount in table.mounts):
        try:
            return fs.stat_within(child, MOUNT_STAT_DEADLINE)
        except HafsError as err:
            log.debug("listing shows mount point %s unstat'ed: %s", child, err)
    return shadow if shadow is not None else virtual_directory(child, fs.user)


def virtual_summary(path: str) -> ContentSummary:
    """What a directory that only leads to mounts contributes itself: one directory."""
    return ContentSummary(path, 0, 0, 1, -1, 1, -1, 0)


def add_summaries(own: ContentSummary, below: Iterable[ContentSummary]) -> ContentSummary:
    """``own`` (its quotas stay) plus the usage of each mount below."""
    total = own
    for part in below:
        total = dataclasses.replace(
            total,
            length=total.length + part.length,
            file_count=total.file_count + part.file_count,
            directory_count=total.directory_count + part.directory_count,
            ns_used=total.ns_used + part.ns_used,
            space_consumed=total.space_consumed + part.space_consumed,
        )
    return total


__all__ = [
    "add_summaries",
    "merge_listing",
    "mount_entry",
    "virtual_directory",
    "virtual_summary",
]
