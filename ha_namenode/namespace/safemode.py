"""Safe mode: the namespace is read-only until an administrator leaves it
(HDFS ``dfsadmin -safemode enter|leave``).

The flag is replicated state (``StoreView.safe_mode``), so it survives a
failover, a restart and a snapshot. The applier calls ``check`` before every
handler, inside the same deterministic step: a change proposed just before
``SetSafeMode(on=True)`` commits ahead of it, and any later one is refused with
``SafeModeOn``; nothing can slip past in a race with the RPC layer.

What still applies while it is on (``ALLOWED``) is what is not a change of the
namespace, or what must go on for the block map to stay true:

* ``SetSafeMode`` itself, ``Format`` (bootstrap) and ``ExpireRetryCache``;
* the DataNode protocol: ``RegisterDatanode``, ``ReportReplicas``,
  ``MarkCorrupt``, ``SetDatanodeAdmin`` and ``ExpireMaintenance`` (the leader
  keeps counting block health and DataNodes keep their admin states; it neither
  copies nor deletes replicas, see ``blocks.monitor``);
* ``RenewLease``: a writer waiting out safe mode keeps its lease (HDFS refuses
  renewals too, but it also stops expiring leases; renewing is kinder);
* ``InstallMountTable``: another nameservice's table, kept current here.

Everything else is refused: every change of names, attributes, quotas and
extended attributes, the write pipeline (``AddBlock``, ``Complete``,
``AbandonBlock``, ``UpdatePipeline``, ``Append``, ``Create``), lease and block
recovery (``RecoverLease``, ``ExpireLeases``, ``BeginBlockRecovery``,
``CommitBlockRecovery``), the trash emptier and mount table changes. A command
added later is refused unless it is added to ``ALLOWED``.

Pure, like every namespace module.
"""

from __future__ import annotations

from ha_namenode.namespace import commands as c
from ha_namenode.namespace import permission as perm
from ha_namenode.namespace.model import SafeMode
from ha_namenode.namespace.store import StoreView
from ha_namenode.namespace.tree import Ctx
from hafs_api.errors import InvalidArgument, SafeModeOn

MAX_REASON = 1024  # characters: the reason is replicated and shown in every refusal

ALLOWED: frozenset[type] = frozenset(
    {
        c.SetSafeMode,
        c.Format,
        c.ExpireRetryCache,
        c.RegisterDatanode,
        c.ReportReplicas,
        c.MarkCorrupt,
        c.ExpireMaintenance,
        c.SetDatanodeAdmin,
        c.RenewLease,
        c.InstallMountTable,
    }
)


def describe(mode: SafeMode) -> str:
    """``reason: upgrade, by hdfs``, or ``entered manually, by hdfs``."""
    reason = f"reason: {mode.reason}" if mode.reason else "entered manually"
    return f"{reason}, by {mode.set_by}" if mode.set_by else reason


def check(view: StoreView, command: object) -> None:
    """Raise ``SafeModeOn`` if safe mode is on and ``command`` may not apply now."""
    if type(command) in ALLOWED:
        return
    mode = view.safe_mode()
    if not mode.on:
        return
    path = getattr(command, "path", None) or getattr(command, "src", "")
    raise SafeModeOn(
        f"Name node is in safe mode ({describe(mode)}): {type(command).__name__} is refused "
        "until an administrator leaves it (hactl safemode leave)",
        path if isinstance(path, str) else "",
    )


def set_safe_mode(ctx: Ctx, cmd: c.SetSafeMode) -> SafeMode:
    perm.check_superuser(ctx.caller, "enter or leave safe mode")
    if not isinstance(cmd.reason, str) or len(cmd.reason) > MAX_REASON:
        raise InvalidArgument(f"the safe mode reason must be text of at most {MAX_REASON} chars")
    current = ctx.txn.safe_mode()
    if bool(cmd.on) == current.on:
        return current  # already there: keep who entered it, why and when
    new = SafeMode(True, cmd.reason, ctx.caller.user, ctx.now) if cmd.on else SafeMode()
    ctx.txn.set_safe_mode(new)
    return new
