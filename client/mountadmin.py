"""The mount table calls of ``Client`` (a mixin): read it, add a mount, remove one.

The table lives in the default nameservice's Raft group, so these calls go to
its leader (``default_nameservice`` of the config), whatever nameservice the
client is bound to. The leader then installs the new table in the other
nameservices. A change returns the new table and the nameservices it has not
reached yet (``pending``; the leader keeps retrying them). A routing client
caches the table a change returns, so its next call routes by it. Any other
client sees the change at its first call to a path the change affects
(``WrongNamespace``, then a refresh: see ``client.router``).

Imports: ``client.files`` (``normalize``), ``client.rpc``, ``client.types``, ``hafs_api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from client.files import normalize
from client.rpc import HA_ADMIN
from client.types import MountChange
from hafs_api import mounts
from hafs_api.errors import InvalidArgument
from hafs_api.mounts import MountTable
from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.config import ClientConfig
    from client.router import Router


class MountAdmin:
    """Mixed into ``Client``."""

    config: ClientConfig
    router: Router
    user: str

    def mounts(self) -> MountTable:
        """The mount table, fresh from the default nameservice's leader (a routing client
        caches it too)."""
        if self.router.routing:
            return self.router.refresh()
        return self.router.fetch()

    def add_mount(
        self,
        path: str,
        nameservice: str,
        read_only: bool = False,
        ns_quota: int | None = None,
        ds_quota: int | None = None,
    ) -> MountChange:
        """Mount ``nameservice`` at ``path`` (replacing a mount there): every path at or
        below it, by whole components, then belongs to that nameservice. ``ns_quota``
        and ``ds_quota`` are set on the mount point in its nameservice."""
        path = mounts.check(normalize(path))
        if not isinstance(nameservice, str) or not nameservice:
            raise InvalidArgument(f"name the nameservice to mount, got {nameservice!r}", path)
        request = admin_pb2.AddMountRequest(
            path=path, nameservice=nameservice, read_only=read_only, user=self.user
        )
        if ns_quota is not None:
            if ns_quota < 1:
                raise InvalidArgument(f"name quota must be >= 1, got {ns_quota}", path)
            request.ns_quota = ns_quota
        if ds_quota is not None:
            if ds_quota < 0:
                raise InvalidArgument(f"space quota must be >= 0, got {ds_quota}", path)
            request.ds_quota = ds_quota
        return self._change("AddMount", request)

    def remove_mount(self, path: str) -> MountChange:
        """Remove the mount at ``path``: its paths belong to the mount above, or to the
        default nameservice, again. Nothing is deleted in either nameservice."""
        path = mounts.check(normalize(path))
        return self._change("RemoveMount", admin_pb2.RemoveMountRequest(path=path, user=self.user))

    def _change(self, method: str, request) -> MountChange:
        connection = self.router.connection(self.config.default_nameservice)
        reply = connection.call(method, request, mutation=True, service=HA_ADMIN)
        table = mounts.from_proto(reply.table)
        self.router.install(table)
        return MountChange(table, tuple(reply.pending))


__all__ = ["MountAdmin"]
