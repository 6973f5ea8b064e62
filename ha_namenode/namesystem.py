"""The NameNode's service layer: what the RPC servicers call.

Mutations: check leadership, resolve the caller, apply the leader's policy
(defaults and limits), stamp the time, propose through consensus and wait.
Reads: check leadership, pass the read barrier, query a consistent view.
Domain errors come back as ``HafsError``; the servicers map them to statuses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from ha_namenode.config import NameNodeConfig
from ha_namenode.consensus.base import Consensus
from ha_namenode.identity import GroupMapping
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import Caller, Failed
from ha_namenode.namespace.store import Store, StoreView
from hafs_api import paths
from hafs_api.errors import InvalidArgument, NotLeader, Unavailable, make_error

log = logging.getLogger(__name__)
T = TypeVar("T")
PROPOSE_TIMEOUT_S = 30.0
BARRIER_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Header:
    client_id: str
    call_id: int
    user: str
    mount_version: int = 0  # the mount table version the client routed by; 0: no check


class Namesystem:
    def __init__(
        self,
        config: NameNodeConfig,
        store: Store,
        consensus: Consensus,
        groups: GroupMapping,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.consensus = consensus
        self.groups = groups
        self._clock = clock
        ns = config.namespace
        self.soft_limit_ms = int(ns.lease_soft_limit_s * 1000)
        self.trash_interval_ms = int(ns.trash_interval_s * 1000)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def run_as(self, user: str, command: Any) -> Any:
        """Propose ``command`` as ``user`` without a retry-cache key (admin calls)."""
        self.require_leader()
        return self.propose(c.Envelope(command, self.groups.caller(user), self.now_ms()))

    def require_leader(self) -> None:
        if not self.consensus.is_leader:
            raise NotLeader(
                "this NameNode is not the leader", leader_hint=self.consensus.leader_address()
            )

    # ---- writes ------------------------------------------------------------------

    def mutate(self, header: Header, command: Any) -> Any:
        """Propose ``command`` as the caller in ``header``; return its result or raise."""
        self.require_leader()
        caller = self.groups.caller(header.user)
        return self.propose(
            c.Envelope(command, caller, self.now_ms(), header.client_id, header.call_id)
        )

    def propose(self, envelope: c.Envelope) -> Any:
        future = self.consensus.propose(envelope)
        try:
            result = future.result(timeout=PROPOSE_TIMEOUT_S)
        except FutureTimeout:
            raise Unavailable(
                "the write was not committed in time; its outcome is unknown "
                "(retry with the same call id)"
            ) from None
        if isinstance(result, Failed):
            raise make_error(result.code, result.message, result.path)
        return result

    def system(self, command: Any) -> Any:
        """Propose a command the leader makes itself, as the superuser."""
        caller = Caller(
            self.config.namespace.effective_superuser, (self.config.namespace.supergroup,), True
        )
        return self.propose(c.Envelope(command, caller, self.now_ms()))

    # ---- reads ----------------------------------------------------------------------

    def read(self, header: Header, query: Callable[..., T], *args: Any) -> T:
        self.require_leader()
        caller = self.groups.caller(header.user)
        self.consensus.read_barrier(BARRIER_TIMEOUT_S)
        with self.store.read() as view:
            return query(view, caller, *args)

    def view(self, fn: Callable[[StoreView], T]) -> T:
        with self.store.read() as view:
            return fn(view)

    # ---- the leader's policy ---------------------------------------------------------

    def create_command(
        self,
        path: str,
        perm: int,
        holder: str,
        replication: int,
        block_size: int,
        overwrite: bool,
        create_parent: bool,
    ) -> c.Create:
        ns = self.config.namespace
        if not holder:
            raise InvalidArgument("a client id is required to open a file for writing", path)
        replication = replication or ns.default_replication
        block_size = block_size or ns.default_block_size
        self.check_replication(replication, path)
        if block_size < ns.min_block_size:
            raise InvalidArgument(
                f"block size {block_size} is below the minimum {ns.min_block_size}", path
            )
        if block_size % ns.bytes_per_checksum:
            raise InvalidArgument(
                f"block size {block_size} is not a multiple of {ns.bytes_per_checksum}", path
            )
        return c.Create(
            path,
            perm & 0o1777,
            holder,
            replication,
            block_size,
            overwrite,
            create_parent,
            self.soft_limit_ms,
        )

    def check_replication(self, replication: int, path: str) -> None:
        top = self.config.namespace.max_replication
        if not 1 <= replication <= top:
            raise InvalidArgument(f"replication {replication} is outside 1..{top}", path)

    def delete_command(self, path: str, recursive: bool, skip_trash: bool) -> c.Delete:
        return c.Delete(paths.validate(path), recursive, skip_trash, self.trash_interval_ms)

    def set_xattr_command(
        self,
        path: str,
        name: str,
        value: bytes,
        flag: int,
        compare: bool,
        expected: bytes | None,
    ) -> c.SetXAttr:
        """``SetXAttr`` with the configured limits (HDFS ``dfs.namenode.fs-limits``)."""
        ns = self.config.namespace
        return c.SetXAttr(
            paths.validate(path),
            name,
            value,
            flag,
            compare,
            expected,
            ns.max_xattr_size,
            ns.max_xattrs_per_inode,
        )
