"""The replicated state machine: decode a log entry, apply each command, return results.

``StateMachine.apply(index, payload)`` is the one entry point the consensus
layer calls. For each envelope in the batch it:

1. returns the cached result if ``(client_id, call_id)`` is in the retry cache;
2. refuses the command with ``SafeModeOn`` while safe mode is on, unless it is
   one that may still apply (``safemode.check``);
3. runs the handler and records its result in the retry cache (expiring at
   ``now + retry_ttl``) inside one savepoint, so a failure of either undoes
   the command's partial changes;
4. turns every exception into a ``Failed`` result, recorded instead: domain
   errors keep their code, anything else becomes INTERNAL (and is logged).
   Nothing escapes but ``StoreFailure``, which means the storage under the
   state broke.

The whole batch and the log index commit in one store transaction, so apply is
idempotent per index: an index already applied returns None. An entry that
does not decode (its checksum or structure is wrong) raises ``StoreFailure``
and changes nothing: skipping it would make this replica diverge.

The log digest. In that same transaction, apply advances the meta value
``log_digest`` (``store.LOG_DIGEST``) by ``chain(previous, index, payload)``: a
63-bit blake2b hash chain over every entry applied to the store, so two
replicas at the same store index hold the same digest exactly when they applied
the same entries there. An index skipped as already applied leaves it alone.
Entries that change nothing (read barriers: batches without envelopes) open no
transaction and are not chained; their bytes are the same on every replica.
Being state, the digest travels in images and snapshots, and a restored replica
continues the chain. ``log_position(view)`` reads (index, digest) together.

``watch(kinds, callback)`` lets the service layer keep an in-memory copy of some
state (the mount table): after a batch with a command of those kinds commits,
and after the whole state is replaced (``state_replaced``, a snapshot install),
the callback runs on the applying thread. It must be quick and do no I/O.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from ha_namenode.namespace import (
    attrs,
    codec,
    files,
    mounts,
    recovery,
    replicas,
    safemode,
    trash,
    tree,
    xattrs,
)
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import Done, Failed
from ha_namenode.namespace.queries import file_status
from ha_namenode.namespace.store import (
    LOG_DIGEST,
    StaleIndex,
    Store,
    StoreFailure,
    StoreTxn,
    StoreView,
)
from hafs_api.errors import HafsError

log = logging.getLogger(__name__)

RETRY_TTL_MS = 600_000  # HDFS dfs.namenode.retrycache.expirytime.millis
DIGEST_MASK = (1 << 63) - 1  # the digest fits SQLite's signed 64-bit INTEGER


def chain(previous: int, index: int, payload: bytes) -> int:
    """The log digest after applying entry ``index`` (``payload``) on top of ``previous``."""
    h = hashlib.blake2b(previous.to_bytes(8, "big") + index.to_bytes(8, "big"), digest_size=8)
    h.update(payload)  # not concatenated: a batch can be large, and this is the apply path
    return int.from_bytes(h.digest(), "big") & DIGEST_MASK


def log_position(view: StoreView) -> tuple[int, int]:
    """(applied index, log digest) of one consistent view: the digest after that index."""
    return view.applied_index(), view.meta(LOG_DIGEST)


def _mkdir(ctx: tree.Ctx, cmd: c.Mkdir):
    return file_status(cmd.path, tree.mkdir(ctx, cmd))


def _rename(ctx: tree.Ctx, cmd: c.Rename) -> Done:
    tree.rename(ctx, cmd)
    return Done()


def _expire_retry_cache(ctx: tree.Ctx, cmd: c.ExpireRetryCache) -> Done:
    return Done(ctx.txn.expire_retries(ctx.now) > 0)


HANDLERS: dict[type, Callable[[tree.Ctx, Any], Any]] = {
    c.Format: attrs.format_namespace,
    c.Mkdir: _mkdir,
    c.Rename: _rename,
    c.Delete: trash.delete,
    c.ExpungeTrash: trash.expunge,
    c.Create: files.create,
    c.AddBlock: files.add_block,
    c.AbandonBlock: files.abandon_block,
    c.Complete: files.complete,
    c.Append: files.append,
    c.RenewLease: files.renew_lease,
    c.RecoverLease: files.recover_lease,
    c.ExpireLeases: files.expire_leases,
    c.SetPermission: attrs.set_permission,
    c.SetOwner: attrs.set_owner,
    c.SetReplication: attrs.set_replication,
    c.SetTimes: attrs.set_times,
    c.SetQuota: attrs.set_quota,
    c.ExpireRetryCache: _expire_retry_cache,
    c.RegisterDatanode: replicas.register_datanode,
    c.ReportReplicas: replicas.report_replicas,
    c.MarkCorrupt: replicas.mark_corrupt,
    c.SetDatanodeAdmin: replicas.set_datanode_admin,
    c.UpdatePipeline: recovery.update_pipeline,
    c.BeginBlockRecovery: recovery.begin_block_recovery,
    c.CommitBlockRecovery: recovery.commit_block_recovery,
    c.AddMount: mounts.add_mount,
    c.RemoveMount: mounts.remove_mount,
    c.InstallMountTable: mounts.install_mount_table,
    c.SetXAttr: xattrs.set_xattr,
    c.RemoveXAttr: xattrs.remove_xattr,
    c.SetSafeMode: safemode.set_safe_mode,
    c.ExpireMaintenance: replicas.expire_maintenance,
}
assert set(HANDLERS) == set(c.COMMANDS), "every command needs exactly one handler"


def execute(txn: StoreTxn, env: c.Envelope) -> Any:
    """Run one envelope's handler; raises what the handler raises (no savepoint here)."""
    safemode.check(txn, env.command)
    handler = HANDLERS[type(env.command)]
    return handler(tree.Ctx(txn, env.caller, env.now), env.command)


