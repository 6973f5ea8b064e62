"""DataNodes and the replicated location map: registration, reports, corruption,
pipeline and block recovery.

The locations of finalized replicas are replicated state, so a new leader serves
reads at once (ARCHITECTURE §5). A replica counts only with the block's current
generation stamp; a complete block's replica of another length is corrupt.
Liveness is not here: it is the leader's, in ``ha_namenode.blocks``.
Pure, like every namespace module.
"""

from __future__ import annotations

from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import (
    AdminState,
    Block,
    Datanode,
    Done,
    LocatedBlock,
    Replica,
    ReplicaState,
    ReportResult,
)
from ha_namenode.namespace.store import NEXT_GEN_STAMP, StoreTxn, StoreView
from ha_namenode.namespace.tree import Ctx, next_id
from hafs_api.errors import FileNotFound, InvalidArgument

FINALIZED, EXPECTED, CORRUPT = ReplicaState.FINALIZED, ReplicaState.EXPECTED, ReplicaState.CORRUPT
_PAGE = 1000


def is_open(view: StoreView, block: Block) -> bool:
    """True for the last block of a file open for writing (under construction)."""
    node = view.inode(block.inode)
    if node is None or not node.uc_block:
        return False
    return view.blocks(node.id)[-1].id == block.id


def good(replica: Replica, block: Block) -> bool:
    return replica.state is FINALIZED and replica.gen_stamp == block.gen_stamp


def register_datanode(ctx: Ctx, cmd: c.RegisterDatanode) -> Done:
    if not cmd.datanode or not cmd.address:
        raise InvalidArgument("a DataNode registers with an id and an address")
    old = ctx.txn.datanode(cmd.datanode)
    if old is None:
        new = Datanode(cmd.datanode, cmd.address, cmd.rack)
    else:
        new = Datanode(cmd.datanode, cmd.address, cmd.rack, old.admin, old.maintenance_expiry)
    if new != old:
        ctx.txn.put_datanode(new)
    return Done(new != old)


def set_datanode_admin(ctx: Ctx, cmd: c.SetDatanodeAdmin) -> Done:
    """Decommission, maintenance or back in service (see ``SetDatanodeAdmin``)."""
    old = ctx.txn.datanode(cmd.datanode)
    if old is None:
        raise FileNotFound(f"no DataNode {cmd.datanode!r} is registered")
    try:
        admin = AdminState(cmd.admin)
    except ValueError:
        raise InvalidArgument(f"unknown admin state {cmd.admin}") from None
    if cmd.only_from and old.admin != cmd.only_from:
        return Done(False)  # an operator changed it meanwhile: their word wins
    expiry = 0
    if admin is AdminState.IN_MAINTENANCE:
        expiry = old.maintenance_expiry  # the leader's transition keeps the operator's expiry
    elif admin is AdminState.ENTERING_MAINTENANCE:
        if old.admin in (AdminState.DECOMMISSIONING, AdminState.DECOMMISSIONED):
            raise InvalidArgument(
                f"DataNode {old.id} is {old.admin.name.lower()}: recommission it before maintenance"
            )
        if cmd.maintenance_expiry < 0 or 0 < cmd.maintenance_expiry <= ctx.now:
            raise InvalidArgument("the maintenance expiry must be in the future (or 0: none)")
        expiry = cmd.maintenance_expiry
        if old.admin.maintenance:
            admin = old.admin  # asked again: only the expiry changes
    new = Datanode(old.id, old.address, old.rack, admin, expiry)
    if new == old:
        return Done(False)
    ctx.txn.put_datanode(new)
    return Done()


def expire_maintenance(ctx: Ctx, cmd: c.ExpireMaintenance) -> Done:
    old = ctx.txn.datanode(cmd.datanode)
    if old is None or not old.admin.maintenance:
        return Done(False)
    if not old.maintenance_expiry or old.maintenance_expiry > ctx.now:
        return Done(False)
    ctx.txn.put_datanode(Datanode(old.id, old.address, old.rack))
    return Done()


def _row(txn: StoreView, block_id: int, datanode: str) -> Replica | None:
    return next((r for r in txn.replicas(block_id) if r.datanode == datanode), None)


def report_replicas(ctx: Ctx, cmd: c.ReportReplicas) -> ReportResult:
    txn = ctx.txn
    if txn.datanode(cmd.datanode) is None:
        raise InvalidArgument(f"DataNode {cmd.datanode!r} is not registered")
    invalidate: list[tuple[int, int]] = []
    seen: set[int] = set()
    for block_id, gen_stamp, num_bytes, kind in cmd.received:
        seen.add(block_id)
        block = txn.block(block_id)
        if block is None or gen_stamp < block.gen_stamp:
            invalidate.append((block_id, gen_stamp))  # removed, or a stale copy
            row = _row(txn, block_id, cmd.datanode)
            if row is not None and row.gen_stamp <= gen_stamp:
                txn.delete_replica(block_id, cmd.datanode)
            continue
        if gen_stamp > block.gen_stamp:
            continue  # a recovery in flight: its commit records the replica
        _record(txn, block, cmd.datanode, num_bytes, kind)
    for block_id, gen_stamp in cmd.deleted:
        row = _row(txn, block_id, cmd.datanode)
        if row is not None and row.gen_stamp <= gen_stamp:
            txn.delete_replica(block_id, cmd.datanode)
        txn.delete_invalidation(block_id, cmd.datanode)
    if cmd.full:
        _forget_unreported(txn, cmd.datanode, seen)
    return ReportResult(tuple(invalidate))


