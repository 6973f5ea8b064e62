"""``Client``: the namespace operations and the file data of hafs as Python methods.

Paths are validated here with ``hafs_api.paths`` before any RPC (a trailing
slash is dropped, except for ``/``), so a bad path fails fast with
``InvalidPath``. Errors are the ``hafs_api.errors`` classes, which are also the
matching built-ins (``FileNotFoundError``, ``FileExistsError``, ...).

Federation: every path-taking call goes through ``client.router``. A client
made with ``nameservice=``, or from a config with one nameservice, talks to
that nameservice only. Otherwise each call goes to the owner of its path by
the cached mount table. Views that span mounts (``ls`` showing mount points,
``content_summary``/``du``/``fsck`` summed over mounts below) are in
``client.views``. A ``rename`` across nameservices raises ``CrossNamespace``
before any RPC. The mount table calls are in ``client.mountadmin``, the HA
administration calls in ``client.haadmin``, the DataNode ones in ``client.admin``,
safe mode in ``client.safemode``, ``metasave`` in ``client.metasave``, the extended
attributes (``set_xattr``, ``compare_and_set_xattr``, ...) in
``client.xattrs``.

The file-data methods (``open``, ``read_bytes``, ``put``, ``checksum``, ...)
come from the ``client.files.FileAccess`` mixin; this module sets up what they
need (the DataNode channels are made on first use, the lease renewer is idle
until a file is open for writing).

Imports: ``client.rpc`` and ``client.router`` for the wire, ``client.convert``
for the messages, ``client.views``, ``client.files``, ``client.lease`` and the mixins.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence

from client import convert, views
from client import glob as globbing
from client.admin import DatanodeAdmin
from client.balancer import BalancerAdmin
from client.config import ClientConfig, from_addresses, load
from client.files import FileAccess, normalize
from client.haadmin import HaAdmin
from client.metasave import MetaSaveAdmin
from client.mountadmin import MountAdmin
from client.retry import RetryPolicy
from client.router import Router
from client.rpc import NamenodeConnection
from client.safemode import SafeModeAdmin
from client.types import (
    ContentSummary,
    ExpungeResult,
    FileStatus,
    ServerDefaults,
)
from client.xattrs import XAttrAccess
from hafs_api import paths
from hafs_api.errors import InternalError, InvalidArgument
from hafs_api.mounts import MountTable
from hafs_api.v1 import namenode_pb2 as pb


class Client(
    FileAccess,
    DatanodeAdmin,
    BalancerAdmin,
    HaAdmin,
    MountAdmin,
    XAttrAccess,
    SafeModeAdmin,
    MetaSaveAdmin,
):
    """A connection to a hafs file system: one nameservice, or several joined by mounts.

    ``Client(addresses=["127.0.0.1:8020", ...], user="alice")`` or
    ``Client.from_config(path)``; use as a context manager, or call ``close()``.
    ``nameservice="ns2"`` binds the client to that nameservice of the config
    (direct access, no mount table); without it, a config with several
    nameservices gives a client that routes each path to its owner.
    ``packet_size`` and ``window`` shape write pipelines (bytes per packet, packets
    in flight) and may be changed before opening a file.
    """

    def __init__(
        self,
        addresses: Sequence[str] | None = None,
        *,
        user: str | None = None,
        config: ClientConfig | None = None,
        nameservice: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if config is None:
            if addresses is None:
                raise InvalidArgument(
                    "pass addresses=[...] or config=..., or use Client.from_config()"
                )
            config = from_addresses(addresses, user=user)
        elif addresses is not None:
            raise InvalidArgument("pass either addresses or config, not both")
        self.config = config.with_user(user)
        settings = self.config.client
        self.user = settings.user
        self.umask = settings.umask
        self.client_id = uuid.uuid4().hex
        self.nameservice = self.config.nameservice(nameservice).name
        policy = retry or RetryPolicy(deadline=settings.deadline_s)
        self._connections = {
            ns.name: NamenodeConnection(
                ns.name,
                ns.namenodes,
                user=self.user,
                client_id=self.client_id,
                retry=policy,
                attempt_timeout=settings.attempt_timeout_s,
            )
            for ns in self.config.nameservices
        }
        single = len(self._connections) == 1
        self.router = Router(
            self._connections,
            self.config.default_nameservice,
            bound=self.nameservice if nameservice or single else None,
        )
        self._start_file_access()

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        nameservice: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Client:
        """A client for the config at ``path`` (else ``$HAFS_CONF``)."""
        return cls(config=load(path), user=user, nameservice=nameservice, retry=retry)

    @property
    def connection(self) -> NamenodeConnection:
        """The connection of ``nameservice`` (the default one of a routing client)."""
        return self._connections[self.nameservice]

    @property
    def routing(self) -> bool:
        """True when calls go to the owners of their paths by the mount table."""
        return self.router.routing

    def nameservice_of(self, path: str) -> str:
        """The nameservice that serves ``path`` (a bound client: its own)."""
        return self.router.owner(normalize(path))

    @property
    def home(self) -> str:
        return f"/user/{self.user}"

    def close(self) -> None:
        self._stop_file_access()
        for connection in self._connections.values():
            connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "routing" if self.routing else repr(self.nameservice)
        return f"Client({where}, user={self.user!r})"

    # -- reads ---------------------------------------------------------------

    def stat(self, path: str) -> FileStatus:
        """The status of ``path``; a directory that only leads to mount points (no
        nameservice holds it) is a synthetic directory."""
        path = normalize(path)
        try:
            resp = self._call(path, "GetFileInfo", pb.GetFileInfoRequest(path=path))
        except FileNotFoundError:
            if self._mounts_below(path) is None:
                raise
            return views.virtual_directory(path, self.user)
        return convert.file_status(resp.status, parent=paths.parent(path))

    def stat_within(self, path: str, deadline: float) -> FileStatus:
        """``stat`` retried for at most ``deadline`` seconds (a listing's mount points)."""
        path = normalize(path)

        def call(connection: NamenodeConnection, version: int):
            policy = connection.retry.copy(deadline=min(connection.retry.deadline, deadline))
            return connection.call(
                "GetFileInfo",
                pb.GetFileInfoRequest(path=path),
                mutation=False,
                mount_version=version,
                retry=policy,
            )

        resp = self.router.run([path], call)
        return convert.file_status(resp.status, parent=paths.parent(path))

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def iter_ls(self, path: str, *, page_size: int = 0) -> Iterator[FileStatus]:
        """The entries of a directory, fetched a page at a time (``page_size`` 0: the
        server's), with the mount points below it (``client.views.merge_listing``)."""
        path = normalize(path)
        table = self._mounts_below(path)
        listing = self._listing(path, page_size)
        return listing if table is None else views.merge_listing(self, path, table, listing)

    def _listing(self, path: str, page_size: int) -> Iterator[FileStatus]:
        """The owner's listing of ``path``, page by page."""
        start_after = ""
        while True:
            resp = self._call(
                path,
                "GetListing",
                pb.GetListingRequest(path=path, start_after=start_after, limit=page_size),
            )
            for entry in resp.entries:
                yield convert.file_status(entry, parent=path)
            if resp.remaining == 0:
                return
            if not resp.entries:
                raise InternalError(
                    f"listing returned an empty page with {resp.remaining} entries remaining", path
                )
            start_after = resp.entries[-1].path.rsplit("/", 1)[-1]

    def ls(self, path: str, detail: bool = True) -> list[FileStatus] | list[str]:
        entries = list(self.iter_ls(path))
        return entries if detail else [entry.path for entry in entries]

    def walk(self, path: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk`` (top-down): ``(dirpath, dirnames, filenames)``.

        Prune the walk by removing names from ``dirnames`` in place.
        """
        top = normalize(path)
        if not self.stat(top).is_dir:
            return
        stack = [top]
        while stack:
            current = stack.pop()
            dirs: list[str] = []
            files: list[str] = []
            try:
                for entry in self.iter_ls(current):
                    (dirs if entry.is_dir else files).append(entry.name)
            except FileNotFoundError:
                continue  # removed while we walked
            yield current, dirs, files
            stack.extend(paths.child(current, name) for name in reversed(dirs))

    def glob(self, pattern: str) -> list[str]:
        """The paths matching an HDFS glob (``/logs/2024-*/part-[0-9]*.{csv,json}``),
        sorted; ``[pattern]`` for an existing path without wildcards, ``[]`` when
        nothing matches. See ``client.glob`` for the syntax."""
        return globbing.glob(normalize(pattern), self._glob_listing, self.exists)

    def _glob_listing(self, path: str) -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of a directory's entries; none for a missing path or a file."""
        try:
            entries = list(self.iter_ls(path))
        except (FileNotFoundError, NotADirectoryError):
            return []
        if len(entries) == 1 and entries[0].path == normalize(path) and entries[0].is_file:
            return []  # the listing of a file is the file itself
        return [(entry.name, entry.is_dir) for entry in entries]

    def content_summary(self, path: str) -> ContentSummary:
        """Totals under ``path``; with mounts below it, their totals are added (once each,
        from their own nameservices)."""
        path = normalize(path)
        table = self._mounts_below(path)
        if table is None:
            return self._summary(path)
        try:
            own = self._summary(path)
        except FileNotFoundError:
            own = views.virtual_summary(path)
        below = []
        for mount in table.mounts_below(path):
            try:
                below.append(self._summary(mount.path))
            except FileNotFoundError:
                continue  # a mount point its nameservice does not have yet
        return views.add_summaries(own, below)

    def _summary(self, path: str) -> ContentSummary:
        resp = self._call(path, "GetContentSummary", pb.GetContentSummaryRequest(path=path))
        return convert.content_summary(path, resp.summary)

    def du(self, path: str) -> list[ContentSummary]:
        """One summary per child of a directory (``hdfs dfs -du``); for a file, its own."""
        status = self.stat(path)
        if not status.is_dir:
            return [self.content_summary(status.path)]
        return [self.content_summary(entry.path) for entry in self.iter_ls(status.path)]

    def server_defaults(self) -> ServerDefaults:
        """The defaults of ``nameservice`` (the default one of a routing client)."""
        return convert.server_defaults(
            self.connection.call("GetServerDefaults", pb.GetServerDefaultsRequest(), mutation=False)
        )

    # -- namespace changes -----------------------------------------------------

    def mkdir(
        self, path: str, parents: bool = False, exist_ok: bool = False, permission: int = 0o777
    ) -> FileStatus:
        """Create a directory; ``permission`` is masked by the client's umask."""
        path = normalize(path)
        masked = _check_mode(permission) & ~self.umask
        resp = self._call(
            path,
            "Mkdir",
            pb.MkdirRequest(path=path, permission=masked, parents=parents, exist_ok=exist_ok),
            mutation=True,
        )
        if not resp.HasField("status"):
            return self.stat(path)
        return convert.file_status(resp.status, parent=paths.parent(path))

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        """Rename within one nameservice: ``CrossNamespace`` (EXDEV) before any RPC when
        ``src`` and ``dst`` have different owners. (The owner refuses to move a mount
        point or a directory holding one: ``InvalidArgument``.)"""
        src, dst = normalize(src), normalize(dst)
        request = pb.RenameRequest(src=src, dst=dst, overwrite=overwrite)
        self.router.run(
            [src, dst],
            lambda connection, version: connection.call(
                "Rename", request, mutation=True, mount_version=version
            ),
        )

    def mv(self, src: str, dst: str) -> str:
        """``hdfs dfs -mv``: into ``dst`` when it is an existing directory; returns the new path."""
        src, dst = normalize(src), normalize(dst)
        try:
            if self.stat(dst).is_dir:
                dst = paths.child(dst, paths.basename(src))
        except FileNotFoundError:
            pass  # a new name
        self.rename(src, dst)
        return dst

    def delete(self, path: str, recursive: bool = False, skip_trash: bool = False) -> str | None:
        """Delete ``path``; returns where it went in the trash, or None if it is gone."""
        path = normalize(path)
        resp = self._call(
            path,
            "Delete",
            pb.DeleteRequest(path=path, recursive=recursive, skip_trash=skip_trash),
            mutation=True,
        )
        return resp.trash_path or None

    def rm(self, path: str, recursive: bool = False, skip_trash: bool = False) -> str | None:
        """``delete`` by its shell name (``hdfs dfs -rm``)."""
        return self.delete(path, recursive=recursive, skip_trash=skip_trash)

    def chmod(self, path: str, mode: int) -> None:
        path = normalize(path)
        self._call(
            path,
            "SetPermission",
            pb.SetPermissionRequest(path=path, permission=_check_mode(mode)),
            mutation=True,
        )

    def chown(self, path: str, owner: str | None = None, group: str | None = None) -> None:
        path = normalize(path)
        if not owner and not group:
            raise InvalidArgument("chown needs an owner or a group", path)
        self._call(
            path,
            "SetOwner",
            pb.SetOwnerRequest(path=path, owner=owner or "", group=group or ""),
            mutation=True,
        )

    def set_replication(self, path: str, n: int) -> bool:
        """Set a file's replication; True if it changed (False for a directory)."""
        path = normalize(path)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgument(f"replication must be an integer >= 1, got {n!r}", path)
        resp = self._call(
            path,
            "SetReplication",
            pb.SetReplicationRequest(path=path, replication=n),
            mutation=True,
        )
        return resp.changed

    def set_times(self, path: str, mtime: int | None = None, atime: int | None = None) -> None:
        """Set times in ms since the epoch; None leaves one unchanged."""
        path = normalize(path)
        self._call(
            path,
            "SetTimes",
            pb.SetTimesRequest(
                path=path,
                mtime_ms=-1 if mtime is None else mtime,
                atime_ms=-1 if atime is None else atime,
            ),
            mutation=True,
        )

    def set_quota(self, path: str, ns: int | None = None, ds: int | None = None) -> None:
        """Set the name quota (files + directories) and/or space quota (bytes, all replicas)."""
        path = normalize(path)
        if ns is None and ds is None:
            raise InvalidArgument("set_quota needs ns and/or ds", path)
        if ns is not None and ns < 1:
            raise InvalidArgument(f"name quota must be >= 1, got {ns}", path)
        if ds is not None and ds < 0:
            raise InvalidArgument(f"space quota must be >= 0, got {ds}", path)
        self._set_quota(path, ns, ds)

    def clear_quota(self, path: str, ns: bool = True, ds: bool = True) -> None:
        path = normalize(path)
        self._set_quota(path, -1 if ns else None, -1 if ds else None)

    def expunge(self, immediate: bool = False) -> ExpungeResult:
        """Expunge the trash: in every nameservice the mount table uses, for a routing
        client (the default's checkpoint name is returned, all removals are listed)."""
        results = [
            convert.expunge_result(
                self.router.connection(name).call(
                    "ExpungeTrash", pb.ExpungeTrashRequest(immediate=immediate), mutation=True
                )
            )
            for name in self._nameservices_in_use()
        ]
        removed = tuple(path for result in results for path in result.removed)
        return ExpungeResult(results[0].checkpoint, removed)

    # -- plumbing ---------------------------------------------------------------

    def _call(self, path: str, method: str, request, mutation: bool = False):
        """One ClientNamenode call about ``path``, at the nameservice that owns it."""
        return self.router.call(path, method, request, mutation=mutation)

    def _mounts_below(self, path: str) -> MountTable | None:
        """The mount table when mounts lie below ``path`` (a routing client only)."""
        if not self.router.routing:
            return None
        table = self.router.table()
        return table if table.mounts_below(path) else None

    def _nameservices_in_use(self) -> list[str]:
        """This client's nameservice; for a routing client, also every one mounted."""
        if not self.router.routing:
            return [self.nameservice]
        table = self.router.table()
        return list(dict.fromkeys([table.default, *(m.nameservice for m in table.mounts)]))

    def _set_quota(self, path: str, ns: int | None, ds: int | None) -> None:
        request = pb.SetQuotaRequest(path=path)
        if ns is not None:
            request.ns_quota = ns
        if ds is not None:
            request.ds_quota = ds
        self._call(path, "SetQuota", request, mutation=True)


def _check_mode(mode: int) -> int:
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o1777:
        raise InvalidArgument(f"permission must be an int in 0..0o1777, got {mode!r}")
    return mode


__all__ = ["Client", "normalize"]