class StateMachine:
    def __init__(self, store: Store, retry_ttl_ms: int = RETRY_TTL_MS) -> None:
        self.store = store
        self.retry_ttl_ms = retry_ttl_ms
        self._watches: list[tuple[frozenset[type], Callable[[], None]]] = []

    def watch(self, kinds: tuple[type, ...], callback: Callable[[], None]) -> None:
        """Call ``callback`` after each committed batch holding a command of ``kinds``."""
        self._watches.append((frozenset(kinds), callback))

    def state_replaced(self) -> None:
        """The store's whole state was replaced (a snapshot install): tell every watcher."""
        for _, callback in self._watches:
            self._notify(callback)

    def apply(self, index: int, payload: bytes) -> list[Any] | None:
        """Apply log entry ``index``; results in envelope order, or None if already applied."""
        try:
            envelopes = codec.decode_batch(payload)
        except codec.CodecError as e:  # only corruption makes one: never skip it silently
            log.critical("log entry %d is not a valid batch: %s", index, e)
            raise StoreFailure(f"log entry {index} is corrupt: {e}") from e
        if not envelopes:  # read barriers only: nothing to change, so no transaction
            return []
        try:
            with self.store.write(index) as txn:
                results = [self._apply_one(txn, env) for env in envelopes]
                txn.set_meta(LOG_DIGEST, chain(txn.meta(LOG_DIGEST), index, payload))
        except StaleIndex:
            return None
        if self._watches:
            kinds = {type(env.command) for env in envelopes}
            for watched, callback in self._watches:
                if kinds & watched:
                    self._notify(callback)
        return results

    @staticmethod
    def _notify(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a watcher's bug must not look like a failed apply
            log.exception("state watcher %r failed", callback)

    def _apply_one(self, txn: StoreTxn, env: c.Envelope) -> Any:
        if env.client_id:
            cached = txn.retry_result(env.client_id, env.call_id)
            if cached is not None:
                return codec.loads(cached)
        try:
            with txn.savepoint():  # one per command: the handler and its retry-cache entry
                result = execute(txn, env)
                self._remember(txn, env, result)
            return result
        except StoreFailure:
            raise
        except HafsError as e:
            failed = Failed(e.code.value, e.message, e.path)
        except Exception as e:
            log.exception("command %s failed unexpectedly", type(env.command).__name__)
            failed = Failed("INTERNAL", f"{type(e).__name__}: {e}")
        try:  # the command's changes are rolled back; its error is the result to remember
            self._remember(txn, env, failed)
        except StoreFailure:
            raise
        except Exception:
            log.exception("the error of %s could not be recorded", type(env.command).__name__)
        return failed

    def _remember(self, txn: StoreTxn, env: c.Envelope, result: Any) -> None:
        if env.client_id:
            txn.put_retry(
                env.client_id, env.call_id, codec.dumps(result), env.now + self.retry_ttl_ms
            )
