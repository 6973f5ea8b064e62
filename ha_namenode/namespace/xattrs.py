"""Extended attributes (HDFS XAttrs): set (with compare-and-set), remove, get and list.

Names are ``namespace.name``. Two namespaces are supported: ``user`` and
``trusted``; the namespace's case is ignored and stored lower-case, as HDFS
does (``USER.a`` is ``user.a``). Any other namespace, or a name without one,
is ``InvalidArgument``. Values are bytes, possibly empty.

Limits are the leader's (``[namespace]``), carried by ``SetXAttr``: the name
after its namespace (UTF-8) plus the value at most ``max_size`` bytes, at most
``max_count`` attributes per inode (HDFS counts the same way).

Permissions follow HDFS's ``FSDirXAttrOp`` and ``XAttrPermissionFilter``:

- ``trusted.`` attributes: the superuser only, for every operation; a listing
  or a get-all of anyone else leaves them out;
- ``user.`` attributes: setting or removing needs WRITE on the inode (on a
  directory with the sticky bit: being its owner); reading values needs READ;
  listing names needs only the traverse every path needs;
- a compare-and-set also needs READ, since its outcome tells the value.

Checks run in this order, each before anything changes: the name, the limits
on the arguments, the namespace, the path (traverse, existence), the inode's
permission, the flag, the comparison, the count.

Pure, like every namespace module.
"""

from __future__ import annotations

from ha_namenode.namespace import permission as perm
from ha_namenode.namespace.commands import XATTR_CREATE, XATTR_REPLACE, RemoveXAttr, SetXAttr
from ha_namenode.namespace.model import Caller, Done, Inode
from ha_namenode.namespace.resolve import resolve
from ha_namenode.namespace.store import StoreView
from ha_namenode.namespace.tree import Ctx
from hafs_api.errors import AccessDenied, InvalidArgument, XAttrExists, XAttrNotFound

USER = "user"
TRUSTED = "trusted"
NAMESPACES = (USER, TRUSTED)


def normalize_name(name: object, path: str = "") -> str:
    """``name`` with its namespace in lower case; InvalidArgument unless ``user.`` or
    ``trusted.`` followed by a name."""
    if not isinstance(name, str):
        raise InvalidArgument(f"an XAttr name is a string, not {type(name).__name__}", path)
    namespace, dot, rest = name.partition(".")
    if not dot or namespace.lower() not in NAMESPACES:
        raise InvalidArgument(
            f"An XAttr name must be prefixed with user. or trusted., followed by a name: {name!r}",
            path,
        )
    if not rest:
        raise InvalidArgument(f"XAttr name {name!r} has nothing after its namespace", path)
    try:
        rest.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise InvalidArgument(f"XAttr name {name!r} is not valid UTF-8", path) from None
    if "\x00" in rest:
        raise InvalidArgument(f"XAttr name {name!r} holds a NUL character", path)
    return f"{namespace.lower()}.{rest}"


def visible(caller: Caller, name: str) -> bool:
    """Whether ``caller`` may see attribute ``name`` at all."""
    return caller.superuser or not name.startswith(TRUSTED + ".")


def check_namespace(caller: Caller, name: str, path: str) -> None:
    if not visible(caller, name):
        raise AccessDenied(f"User doesn't have permission for xattr: {name}", path)


def check_change(caller: Caller, node: Inode, name: str, path: str) -> None:
    """HDFS ``checkXAttrChangeAccess``: WRITE, or ownership of a sticky directory."""
    if not name.startswith(USER + "."):
        return  # trusted: the namespace check admitted only the superuser
    if node.is_dir and node.perm & perm.STICKY:
        perm.check_owner(caller, node, path)
    else:
        perm.check(caller, node, perm.WRITE, path)


def check_size(name: str, value: bytes, max_size: int, path: str) -> None:
    size = len(name.partition(".")[2].encode("utf-8")) + len(value)
    if size > max_size:
        raise InvalidArgument(
            f"The XAttr is too big. The maximum combined size of the name and value is "
            f"{max_size}, but the total size is {size}",
            path,
        )


