"""``Federation``: this NameNode's part in joining nameservices with a mount table.

- **The ownership check** (``admit``, on RPC threads): every ClientNamenode call
  that names a path and carries a mount version (non-zero) is checked against
  the local copy of the table (``MountCache``). A client that routed by a newer
  version than the local one makes a non-authority leader first pull the table
  from the default nameservice and install it through its own Raft group
  (``InstallMountTable``); concurrent calls share one pull.
- **Mount changes** (``add_mount``, ``remove_mount``; the default nameservice's
  leader only): create the mount point in its nameservice and set its quotas,
  propose the change, then push the new table to every other nameservice's
  leader in parallel. The ones not reached are answered as ``pending``;
  ``MountSync`` keeps pushing to them.
- **Installs** (``install_pushed``): another nameservice's leader proposes a
  pushed table; the authority refuses one.

Other nameservices are reached only through the ``Peers`` interface
(``ha_namenode.rpc.federation_client`` over gRPC; an in-process one in tests).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ha_namenode.federation.access import Access, decide
from ha_namenode.federation.cache import MountCache
from ha_namenode.namespace import commands as c
from ha_namenode.namespace import permission
from ha_namenode.namesystem import BARRIER_TIMEOUT_S, Namesystem
from hafs_api.errors import HafsError, InvalidArgument, Unavailable
from hafs_api.mounts import MountTable, check

log = logging.getLogger(__name__)
PULL_BACKOFF_S = 1.0  # after a failed pull, calls wanting a newer table fail fast this long
MOUNT_POINT_PERM = 0o755


class Peers(Protocol):
    """Calls to the NameNodes of other nameservices."""

    def fetch_table(self, nameservice: str, wanted: int) -> MountTable:
        """The table ``nameservice`` holds: the first answer of at least version ``wanted``,
        else the newest answer; ``Unavailable`` when none answers."""
        ...

    def install_table(self, nameservice: str, table: MountTable) -> int:
        """Push ``table`` to the nameservice's leader; return the version it holds after."""
        ...

    def make_mount_point(
        self, nameservice: str, path: str, user: str, ns_quota: int | None, ds_quota: int | None
    ) -> None:
        """Mkdir ``path`` (parents, existing is fine) in ``nameservice`` as ``user``, with
        mount version 0, then set the quotas given."""
        ...

    def close(self) -> None: ...


