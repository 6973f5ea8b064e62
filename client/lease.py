"""The lease renewers: keep a client's write leases alive while it has files open.

A lease lives in the nameservice that holds the file, so a ``Client`` holds
``Leases``: one ``LeaseRenewer`` per nameservice, made when a file of that
nameservice is first opened for writing. Each writer takes a ticket with
``add()`` when it opens and gives it back with ``remove()`` when it closes.
While any ticket is out, a daemon thread calls ``renew`` (the client's
``RenewLease``) every ``interval`` seconds; it exits when the last ticket is
returned or the renewer is closed, and a later ``add()`` starts a new one. A
failed renewal is logged and retried at the next interval (the NameNode's soft
limit is far longer than the interval).

Imports: the standard library and ``hafs_api.errors``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable

from hafs_api.errors import HafsError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0


class LeaseRenewer:
    def __init__(self, renew: Callable[[], None], *, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._renew = renew
        self._cond = threading.Condition()
        self._open: dict[int, str] = {}  # ticket -> path
        self._tickets = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False
        self.renewals = 0

    def add(self, path: str) -> int:
        """Register a file open for writing; returns the ticket to ``remove`` it with."""
        with self._cond:
            ticket = next(self._tickets)
            self._open[ticket] = path
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="hafs-lease-renewer", daemon=True
                )
                self._thread.start()
            return ticket

    def remove(self, ticket: int) -> None:
        with self._cond:
            self._open.pop(ticket, None)
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        with self._cond:
            return self._thread is not None

    def open_paths(self) -> list[str]:
        with self._cond:
            return sorted(self._open.values())

    def close(self, timeout: float = 2.0) -> None:
        """Stop renewing (the client is closing); waits a little for the thread to exit.

        A renewal still in flight then ends when the client closes its connections.
        """
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._cond.wait_for(
                    lambda: self._closed or not self._open, timeout=self.interval
                ):
                    self._thread = None
                    return
                count = len(self._open)
            try:
                self._renew()
                self.renewals += 1
                log.debug("renewed the lease on %d open file(s)", count)
            except HafsError as err:
                log.warning("could not renew the lease on %d open file(s): %s", count, err)


class Leases:
    """The client's renewers, one per nameservice; ``renew(nameservice)`` renews there."""

    def __init__(self, renew: Callable[[str], None], *, interval: float = DEFAULT_INTERVAL) -> None:
        self._renew = renew
        self._interval = interval
        self._lock = threading.Lock()
        self._renewers: dict[str, LeaseRenewer] = {}
        self._closed = False

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        with self._lock:
            self._interval = seconds
            for renewer in self._renewers.values():
                renewer.interval = seconds

    def add(self, nameservice: str, path: str) -> tuple[str, int]:
        """Register a file of ``nameservice`` open for writing; returns its ticket."""
        with self._lock:
            renewer = self._renewers.get(nameservice)
            if renewer is None:
                renewer = LeaseRenewer(lambda: self._renew(nameservice), interval=self._interval)
                if self._closed:
                    renewer.close()
                self._renewers[nameservice] = renewer
        return nameservice, renewer.add(path)

    def remove(self, ticket: tuple[str, int]) -> None:
        nameservice, number = ticket
        with self._lock:
            renewer = self._renewers.get(nameservice)
        if renewer is not None:
            renewer.remove(number)

    def renewer(self, nameservice: str) -> LeaseRenewer | None:
        with self._lock:
            return self._renewers.get(nameservice)

    @property
    def running(self) -> bool:
        return any(renewer.running for renewer in self._all())

    @property
    def renewals(self) -> int:
        return sum(renewer.renewals for renewer in self._all())

    def open_paths(self) -> list[str]:
        return sorted(path for renewer in self._all() for path in renewer.open_paths())

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            self._closed = True
        for renewer in self._all():
            renewer.close(timeout)

    def _all(self) -> list[LeaseRenewer]:
        with self._lock:
            return list(self._renewers.values())


__all__ = ["DEFAULT_INTERVAL", "LeaseRenewer", "Leases"]
