"""The leader's block monitor: one pass a second on its own thread.

Each pass (leader only):

1. reads the blocks (a bounded page of the namespace per pass, resuming where
   the last pass stopped) with their replicas, and plans with the pure
   ``planner.plan`` against the registry's liveness;
2. queues the copies and deletions on the DataNodes (they leave with the next
   heartbeat replies); a balancer move's source is the replica its block's
   surplus deletion picks;
3. moves admin states on (``blocks.maintenance``): drained DataNodes are
   DECOMMISSIONED, ones entering maintenance are IN_MAINTENANCE once no block
   needs them, expired maintenance ends;
4. lets the balancer, when one runs, follow its moves and start new ones;
5. recovers the open blocks of files whose writer's lease passed the hard
   limit, or that another writer or ``recoverLease`` asked for.

``health`` holds the counts of the last complete scan (fsck and metrics).

While safe mode is on (replicated state, read with the scan) a pass still counts
block health, but plans no copy and no deletion, and recovers no lease: those
wait until an administrator leaves safe mode (HDFS does the same).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from ha_namenode.blocks import maintenance, planner
from ha_namenode.blocks.manager import BlockManager, DeleteBlocks, ReplicateBlock
from ha_namenode.blocks.planner import BlockState, Health
from ha_namenode.blocks.recovery import ReplicaClient, recover_block
from ha_namenode.blocks.registry import Liveness
from ha_namenode.namespace.model import AdminState, Block
from ha_namenode.namespace.resolve import path_of, resolve
from ha_namenode.namespace.store import StoreView
from hafs_api import tokens
from hafs_api.errors import HafsError, NotLeader

log = logging.getLogger(__name__)
PAGE = 1000
RECOVERY_RETRY_S = 5.0


def block_states(view: StoreView, blocks: Iterable[Block]) -> list[BlockState]:
    """Blocks with their file's replication, open state and replicas."""
    files: dict[int, tuple[int, int]] = {}  # inode -> (replication, open last block id or 0)
    out = []
    for block in blocks:
        info = files.get(block.inode)
        if info is None:
            node = view.inode(block.inode)
            if node is None:
                continue
            last = view.blocks(node.id)[-1].id if node.uc_block else 0
            info = files[block.inode] = (node.replication, last)
        out.append(
            BlockState(
                block.id,
                block.gen_stamp,
                block.num_bytes,
                info[0],
                tuple(view.replicas(block.id)),
                block.id == info[1],
            )
        )
    return out


class Mover(Protocol):
    """The balancer as the monitor sees it (``blocks.dispatcher.Dispatcher``)."""

    def surplus_sources(self) -> dict[int, str]: ...

    def step(self) -> None: ...

    def abandon(self) -> None: ...