def _target(view: StoreView, caller: Caller, path: str) -> Inode:
    res = resolve(view, path)
    perm.check_traverse(caller, res)
    return res.require()


def set_xattr(ctx: Ctx, cmd: SetXAttr) -> Done:
    name = normalize_name(cmd.name, cmd.path)
    if not isinstance(cmd.value, bytes) or not (
        cmd.expected is None or isinstance(cmd.expected, bytes)
    ):
        raise InvalidArgument("XAttr values are bytes", cmd.path)
    if cmd.flag not in (0, XATTR_CREATE, XATTR_REPLACE):
        raise InvalidArgument(f"unknown XAttr set flag {cmd.flag}", cmd.path)
    if cmd.expected is not None and not cmd.compare:
        raise InvalidArgument("an expected value needs compare", cmd.path)
    check_size(name, cmd.value, cmd.max_size, cmd.path)
    check_namespace(ctx.caller, name, cmd.path)
    node = _target(ctx.txn, ctx.caller, cmd.path)
    check_change(ctx.caller, node, name, cmd.path)
    if cmd.compare:
        perm.check(ctx.caller, node, perm.READ, cmd.path)
    current = ctx.txn.xattr(node.id, name)
    if cmd.flag == XATTR_CREATE and current is not None:
        raise XAttrExists(
            f"XAttr: {name} already exists. The REPLACE flag must be specified.", cmd.path
        )
    if cmd.flag == XATTR_REPLACE and current is None:
        raise XAttrNotFound(
            f"XAttr: {name} does not exist. The CREATE flag must be specified.", cmd.path
        )
    if cmd.compare and current != cmd.expected:
        return Done(False)
    if current is None and len(ctx.txn.xattrs(node.id)) >= cmd.max_count:
        raise InvalidArgument(
            f"Cannot add additional XAttr to inode, would exceed limit of {cmd.max_count}",
            cmd.path,
        )
    ctx.txn.put_xattr(node.id, name, cmd.value)
    return Done(True)


def remove_xattr(ctx: Ctx, cmd: RemoveXAttr) -> Done:
    name = normalize_name(cmd.name, cmd.path)
    check_namespace(ctx.caller, name, cmd.path)
    node = _target(ctx.txn, ctx.caller, cmd.path)
    check_change(ctx.caller, node, name, cmd.path)
    if ctx.txn.xattr(node.id, name) is None:
        raise XAttrNotFound(f"No matching attributes found for remove operation: {name}", cmd.path)
    ctx.txn.delete_xattr(node.id, name)
    return Done()


# ---- queries (RPC threads, a consistent read view) -------------------------------------


def get_xattrs(
    view: StoreView, caller: Caller, path: str, names: tuple[str, ...] = ()
) -> tuple[tuple[str, bytes], ...]:
    """(name, value) of ``names`` in their order, or of every attribute ``caller`` may
    see (by name) when ``names`` is empty. A name that is not set: XAttrNotFound."""
    wanted = list(dict.fromkeys(normalize_name(n, path) for n in names))
    for name in wanted:
        check_namespace(caller, name, path)
    node = _target(view, caller, path)
    perm.check(caller, node, perm.READ, path)
    found = view.xattrs(node.id)
    if not wanted:
        return tuple((n, v) for n, v in found if visible(caller, n))
    values = dict(found)
    missing = [n for n in wanted if n not in values]
    if missing:
        raise XAttrNotFound(
            f"At least one of the attributes provided was not found: {', '.join(missing)}", path
        )
    return tuple((n, values[n]) for n in wanted)


def list_xattrs(view: StoreView, caller: Caller, path: str) -> tuple[str, ...]:
    """The names ``caller`` may see, in byte order (traverse only, as HDFS listXAttrs)."""
    node = _target(view, caller, path)
    return tuple(n for n, _ in view.xattrs(node.id) if visible(caller, n))
