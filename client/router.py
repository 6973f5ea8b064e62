"""Routing by the mount table: which nameservice's connection serves a path.

A ``Router`` holds the client's ``NamenodeConnection``s (one per configured
nameservice) and works in one of two modes:

* **bound** (``Client(nameservice="ns2")``, or a config that names a single
  nameservice): every call goes to that nameservice with ``mount_version`` 0,
  which means direct access with no ownership check. No table is fetched, so
  a one-nameservice client costs exactly what it did before federation.
* **routing** (several nameservices and no ``nameservice=``): the mount table is
  fetched from the default nameservice's leader (``GetMountTable``) on first
  use and cached. Each call goes to the owner of its path (``MountTable.owner``,
  deepest mount by whole components) and carries the cached version. A
  NameNode that holds an older table fetches the newer one itself, so the
  client never waits for it.

Refresh. A NameNode that does not own a path answers ``WrongNamespace`` with
its own table version. The router then fetches the table again, until it has
at least that version (any NameNode answers ``GetMountTable`` from its copy,
so a follower's older copy is asked again, ``STALE_FETCHES`` times at most,
with backoff), and routes the call again. It does this at most
``MAX_REFRESHES`` times per call, then raises the last ``WrongNamespace``.
There is no TTL: a mount change reaches a client at its first call that the
change affects.

* A table of version 0 (no mount added yet) is not cached. The header's 0
  means "no ownership check", so a client that trusted it would not notice the
  first mount. Until a mount exists, each routed call fetches the table first.
* A default nameservice that does not implement ``GetMountTable``
  (``Unsupported``) means no federation. The router then sends everything to
  the default, as a bound client would, and does not ask again.
* When the default nameservice does not answer within ``FALLBACK_AFTER``
  seconds, the table is asked of the other nameservices, which keep
  replicated copies. So a client that starts while the default's quorum is
  down can still reach the paths other nameservices own.

Calls on several paths (``rename``) need one owner for all of them, else
``CrossNamespace`` is raised before any RPC. ``endpoint(path)`` gives the data
path (readers, writers) an object with ``call(...)`` that routes by a fixed path.

Thread-safe: the cached table is swapped under a lock. Only one thread fetches
at a time, and a thread that finds the table already new enough skips the fetch.
Imports: ``client.rpc``, ``client.config`` (``ConfigError``), ``hafs_api``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from client.config import ConfigError
from client.rpc import CLIENT_NAMENODE, HA_ADMIN, NamenodeConnection
from hafs_api import mounts
from hafs_api.errors import (
    CrossNamespace,
    DeadlineExceeded,
    HafsError,
    Unavailable,
    Unsupported,
    WrongNamespace,
)
from hafs_api.mounts import MountTable
from hafs_api.v1 import admin_pb2

log = logging.getLogger(__name__)

MAX_REFRESHES = 3  # table refreshes per call before WrongNamespace is raised
FALLBACK_AFTER = 5.0  # seconds the default gets before the others' copies are asked
STALE_FETCHES = 3  # fetches per refresh while the answer is older than a NameNode's table
UNFEDERATED_TTL = 1.0  # seconds a version-0 answer (servers without federation) is trusted
T = TypeVar("T")


class Router:
    def __init__(
        self,
        connections: Mapping[str, NamenodeConnection],
        default: str,
        *,
        bound: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if default not in connections or (bound is not None and bound not in connections):
            raise ConfigError(f"no connection for nameservice {bound or default!r}")
        self._connections = dict(connections)
        self.default = default
        self.bound = bound  # None: routing by the mount table
        self.fetches = 0  # GetMountTable calls made (tests and metrics)
        self._table: MountTable | None = None  # cached; never version 0 unless unsupported
        self._unsupported = False
        self._lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        # A federated default nameservice starts its table at version 1; version 0
        # means servers without federation, so it is kept, briefly, instead of being
        # fetched before every call.
        self._unfederated: tuple[MountTable, float] | None = None

    @property
    def routing(self) -> bool:
        return self.bound is None

    @property
    def cached(self) -> MountTable | None:
        """The cached table (None before the first fetch, and while bound)."""
        return self._table

    def connection(self, nameservice: str) -> NamenodeConnection:
        try:
            return self._connections[nameservice]
        except KeyError:
            known = ", ".join(self._connections)
            raise ConfigError(
                f"nameservice {nameservice!r} is in the mount table but not in the client "
                f"configuration (configured: {known})"
            ) from None

    # -- the table -------------------------------------------------------------

    def table(self) -> MountTable:
        """The table to route by: the cached one, fetched when there is none yet (or it
        is version 0, which cannot be trusted)."""
        table = self._table
        if table is not None and (table.version > 0 or self._unsupported):
            return table
        unfederated = self._unfederated
        if unfederated is not None and self._clock() < unfederated[1]:
            return unfederated[0]
        table = self.refresh(at_least=1, wait=False)
        if table.version == 0:
            self._unfederated = (table, self._clock() + UNFEDERATED_TTL)
        return table

    def refresh(self, at_least: int = 0, *, wait: bool = True) -> MountTable:
        """Fetch the table unless the cached one is at ``at_least`` already (a
        concurrent refresh got there first); the newer of the two is kept. With
        ``wait``, an answer older than ``at_least`` is asked for again."""
        with self._lock:
            cached = self._table
            if cached is not None and at_least and cached.version >= at_least:
                return cached
            if self._unsupported and cached is not None:
                return cached
            fetched = self.fetch()
            for attempt in range(1, STALE_FETCHES if wait else 1):
                if fetched.version >= at_least:
                    break
                # A copy behind the version a NameNode named: a follower catching up.
                self._sleep(self._connections[self.default].retry.backoff_cap(attempt))
                fetched = self.fetch()
            if cached is not None and cached.version > fetched.version:
                fetched = cached  # a stale copy from a fallback nameservice
            if fetched.version > 0 or self._unsupported:
                if cached is None or cached.version != fetched.version:
                    log.info(
                        "mount table version %d: %d mount(s), default %s",
                        fetched.version,
                        len(fetched.mounts),
                        fetched.default,
                    )
                self._table = fetched
            return fetched

    def install(self, table: MountTable) -> MountTable:
        """Cache ``table`` (one a mount change returned) when it is newer."""
        with self._lock:
            newer = self._table is None or self._table.version < table.version
            if self.routing and table.version > 0 and newer:
                self._table = table
            return self._table or table

    def fetch(self) -> MountTable:
        """``GetMountTable`` from the default nameservice's leader; from the others'
        copies when the default does not answer in time."""
        others = [name for name in self._connections if name != self.default]
        first: HafsError | None = None
        for name in [self.default, *others]:
            connection = self._connections[name]
            policy = connection.retry
            if others:
                policy = policy.copy(deadline=min(policy.deadline, FALLBACK_AFTER))
            self.fetches += 1
            try:
                reply = connection.call(
                    "GetMountTable",
                    admin_pb2.GetMountTableRequest(),
                    mutation=False,
                    service=HA_ADMIN,
                    retry=policy,
                )
            except Unsupported:
                if name != self.default:
                    continue
                log.info("%s has no mount table: no federation, all paths go to it", name)
                self._unsupported = True
                return MountTable(0, self.default)
            except (Unavailable, DeadlineExceeded) as err:
                first = first or err
                if others:
                    log.warning("mount table: %s did not answer (%s)", name, err)
                continue
            table = mounts.from_proto(reply.table)
            if not table.default:
                table = MountTable(table.version, self.default, table.mounts)
            return table
        assert first is not None
        raise first

    # -- routing ---------------------------------------------------------------

    def owner(self, path: str) -> str:
        """The nameservice ``path`` goes to."""
        if self.bound is not None:
            return self.bound
        return self.table().owner(path)

    def run(self, paths: Sequence[str], fn: Callable[[NamenodeConnection, int], T]) -> T:
        """``fn(connection, mount_version)`` at the one owner of ``paths``; refreshes the
        table and runs it again after ``WrongNamespace`` (``MAX_REFRESHES`` times)."""
        if self.bound is not None:
            return fn(self._connections[self.bound], 0)
        table = self.table()
        refreshes = 0
        while True:
            owners = {table.owner(path) for path in paths}
            if len(owners) > 1:
                raise CrossNamespace(
                    f"{' and '.join(paths)} are in different nameservices "
                    f"({', '.join(sorted(owners))}); copy, then delete",
                    paths[0],
                )
            try:
                return fn(self.connection(owners.pop()), table.version)
            except WrongNamespace as err:
                if refreshes >= MAX_REFRESHES:
                    raise
                refreshes += 1
                log.info(
                    "%s: not owned there (server table %d, ours %d); refreshing",
                    paths[0],
                    err.mount_version,
                    table.version,
                )
                if err.mount_version > table.version:
                    table = self.refresh(at_least=err.mount_version)
                else:  # the server is not newer: fetch once more, nothing to wait for
                    table = self.refresh(wait=False)

    def call(
        self,
        path: str,
        method: str,
        request: Any,
        *,
        mutation: bool,
        service: str = CLIENT_NAMENODE,
    ) -> Any:
        """One call about ``path``, at its owner."""
        return self.run(
            [path],
            lambda connection, version: connection.call(
                method, request, mutation=mutation, service=service, mount_version=version
            ),
        )

    def endpoint(self, path: str) -> NamenodeConnection | PathEndpoint:
        """What a reader or writer of ``path`` calls: the connection itself when bound."""
        if self.bound is not None:
            return self._connections[self.bound]
        return PathEndpoint(self, path)


class PathEndpoint:
    """A ``NamenodeConnection`` look-alike whose calls all route by one path."""

    def __init__(self, router: Router, path: str) -> None:
        self.router = router
        self.path = path
        self.retry = router.connection(router.default).retry

    def call(
        self, method: str, request: Any, *, mutation: bool, service: str = CLIENT_NAMENODE
    ) -> Any:
        return self.router.call(self.path, method, request, mutation=mutation, service=service)

    def __repr__(self) -> str:
        return f"PathEndpoint({self.path!r})"


__all__ = ["FALLBACK_AFTER", "MAX_REFRESHES", "PathEndpoint", "Router"]
