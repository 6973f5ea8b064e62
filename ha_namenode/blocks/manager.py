"""``BlockManager``: the leader's side of the DataNode protocol and of block placement.

RPC servicers call it; it reads the replicated state through the namesystem,
proposes the DataNode commands (``RegisterDatanode``, ``ReportReplicas``,
``MarkCorrupt``, ...) and keeps the volatile ``DatanodeRegistry``. Commands for
DataNodes are queued here and leave with their next heartbeat reply. In safe
mode no deletion leaves: neither of removed blocks' replicas nor of replicas a
report shows stale or unknown.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ha_namenode.blocks.placement import choose_targets, worth_waiting
from ha_namenode.blocks.registry import DatanodeRegistry, Liveness, NodeView, Stats
from ha_namenode.config import BlocksSection
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import AdminState, Datanode, LocatedBlock, ReportResult
from ha_namenode.namesystem import Namesystem
from hafs_api import tokens
from hafs_api.errors import InvalidArgument, NotLeader

log = logging.getLogger(__name__)
INVALIDATION_RESEND_S = 10.0
FULL_REPORT_ASK_S = 10.0  # a DataNode that owes this leader a full report is asked this often


@dataclass(frozen=True, slots=True)
class DeleteBlocks:
    blocks: tuple[tuple[int, int], ...]  # (block id, generation stamp)


@dataclass(frozen=True, slots=True)
class ReplicateBlock:
    block_id: int
    gen_stamp: int
    num_bytes: int
    targets: tuple[NodeView, ...]


@dataclass(frozen=True, slots=True)
class SendFullReport:
    pass


class BlockManager:
    def __init__(
        self,
        namesystem: Namesystem,
        settings: BlocksSection,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ns = namesystem
        self.settings = settings
        self.block_pool = namesystem.config.namenode.nameservice
        self.registry = DatanodeRegistry(settings.stale_after_s, settings.dead_after_s, clock)
        self.issuer = tokens.TokenIssuer(
            settings.token_secret.encode(), self.block_pool, settings.token_lifetime_s
        )
        self._clock = clock
        self._invalidations_sent: dict[str, float] = {}
        self._report_asked: dict[str, float] = {}
        self._rng = random.Random()
        if not settings.token_secret:
            log.warning("blocks.token_secret is empty: DataNodes will refuse every block request")

    # ---- leadership --------------------------------------------------------------------

    def ensure_term(self) -> int:
        """The current term; a new one resets the registry (grace periods, no reports yet)."""
        consensus = self.ns.consensus
        if not consensus.is_leader:
            self.registry.clear()
            raise NotLeader(
                "this NameNode is not the leader", leader_hint=consensus.leader_address()
            )
        term = consensus.term
        if self.registry.term != term:
            datanodes = self.ns.view(lambda v: v.datanodes())
            self.registry.reset(term, datanodes)
            self._invalidations_sent.clear()
            self._report_asked.clear()
            log.info(
                "term %d: tracking %d DataNodes; deletions wait for full reports",
                term,
                len(datanodes),
            )
        return term

    def token(self, block_id: int, *modes: str) -> bytes:
        return self.issuer.issue(block_id, modes, self.registry.term)

    # ---- the DataNode protocol -------------------------------------------------------------

    def register(self, datanode: Datanode) -> int:
        term = self.ensure_term()
        self.ns.system(c.RegisterDatanode(datanode.id, datanode.address, datanode.rack))
        stored = self.ns.view(lambda v: v.datanode(datanode.id))
        self.registry.register(stored)
        self._invalidations_sent.pop(datanode.id, None)
        log.info(
            "DataNode %s registered from %s (rack %s)", datanode.id, datanode.address, datanode.rack
        )
        return term

    def heartbeat(self, datanode: str, stats: Stats) -> tuple[int, list[object] | None]:
        """(term, commands); None for commands means: register again."""
        term = self.ensure_term()
        if not self.registry.heartbeat(datanode, stats):
            return term, None
        commands = self.registry.take(datanode)
        now = self._clock()
        if not self.registry.has_reported(datanode):
            # It re-registers and reports by itself on a new term; ask in case it did not.
            asked = self._report_asked.setdefault(datanode, now)
            if now - asked >= FULL_REPORT_ASK_S:
                commands.append(SendFullReport())
                self._report_asked[datanode] = now
        if now - self._invalidations_sent.get(datanode, -1e9) >= INVALIDATION_RESEND_S:
            limit = self.settings.deletes_per_heartbeat
            pending = self.ns.view(  # none in safe mode: deletions wait until it is left
                lambda v: [] if v.safe_mode().on else v.invalidations(datanode, limit)
            )
            if pending:
                commands.append(DeleteBlocks(tuple((i.block, i.gen_stamp) for i in pending)))
                self._invalidations_sent[datanode] = now
        return term, commands

    def report(
        self,
        datanode: str,
        received: Sequence[tuple[int, int, int, int]],
        deleted: Sequence[tuple[int, int]] = (),
        *,
        full: bool = False,
    ) -> int:
        term = self.ensure_term()
        if not self.registry.known(datanode):
            raise InvalidArgument(f"DataNode {datanode} must register before it reports")
        result: ReportResult = self.ns.system(
            c.ReportReplicas(datanode, tuple(received), tuple(deleted), full)
        )
        if full:
            self.registry.mark_reported(datanode)
            log.info("full block report from %s: %d replicas", datanode, len(received))
        if result.invalidate and self.ns.view(lambda v: v.safe_mode().on):
            log.info(
                "safe mode: %d stale or unknown replicas on %s are kept (until its next "
                "full report after safe mode)",
                len(result.invalidate),
                datanode,
            )
        elif result.invalidate:
            self.registry.queue(datanode, DeleteBlocks(result.invalidate))
        if received:
            copies = self.registry.copies()
            for block_id, *_ in received:
                copy = copies.get(block_id)
                if copy is not None and datanode in copy.targets:
                    self.registry.finish_copy(block_id)
        return term

    def report_bad(self, replicas: Sequence[tuple[int, int, str]]) -> None:
        self.ensure_term()
        self.ns.system(c.MarkCorrupt(tuple(replicas)))
        for block_id, _, datanode in replicas:
            log.warning("replica of block %d on %s reported corrupt", block_id, datanode)

    def set_admin(
        self,
        datanode: str,
        admin: AdminState,
        maintenance_expiry: int = 0,
        only_from: AdminState | None = None,
    ) -> Datanode:
        """Change ``datanode``'s (id or address) admin state; ``maintenance_expiry``:
        wall-clock ms, ENTERING_MAINTENANCE only; ``only_from``: only if it is in that
        state when applied (the leader's own transitions)."""
        self.ensure_term()
        known = self.ns.view(lambda v: v.datanodes())
        match = next((d for d in known if datanode in (d.id, d.address)), None)
        if match is None:
            raise InvalidArgument(f"no DataNode {datanode!r} is registered")
        command = c.SetDatanodeAdmin(
            match.id, int(admin), maintenance_expiry, int(only_from) if only_from else 0
        )
        self.ns.system(command)
        stored = self.ns.view(lambda v: v.datanode(match.id))
        self.registry.update(stored)
        expiry = f" until {stored.maintenance_expiry} ms" if stored.maintenance_expiry else ""
        log.info("DataNode %s is now %s%s", match.id, stored.admin.name, expiry)
        return stored

    def expire_maintenance(self, datanode: str) -> None:
        """Back in service if its maintenance expiry has passed (re-checked on apply)."""
        self.ensure_term()
        self.ns.system(c.ExpireMaintenance(datanode))
        stored = self.ns.view(lambda v: v.datanode(datanode))
        if stored is not None:
            self.registry.update(stored)
            log.info("DataNode %s: maintenance expired; now %s", datanode, stored.admin.name)

    # ---- the client's side ---------------------------------------------------------------

    def targets(
        self, replication: int, client_host: str, excluded: Sequence[str], space: int
    ) -> tuple[str, ...]:
        """Up to ``replication`` DataNodes for a new block. A leader in its first
        ``stale_after_s`` has not heard every DataNode yet: while a known, in-service one
        is still silent and the choice falls short, it waits for heartbeats (bounded by
        that window) rather than hand out a pipeline one failure could end."""
        self.ensure_term()
        while True:
            nodes = list(self.registry.views().values())
            local = [n.id for n in nodes if _host(n.address) == client_host]
            writer = local[0] if len(local) == 1 else ""  # one DataNode on the writer's host
            chosen = choose_targets(
                replication, nodes, exclude=excluded, writer=writer, space=space, rng=self._rng
            )
            wait = worth_waiting(
                chosen,
                replication,
                nodes,
                excluded,
                self.registry.term_age(),
                self.settings.stale_after_s,
            )
            if wait <= 0:
                return tuple(chosen)
            time.sleep(min(0.05, wait))

    def sorted_locations(self, located: LocatedBlock, client_host: str) -> list[NodeView]:
        """Replicas nearest first: the client's host, then live before stale, least loaded;
        decommissioning nodes last; dead ones left out unless nothing else is there."""
        views = self.registry.views()
        nodes = [views[i] for i in located.targets if i in views]
        alive = [n for n in nodes if n.liveness is not Liveness.DEAD] or nodes

        def rank(n: NodeView) -> tuple:
            return (
                n.admin is not AdminState.IN_SERVICE,
                _host(n.address) != client_host,
                n.liveness is not Liveness.LIVE,
                n.load,
                self._rng.random(),
            )

        return sorted(alive, key=rank)

    def views(self) -> dict[str, NodeView]:
        return self.registry.views()


def _host(address: str) -> str:
    return address.rpartition(":")[0]