class BlockMonitor:
    def __init__(
        self, manager: BlockManager, client: ReplicaClient, mover: Mover | None = None
    ) -> None:
        self.manager = manager
        self.ns = manager.ns
        self.client = client
        self.mover = mover
        self.health = Health()
        self._partial = Health()
        self._cursor = 0
        self._safe = False  # safe mode as the last pass saw it (logged when it changes)
        self._recoveries: dict[str, float] = {}  # path -> earliest next attempt
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="block-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def request_recovery(self, path: str) -> None:
        with self._lock:
            self._recoveries.setdefault(path, 0.0)

    # ---- one pass ----------------------------------------------------------------------

    def run_once(self) -> planner.Plan | None:
        if not self.ns.consensus.is_leader:
            self.manager.registry.clear()
            if self.mover is not None:
                self.mover.abandon()
            return None
        self.manager.ensure_term()
        registry = self.manager.registry
        nodes = registry.views()
        settings = self.manager.settings
        for copy in registry.copies().values():  # a copy to or from a silent node is lost
            if any(
                nodes.get(n) is None or not nodes[n].heard_lately
                for n in (copy.source, *copy.targets)
            ):
                registry.finish_copy(copy.block_id)
                nodes = registry.views()
        blocks, safe = self.ns.view(lambda v: (self._scan(v), v.safe_mode().on))
        if safe != self._safe:
            self._safe = safe
            log.info(
                "block monitor: safe mode is %s: %s",
                "on" if safe else "off",
                "counting only, no copies or deletions" if safe else "copies and deletions resume",
            )
        plan = planner.plan(  # in safe mode: no stream to copy with, no deletion allowed
            blocks,
            nodes,
            registry.copies(),
            streams=0 if safe else settings.replication_streams,
            allow_deletes=not safe and registry.all_reported(),
            maintenance_min=settings.maintenance_min_replicas,
            prefer_surplus=self.mover.surplus_sources() if self.mover is not None else None,
        )
        for copy in plan.copies:
            registry.start_copy(
                copy.block_id, copy.source, copy.targets, settings.replication_timeout_s
            )
            registry.queue(
                copy.source,
                ReplicateBlock(
                    copy.block_id,
                    copy.gen_stamp,
                    copy.num_bytes,
                    tuple(nodes[t] for t in copy.targets),
                ),
            )
        by_node: dict[str, list[tuple[int, int]]] = {}
        for removal in plan.removals:  # each once, until its report of the deletion is due
            if registry.start_delete(
                removal.block_id, removal.datanode, settings.replication_timeout_s
            ):
                by_node.setdefault(removal.datanode, []).append(
                    (removal.block_id, removal.gen_stamp)
                )
        for datanode, doomed in by_node.items():
            registry.queue(datanode, DeleteBlocks(tuple(doomed)))
        self._partial.add(plan.health)
        if self._cursor == 0:
            self.health, self._partial = self._partial, Health()
        if plan.copies or plan.removals:
            log.info(
                "block monitor: %d copies, %d deletions planned; %d under-replicated, "
                "%d missing, %d corrupt",
                len(plan.copies),
                len(plan.removals),
                plan.health.under_replicated,
                plan.health.missing,
                plan.health.corrupt,
            )
        self._move_admin_states()
        if self.mover is not None and not safe:
            self.mover.step()
        if not safe:
            self._recover_leases()
        return plan

    def _scan(self, view: StoreView) -> list[BlockState]:
        budget = self.manager.settings.blocks_per_pass
        out: list[BlockState] = []
        while len(out) < budget:
            page = view.blocks_after(self._cursor, min(PAGE, budget - len(out)))
            out += block_states(view, page)
            if len(page) < PAGE:
                self._cursor = 0  # the whole namespace seen: start over next pass
                break
            self._cursor = page[-1].id
        return out

    def _move_admin_states(self) -> None:
        for datanode in maintenance.expired(
            self.manager.registry.views().values(), self.ns.now_ms()
        ):
            self.manager.expire_maintenance(datanode)
        nodes = self.manager.registry.views()
        minimum = self.manager.settings.maintenance_min_replicas
        for node in nodes.values():
            after = maintenance.NEXT.get(node.admin)
            if after is None:
                continue
            if node.admin is AdminState.DECOMMISSIONING and node.liveness is Liveness.DEAD:
                continue
            if self.ns.view(lambda v, n=node: self._drained(v, n.id, n.admin, nodes, minimum)):
                self.manager.set_admin(node.id, after, only_from=node.admin)

    @staticmethod
    def _drained(view: StoreView, datanode: str, admin: AdminState, nodes, minimum: int) -> bool:
        after = 0
        while True:
            replicas = view.replicas_on(datanode, after, PAGE)
            blocks = [b for b in (view.block(r.block) for r in replicas) if b is not None]
            for state in block_states(view, blocks):
                c = planner.census(state, nodes)
                if maintenance.holds_node(state, c, admin, minimum):
                    return False
            if len(replicas) < PAGE:
                return True
            after = replicas[-1].block

    def _recover_leases(self) -> None:
        hard_ms = int(self.ns.config.namespace.lease_hard_limit_s * 1000)
        cutoff = self.ns.now_ms() - hard_ms

        def expired(view: StoreView) -> list[str]:
            return [
                path_of(view, node)
                for lease in view.leases_renewed_before(cutoff)
                for node in view.files_held_by(lease.holder)
                if node.uc_block
            ]

        now = time.monotonic()
        with self._lock:
            for path in self.ns.view(expired):
                self._recoveries.setdefault(path, 0.0)
            due = [p for p, at in self._recoveries.items() if at <= now]
        for path in due:
            try:
                done = self.recover(path)
            except NotLeader:
                return
            except HafsError as e:
                log.warning("block recovery of %s failed: %s", path, e)
                done = False
            with self._lock:
                if done:
                    self._recoveries.pop(path, None)
                else:
                    self._recoveries[path] = now + RECOVERY_RETRY_S

    def recover(self, path: str) -> bool:
        """Recover ``path``'s open block now; True once the file is closed (or not open)."""

        def open_block(view: StoreView) -> int:
            node = resolve(view, path).last
            if node is None or not node.is_file or not node.holder or not node.uc_block:
                return 0
            return view.blocks(node.id)[-1].id

        block_id = self.ns.view(open_block)
        if not block_id:
            return True
        return recover_block(
            path,
            block_id,
            self.ns.system,
            self.manager.registry.views(),
            self.client,
            lambda b: self.manager.token(b, tokens.RECOVER),
        )

    def _loop(self) -> None:
        period = self.manager.settings.monitor_interval_s
        while not self._stop.wait(period):
            try:
                self.run_once()
            except NotLeader:
                continue
            except Exception:
                log.exception("block monitor pass failed; retrying next pass")
