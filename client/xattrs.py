"""The extended-attribute calls of ``Client`` (a mixin), as HDFS's ``FileSystem`` has them:
``set_xattr``, ``get_xattr``, ``get_xattrs``, ``list_xattrs``, ``remove_xattr``, and
hafs's ``compare_and_set_xattr``.

Names are ``user.NAME`` or ``trusted.NAME`` (superuser only); the namespace's case
is ignored. Values are bytes; a ``str`` value is encoded as UTF-8. Errors:
``XAttrNotFound`` (a ``LookupError``) for a name that is not set,
``XAttrExists`` (a ``FileExistsError``) for ``flag="create"`` on one that is,
``InvalidArgument`` for a bad name or a value over the NameNode's limits.

Each call goes to the nameservice that owns its path, like every path call.
Changes are mutations: a retry after a failover carries the same call id, so
the NameNodes' retry cache returns the first outcome (a compare-and-set that
swapped is not reported as a mismatch on its retry).

Imports: ``client.files`` (``normalize``), ``hafs_api``; the calls go through
``Client.router``.
"""

from __future__ import annotations

from typing import Any

from client.files import normalize
from hafs_api.errors import InvalidArgument
from hafs_api.v1 import namenode_pb2 as pb

_FLAGS = {
    None: pb.XATTR_CREATE_OR_REPLACE,
    "create": pb.XATTR_CREATE,
    "replace": pb.XATTR_REPLACE,
}


class XAttrAccess:
    """Mixed into ``Client``."""

    router: Any  # client.router.Router, provided by Client

    def get_xattr(self, path: str, name: str) -> bytes:
        """The value of attribute ``name`` of ``path``; ``XAttrNotFound`` if it is not set."""
        found = self.get_xattrs(path, [name])
        return next(iter(found.values()))

    def get_xattrs(self, path: str, names: list[str] | None = None) -> dict[str, bytes]:
        """Attributes by name: those in ``names``, or every one you may see (by name)."""
        path = normalize(path)
        wanted = [_name(n, path) for n in names or ()]
        request = pb.GetXAttrsRequest(path=path, names=wanted)
        resp = self.router.call(path, "GetXAttrs", request, mutation=False)
        return {x.name: x.value for x in resp.xattrs}

    def list_xattrs(self, path: str) -> list[str]:
        """The names of the attributes of ``path`` you may see, in byte order."""
        path = normalize(path)
        request = pb.ListXAttrsRequest(path=path)
        return list(self.router.call(path, "ListXAttrs", request, mutation=False).names)

    def set_xattr(
        self, path: str, name: str, value: bytes | str = b"", *, flag: str | None = None
    ) -> None:
        """Set attribute ``name``. ``flag="create"``: it must not be set yet (else
        ``XAttrExists``); ``"replace"``: it must be (else ``XAttrNotFound``)."""
        path = normalize(path)
        if flag not in _FLAGS:
            raise InvalidArgument(f'flag must be "create", "replace" or None, not {flag!r}', path)
        request = pb.SetXAttrRequest(
            path=path, name=_name(name, path), value=_bytes(value, path), flag=_FLAGS[flag]
        )
        self.router.call(path, "SetXAttr", request, mutation=True)

    def compare_and_set_xattr(
        self, path: str, name: str, expected: bytes | str | None, value: bytes | str
    ) -> bool:
        """Set attribute ``name`` to ``value`` only if its current value is ``expected``
        (None: only if it is not set), atomically. True if it was set; a mismatch is
        False, not an error."""
        path = normalize(path)
        request = pb.SetXAttrRequest(
            path=path, name=_name(name, path), value=_bytes(value, path), compare=True
        )
        if expected is not None:
            request.expected = _bytes(expected, path)
        return self.router.call(path, "SetXAttr", request, mutation=True).swapped

    def remove_xattr(self, path: str, name: str) -> None:
        """Remove attribute ``name``; ``XAttrNotFound`` if it is not set."""
        path = normalize(path)
        request = pb.RemoveXAttrRequest(path=path, name=_name(name, path))
        self.router.call(path, "RemoveXAttr", request, mutation=True)


def _name(name: object, path: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"an XAttr name is a non-empty string, got {name!r}", path)
    return name


def _bytes(value: object, path: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidArgument(f"an XAttr value is bytes or str, not {type(value).__name__}", path)


__all__ = ["XAttrAccess"]
