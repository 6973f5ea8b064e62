"""Safe mode calls of ``Client`` (a mixin): read it, enter it, leave it, wait for it to end
(HDFS ``dfsadmin -safemode get|enter|leave|wait``).

While a nameservice is in safe mode its namespace is read-only: every change
fails with ``SafeModeOn`` (reads work), and its leader neither copies nor
deletes replicas. The flag is replicated, so a new leader is still in safe mode.
Entering and leaving need the superuser and are exactly-once (the leader's retry
cache answers a retry with the first result).

These calls concern the client's own nameservice (``Client.nameservice``: the
bound one, or the default one of a routing client); ``hactl safemode`` makes a
bound client per nameservice to cover them all.

Imports: ``client.admin`` (the service name) and ``hafs_api`` (not grpc).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from client.admin import HA_ADMIN
from hafs_api.errors import DeadlineExceeded
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.rpc import NamenodeConnection

WAIT_POLL_S = 1.0


@dataclass(frozen=True)
class SafeModeStatus:
    nameservice: str
    on: bool
    reason: str = ""
    set_by: str = ""  # the user who entered it
    since: int = 0  # ms since the epoch when it was entered; 0 when off


def safe_mode_status(nameservice: str, msg: admin_pb2.SafeModeStatus) -> SafeModeStatus:
    return SafeModeStatus(nameservice, msg.on, msg.reason, msg.set_by, msg.since_ms)


class SafeModeAdmin:
    """Mixed into ``Client``."""

    connection: NamenodeConnection
    nameservice: str
    user: str

    def safe_mode(self) -> SafeModeStatus:
        """Whether the nameservice is in safe mode, why, since when and by whom."""
        reply = self.connection.call(
            "GetSafeMode", admin_pb2.GetSafeModeRequest(), mutation=False, service=HA_ADMIN
        )
        return safe_mode_status(self.nameservice, reply)

    def enter_safe_mode(self, reason: str = "") -> SafeModeStatus:
        """Make the namespace read-only (superuser). Entering again keeps the first
        entry's reason, user and time."""
        return self._set_safe_mode(admin_pb2.SAFE_MODE_ENTER, reason)

    def leave_safe_mode(self) -> SafeModeStatus:
        """Make the namespace writable again (superuser); a no-op when it is off."""
        return self._set_safe_mode(admin_pb2.SAFE_MODE_LEAVE, "")

    def wait_safe_mode_off(
        self, timeout: float | None = None, poll: float = WAIT_POLL_S
    ) -> SafeModeStatus:
        """Return once safe mode is off (``dfsadmin -safemode wait``); ``DeadlineExceeded``
        if it is still on after ``timeout`` seconds (None: wait as long as it takes)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.safe_mode()
            if not status.on:
                return status
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise DeadlineExceeded(
                    f"safe mode is still ON in {self.nameservice} after {timeout:g}s"
                )
            time.sleep(poll if left is None else min(poll, left))

    def _set_safe_mode(self, action: int, reason: str) -> SafeModeStatus:
        connection = self.connection
        request = admin_pb2.SetSafeModeRequest(
            action=action,
            user=self.user,
            reason=reason,
            client_id=connection.client_id.encode(),
            call_id=connection.next_call_id(),  # the same for every retry of this call
        )
        reply = connection.call("SetSafeMode", request, mutation=True, service=HA_ADMIN)
        return safe_mode_status(self.nameservice, reply)


__all__ = ["SafeModeAdmin", "SafeModeStatus"]
