"""``MountCache``: the in-memory copy of the replicated mount table that every client
call checks against.

Apply may do no I/O, so the state machine only *invalidates* the copy (a
generation counter, bumped by ``StateMachine.watch`` after a batch with a mount
command commits, and after a snapshot install). The next ``get`` reloads the
table from the store once. Between changes a check costs an attribute read and
a tuple compare, not a store read (docs/design.md, "Federation", has the
figures).

Why it cannot serve a stale table after a change: ``invalidate`` runs after the
commit, and ``get`` notes the generation *before* it reads the store. A reload
that raced with a commit either sees the commit, or records the old generation
and reloads on the next call.
"""

from __future__ import annotations

import threading

from ha_namenode.namespace import mounts
from ha_namenode.namespace.store import Store
from hafs_api.mounts import MountTable


class MountCache:
    def __init__(self, store: Store, default: str) -> None:
        self._store = store
        self._default = default
        self._generation = 1  # bumped by invalidate(), on the applying thread only
        self._snapshot: tuple[int, MountTable] = (0, MountTable(0, default))
        self._lock = threading.Lock()
        self.loads = 0  # reloads from the store, for tests and metrics

    def invalidate(self) -> None:
        """A mount command was applied, or the state replaced: reload on the next get."""
        self._generation += 1

    def get(self) -> MountTable:
        loaded, table = self._snapshot
        if loaded == self._generation:
            return table
        with self._lock:
            generation = self._generation
            loaded, table = self._snapshot
            if loaded == generation:
                return table
            with self._store.read() as view:
                table = mounts.table(view, self._default)
            self._snapshot = (generation, table)
            self.loads += 1
            return table