def _record(txn: StoreTxn, block: Block, datanode: str, num_bytes: int, kind: int) -> None:
    row = _row(txn, block.id, datanode)
    if kind == c.REPORTED_CORRUPT:
        state = CORRUPT
    elif kind == c.REPORTED_RBW:
        if row is not None or not is_open(txn, block):
            return  # known already; or a leftover of an open block now closed
        state = EXPECTED
    else:
        complete = not is_open(txn, block)
        state = CORRUPT if complete and num_bytes != block.num_bytes else FINALIZED
    if row is not None and row.state is CORRUPT and row.gen_stamp == block.gen_stamp:
        state = CORRUPT  # corruption is sticky until the replica is deleted
    new = Replica(block.id, datanode, block.gen_stamp, num_bytes, state)
    if new != row:
        txn.put_replica(new)


def _forget_unreported(txn: StoreTxn, datanode: str, seen: set[int]) -> None:
    """A full report is the truth: drop locations of replicas the DataNode no longer has."""
    after = 0
    while True:
        page = txn.replicas_on(datanode, after, _PAGE)
        for r in page:
            if r.block not in seen:
                txn.delete_replica(r.block, datanode)
        if len(page) < _PAGE:
            break
        after = page[-1].block
    for inv in txn.invalidations(datanode):
        if inv.block not in seen:
            txn.delete_invalidation(inv.block, datanode)


def mark_corrupt(ctx: Ctx, cmd: c.MarkCorrupt) -> Done:
    marked = False
    for block_id, gen_stamp, datanode in cmd.replicas:
        block = ctx.txn.block(block_id)
        if block is None or gen_stamp != block.gen_stamp or ctx.txn.datanode(datanode) is None:
            continue  # gone, or an old stamp: nothing to mark
        row = _row(ctx.txn, block_id, datanode)
        num_bytes = row.num_bytes if row is not None else block.num_bytes
        ctx.txn.put_replica(Replica(block_id, datanode, gen_stamp, num_bytes, CORRUPT))
        marked = True
    return Done(marked)


def settle_committed(txn: StoreTxn, block: Block) -> None:
    """After a block's length is committed: finalized replicas of another length are corrupt."""
    for r in txn.replicas(block.id):
        if (
            r.state is FINALIZED
            and r.gen_stamp == block.gen_stamp
            and r.num_bytes != block.num_bytes
        ):
            txn.put_replica(Replica(r.block, r.datanode, r.gen_stamp, r.num_bytes, CORRUPT))


def expect(txn: StoreTxn, block: Block, datanodes: tuple[str, ...]) -> None:
    """Make ``datanodes`` the open block's pipeline: the only expected locations."""
    keep = set(datanodes)
    for r in txn.replicas(block.id):
        if r.datanode not in keep:
            txn.delete_replica(block.id, r.datanode)
    for datanode in datanodes:
        txn.put_replica(Replica(block.id, datanode, block.gen_stamp, block.num_bytes, EXPECTED))


def min_replicated(
    txn: StoreView, blocks: list[Block], last: c.BlockRef | None, minimum: int
) -> bool:
    """Each of ``blocks`` has ``minimum`` finalized replicas (``last`` at its length)."""
    for block in blocks:
        gen_stamp, length = block.gen_stamp, None
        if last is not None and block.id == last.block_id:
            if last.num_bytes == 0:
                continue  # an empty last block is dropped on close
            gen_stamp, length = last.gen_stamp, last.num_bytes
        count = sum(
            1
            for r in txn.replicas(block.id)
            if r.state is FINALIZED
            and r.gen_stamp == gen_stamp
            and (length is None or r.num_bytes == length)
        )
        if count < minimum:
            return False
    return True


def new_stamp(txn: StoreTxn, block: Block) -> Block:
    bumped = Block(
        block.id, block.inode, block.index, next_id(txn, NEXT_GEN_STAMP), block.num_bytes
    )
    txn.put_block(bumped)
    return bumped


def located(txn: StoreView, block: Block, offset: int, open_block: bool) -> LocatedBlock:
    """The block with its locations: good replicas first (expected ones while open)."""
    rows = txn.replicas(block.id)
    usable = [
        r.datanode
        for r in rows
        if good(r, block) or (open_block and r.state is EXPECTED and r.gen_stamp == block.gen_stamp)
    ]
    corrupt = tuple(r.datanode for r in rows if r.state is CORRUPT)
    return LocatedBlock(
        block.id, block.gen_stamp, block.num_bytes, offset, open_block, tuple(usable), corrupt
    )
