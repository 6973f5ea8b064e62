"""``MountSync``: the background loop that keeps every nameservice's copy of the mount
table current.

Each pass (``federation.push_interval_s``), on the leader only:

- in the default nameservice: push the current table to every nameservice not
  known to hold it. A new leader knows nothing yet, so it pushes to all once;
  a nameservice that was down gets it within a pass of coming back;
- in any other nameservice: pull the table once per leadership, so a group that
  was down, or missed a push while it had no leader, catches up by itself.

Runs on its own thread, never the apply thread. A failed push is logged when a
nameservice's state changes (reached / not reached), not every pass.
"""

from __future__ import annotations

import logging
import threading

from ha_namenode.federation.service import Federation
from hafs_api.errors import HafsError

log = logging.getLogger(__name__)


class MountSync:
    def __init__(self, federation: Federation, period_s: float) -> None:
        self.fed = federation
        self.period_s = period_s
        self._leading = False
        self._pulled = False
        self._pull_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mount-sync", daemon=True)

    @property
    def needed(self) -> bool:
        return self.fed.enabled and bool(self.fed.others)

    def start(self) -> None:
        if self.needed:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run_once(self) -> None:
        fed = self.fed
        if not self.needed:
            return
        if not fed.ns.consensus.is_leader:
            if self._leading:
                fed.forget_pushes()
            self._leading = self._pulled = False
            return
        self._leading = True
        if fed.authority:
            fed.push(only_behind=True)
        elif not self._pulled:
            self._pull()

    def _pull(self) -> None:
        try:
            table = self.fed.pull()
        except HafsError as e:
            if str(e) != self._pull_error:
                log.warning("cannot pull the mount table from %s yet: %s", self.fed.default, e)
                self._pull_error = str(e)
            return
        self._pulled, self._pull_error = True, ""
        log.info(
            "new leader of %s holds mount table version %d from %s",
            self.fed.me,
            table.version,
            self.fed.default,
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("mount table sync failed; retrying next pass")
            self._stop.wait(self.period_s)