class Federation:
    def __init__(
        self,
        namesystem: Namesystem,
        cache: MountCache,
        peers: Peers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = namesystem.config
        fed = config.federation
        self.ns = namesystem
        self.cache = cache
        self.peers = peers
        self.me = config.namenode.nameservice
        self.enabled = fed.enabled
        self.default = fed.default_nameservice or self.me
        self.authority = self.me == self.default
        self.nameservices = sorted(fed.nameservices) or [self.me]
        self.others = [n for n in self.nameservices if n != self.me]
        self._clock = clock
        self._pull_lock = threading.Lock()
        self._pull_failed_at: float | None = None
        self._acked: dict[str, int] = {}  # nameservice -> version it holds (authority leader)
        self._reached: dict[str, bool] = {}  # last push outcome, to log changes only
        self._acked_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, len(self.others)), thread_name_prefix="mount-push")

    def table(self) -> MountTable:
        return self.cache.get()

    # ---- the ownership check (RPC threads) ------------------------------------------

    def admit(self, mount_version: int, access: Access | None) -> None:
        """Raise unless this nameservice may serve ``access`` for a client at ``mount_version``."""
        if not self.enabled or not mount_version or access is None:
            return
        self.ns.require_leader()
        table = self.cache.get()
        if mount_version > table.version:
            table = self._catch_up(mount_version)
        decide(table, self.me, access)

    def _catch_up(self, wanted: int) -> MountTable:
        if self.authority:  # the source of truth: wait until what it committed is applied
            self.ns.consensus.read_barrier(BARRIER_TIMEOUT_S)
            return self.cache.get()
        with self._pull_lock:
            table = self.cache.get()
            if table.version >= wanted:  # another call pulled it meanwhile
                return table
            failed = self._pull_failed_at
            if failed is not None and self._clock() - failed < PULL_BACKOFF_S:
                raise Unavailable(
                    f"mount table version {wanted} is not here yet and the default "
                    f"nameservice {self.default} did not answer just now"
                )
            try:
                table = self.pull(wanted)
            except HafsError as e:
                self._pull_failed_at = self._clock()
                raise Unavailable(
                    f"cannot fetch mount table version {wanted} from the default "
                    f"nameservice {self.default}: {e}"
                ) from None
            self._pull_failed_at = None
            return table

    def pull(self, wanted: int = 0) -> MountTable:
        """Fetch the authority's table and install it here if newer (a leader only)."""
        return self.install(self.peers.fetch_table(self.default, wanted))

    def install(self, table: MountTable) -> MountTable:
        """Propose ``table`` through this group's Raft when newer than the local copy."""
        if table.default and table.default != self.default:
            raise InvalidArgument(
                f"the mount table's default nameservice is {table.default}, this NameNode's "
                f"is {self.default}: [federation] differs between their configs"
            )
        current = self.cache.get()
        if table.version <= current.version:
            return current
        rows = tuple((m.path, m.nameservice, m.read_only) for m in table.mounts)
        installed = self._with_default(self.ns.system(c.InstallMountTable(table.version, rows)))
        log.info(
            "installed mount table version %d (%d mounts) from %s",
            installed.version,
            len(installed.mounts),
            self.default,
        )
        return installed

    def install_pushed(self, table: MountTable) -> int:
        """The InstallMountTable call: the version held after it."""
        self._require_federated()
        if self.authority:
            raise InvalidArgument(
                f"{self.me} is the default nameservice: it holds the authoritative mount "
                "table and installs none"
            )
        self.ns.require_leader()
        return self.install(table).version

    # ---- mount changes (the authority's leader) ------------------------------------------

    def add_mount(
        self,
        user: str,
        path: str,
        nameservice: str,
        read_only: bool = False,
        ns_quota: int | None = None,
        ds_quota: int | None = None,
    ) -> tuple[MountTable, list[str]]:
        """Create the mount point, add the mount, push; the new table and who was not reached."""
        self._require_authority(user)
        check(path)
        if nameservice not in self.nameservices:
            raise InvalidArgument(
                f"unknown nameservice {nameservice!r}: the federation has {self.nameservices}"
            )
        self._make_mount_point(nameservice, path, ns_quota, ds_quota)
        table = self._with_default(self.ns.run_as(user, c.AddMount(path, nameservice, read_only)))
        mode = "read-only" if read_only else "read-write"
        log.info("mount %s -> %s (%s): version %d", path, nameservice, mode, table.version)
        return table, self.push(table)

    def remove_mount(self, user: str, path: str) -> tuple[MountTable, list[str]]:
        self._require_authority(user)
        table = self._with_default(self.ns.run_as(user, c.RemoveMount(path)))
        log.info("unmount %s: version %d", path, table.version)
        return table, self.push(table)

    def _make_mount_point(
        self, nameservice: str, path: str, ns_quota: int | None, ds_quota: int | None
    ) -> None:
        if nameservice != self.me:
            superuser = self.ns.config.namespace.effective_superuser
            self.peers.make_mount_point(nameservice, path, superuser, ns_quota, ds_quota)
            return
        self.ns.system(c.Mkdir(path, MOUNT_POINT_PERM, parents=True, exist_ok=True))
        if ns_quota is not None or ds_quota is not None:
            self.ns.system(c.SetQuota(path, ns_quota, ds_quota))

    def _require_federated(self) -> None:
        if not self.enabled:
            raise InvalidArgument(
                f"nameservice {self.me} is not federated: set [federation] "
                "default_nameservice in its NameNodes' configs"
            )

    def _require_authority(self, user: str) -> None:
        self._require_federated()
        if not self.authority:
            raise InvalidArgument(f"mount changes go to the default nameservice {self.default}")
        self.ns.require_leader()
        permission.check_superuser(self.ns.groups.caller(user), "change the mount table")

    def _with_default(self, table: MountTable) -> MountTable:
        return dataclasses.replace(table, default=self.default)

    # ---- pushing the table (the authority's leader) -----------------------------------------

    def push(self, table: MountTable | None = None, *, only_behind: bool = False) -> list[str]:
        """Send ``table`` (default: the current one) to the other nameservices' leaders in
        parallel; return those not reached. ``only_behind`` skips the ones known to hold it."""
        table = table if table is not None else self.cache.get()
        targets = self.others
        if only_behind:
            with self._acked_lock:
                targets = [n for n in targets if self._acked.get(n, -1) < table.version]
        if not self.authority or not targets or table.version == 0:
            return []
        futures = {n: self._pool.submit(self.peers.install_table, n, table) for n in targets}
        pending = []
        for name, future in futures.items():
            try:
                held = future.result()
            except Exception as e:  # any failure leaves it pending
                self._note(name, False, f"version {table.version} not pushed: {e}")
                pending.append(name)
                continue
            if held > table.version:
                log.warning(
                    "nameservice %s holds mount table version %d, newer than this "
                    "authority's %d: was the default nameservice's state reset?",
                    name,
                    held,
                    table.version,
                )
            with self._acked_lock:
                self._acked[name] = max(self._acked.get(name, -1), held)
            self._note(name, True, f"holds version {held}")
        return pending

    def forget_pushes(self) -> None:
        """Leadership was lost: the next leader of this group pushes to everyone again."""
        with self._acked_lock:
            self._acked.clear()
            self._reached.clear()

    def _note(self, nameservice: str, reached: bool, detail: str) -> None:
        with self._acked_lock:
            changed = self._reached.get(nameservice) != reached
            self._reached[nameservice] = reached
        if changed:
            log.log(
                logging.INFO if reached else logging.WARNING,
                "mount table push to %s: %s",
                nameservice,
                detail,
            )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.peers.close()
