"""The leader's background duties: format, lease expiry, trash emptier, retry-cache expiry.

While safe mode is on, only format and retry-cache expiry are due: lease expiry and
the trash emptier would change the namespace, which apply refuses then.

Each pass reads a consistent view, decides with the pure ``plan`` function, and
proposes commands that re-check their condition when applied. Runs on its own
thread, never on the apply thread; logs one line per decision.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import ROOT_ID
from ha_namenode.namespace.store import MOUNT_VERSION, StoreView
from ha_namenode.namesystem import Namesystem
from hafs_api.errors import NotLeader

log = logging.getLogger(__name__)
RETRY_EXPIRY_INTERVAL_MS = 60_000


@dataclass
class Schedule:
    """When each periodic duty last ran (leader time, ms)."""

    trash: int = 0
    retry_cache: int = 0


def plan(
    view: StoreView,
    now: int,
    schedule: Schedule,
    *,
    hard_limit_ms: int,
    trash_interval_ms: int,
    checkpoint_interval_ms: int,
    superuser: str,
    supergroup: str,
    mount_authority: bool = False,
) -> list[object]:
    """The commands due now. Pure: a view, the time and the schedule in; commands out.

    ``mount_authority``: this nameservice holds the federation's mount table. Its
    table starts at version 1 (empty), so every client and NameNode can tell a
    federation without mounts (version >= 1) from servers without federation (0).
    """
    due: list[object] = []
    if view.inode(ROOT_ID) is None:
        due.append(c.Format(superuser, supergroup))
    if mount_authority and view.meta(MOUNT_VERSION) == 0:
        due.append(c.InstallMountTable(1, ()))
    if view.inode(ROOT_ID) is None:
        return due  # nothing else before the namespace exists
    changes = not view.safe_mode().on  # lease expiry and the trash emptier change the namespace
    expired = view.leases_renewed_before(now - hard_limit_ms) if changes else []
    if any(_closable(view, lease.holder) for lease in expired):
        due.append(c.ExpireLeases(hard_limit_ms))
    if changes and trash_interval_ms > 0 and now - schedule.trash >= checkpoint_interval_ms:
        due.append(c.ExpungeTrash("", trash_interval_ms))
    if now - schedule.retry_cache >= RETRY_EXPIRY_INTERVAL_MS:
        due.append(c.ExpireRetryCache())
    return due


def _closable(view: StoreView, holder: str) -> bool:
    """An expired lease ``ExpireLeases`` can act on: a file without an open block to
    close, or no file at all (the lease is dropped). Files with an open block wait for
    the block monitor's recovery, so proposing for them every pass would only grow
    the log."""
    held = view.files_held_by(holder)
    return not held or any(not node.uc_block for node in held)


class Duties:
    def __init__(self, namesystem: Namesystem, period_s: float = 1.0) -> None:
        self.ns = namesystem
        self.period_s = period_s
        self.schedule = Schedule(trash=namesystem.now_ms())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="duties", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def mount_authority(self) -> bool:
        fed = self.ns.config.federation
        return fed.enabled and fed.default_nameservice == self.ns.config.namenode.nameservice

    def run_once(self) -> list[object]:
        if not self.ns.consensus.is_leader:
            return []
        cfg = self.ns.config.namespace
        now = self.ns.now_ms()
        due = self.ns.view(
            lambda view: plan(
                view,
                now,
                self.schedule,
                hard_limit_ms=int(cfg.lease_hard_limit_s * 1000),
                trash_interval_ms=int(cfg.trash_interval_s * 1000),
                checkpoint_interval_ms=int(cfg.checkpoint_interval_s * 1000),
                superuser=cfg.effective_superuser,
                supergroup=cfg.supergroup,
                mount_authority=self.mount_authority,
            )
        )
        for command in due:
            result = self.ns.system(command)
            if isinstance(command, c.ExpungeTrash):
                self.schedule.trash = now
            elif isinstance(command, c.ExpireRetryCache):
                self.schedule.retry_cache = now
            if not isinstance(command, c.ExpireRetryCache) or result.value:
                log.info("duty %s: %s", type(command).__name__, result)
        return due

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except NotLeader:  # leadership lost mid-pass: the new leader runs the duty
                log.info("background duty stopped: no longer the leader")
            except Exception:
                log.exception("background duty failed; retrying next pass")
            self._stop.wait(self.period_s)
