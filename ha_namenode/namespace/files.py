"""Files, blocks and write leases: create, add/abandon block, complete, append, recovery.

HDFS semantics: a file open for writing has one lease holder (a client id). The
holder renews its lease; after the soft limit another writer may take the file
over (the file is closed first), and after the hard limit the leader's
``ExpireLeases`` closes it. Closing commits the last block's reported length.
Pure, like every namespace module.
"""

from __future__ import annotations

from ha_namenode.namespace import permission as perm
from ha_namenode.namespace import quota, replicas
from ha_namenode.namespace.commands import (
    AbandonBlock,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    ExpireLeases,
    RecoverLease,
    RenewLease,
)
from ha_namenode.namespace.model import (
    AppendResult,
    Block,
    Done,
    Inode,
    Kind,
    Lease,
    LeaseRecoveryResult,
    LocatedBlock,
)
from ha_namenode.namespace.queries import file_status
from ha_namenode.namespace.resolve import Resolved, path_of, resolve
from ha_namenode.namespace.store import NEXT_BLOCK, NEXT_GEN_STAMP, NEXT_INODE
from ha_namenode.namespace.tree import (
    Ctx,
    dir_perm_for,
    make_dirs,
    next_id,
    remove_subtree,
    touch_parent,
)
from hafs_api.errors import (
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    IsADirectory,
    LeaseConflict,
    LeaseExpired,
    RecoveryInProgress,
)


def renew(ctx: Ctx, holder: str) -> None:
    ctx.txn.put_lease(Lease(holder, ctx.now))


def release(ctx: Ctx, holder: str) -> None:
    if not ctx.txn.files_held_by(holder):
        ctx.txn.delete_lease(holder)


def close_file(ctx: Ctx, node: Inode, last: BlockRef | None = None) -> Inode:
    """Commit the last block (with ``last``'s length if given) and drop the lease."""
    txn = ctx.txn
    length = node.length
    blocks = txn.blocks(node.id)
    if node.uc_block and blocks:
        tail = blocks[-1]
        if last is not None:
            tail = _commit(txn, node, tail, last)
            length += tail.num_bytes - blocks[-1].num_bytes
        if tail.num_bytes == 0:
            txn.delete_block(tail.id)  # nothing was written: an empty block is dropped
        quota.charge(
            txn, _quota_dirs_of(ctx, node), 0, (tail.num_bytes - node.block_size) * node.replication
        )
    holder = node.holder
    node = txn.update_inode(
        node.id, {"length": length, "holder": "", "uc_block": False, "mtime": ctx.now}
    )
    release(ctx, holder)
    return node


def _quota_dirs_of(ctx: Ctx, node: Inode) -> list[int]:
    return quota.quota_dirs(resolve(ctx.txn, path_of(ctx.txn, node)).inodes[:-1])


def _commit(txn, node: Inode, block: Block, ref: BlockRef) -> Block:
    if ref.block_id != block.id:
        raise InvalidArgument(f"block {ref.block_id} is not the last block {block.id} of the file")
    if ref.gen_stamp != block.gen_stamp:
        raise InvalidArgument(
            f"block {block.id} has generation stamp {block.gen_stamp}, not {ref.gen_stamp}"
        )
    if ref.num_bytes < 0 or ref.num_bytes > node.block_size:
        raise InvalidArgument(f"block length {ref.num_bytes} is outside 0..{node.block_size}")
    new = Block(block.id, block.inode, block.index, block.gen_stamp, ref.num_bytes)
    txn.put_block(new)
    replicas.settle_committed(txn, new)
    return new


def _take_over(ctx: Ctx, node: Inode, holder: str, soft_limit: int, path: str) -> Inode:
    """A file held by a writer: refuse, or close it when the holder's soft limit passed.

    An open last block has an unknown length: block recovery must settle it first
    (the leader starts it on ``RecoveryInProgress``, which the caller retries).
    """
    if node.holder == holder:
        raise LeaseConflict(f"{holder} is already the holder of the file", path)
    lease = ctx.txn.lease(node.holder)
    if lease is not None and ctx.now - lease.renewed < soft_limit:
        raise LeaseConflict(f"the file is being written by {node.holder}", path)
    if node.uc_block:
        raise RecoveryInProgress(
            f"the lease of {node.holder} expired; its last block is being recovered", path
        )
    return close_file(ctx, node)


def open_file(ctx: Ctx, path: str, holder: str, file_id: int) -> tuple[Resolved, Inode]:
    res = resolve(ctx.txn, path)
    node = res.last
    if node is None or (file_id and node.id != file_id):
        raise LeaseExpired("No lease: the file does not exist or was replaced", path)
    if not node.is_file:
        raise IsADirectory("Not a file", path)
    if node.holder != holder:
        who = f"held by {node.holder}" if node.holder else "not open for writing"
        raise LeaseExpired(f"No lease for {holder}: the file is {who}", path)
    return res, node


def create(ctx: Ctx, cmd: Create):
    if cmd.replication < 1 or cmd.block_size < 1:
        raise InvalidArgument("replication and block size must be positive", cmd.path)
    res = resolve(ctx.txn, cmd.path)
    if res.is_root:
        raise FileAlreadyExists("/ already exists as a directory", "/")
    perm.check_traverse(ctx.caller, res)
    if cmd.create_parent and res.parent is None:
        make_dirs(ctx, res, dir_perm_for(cmd.perm), through_last=False)
    parent = res.require_parent_dir()
    perm.check(ctx.caller, parent, perm.WRITE | perm.EXECUTE, res.prefix(len(res.names) - 1))
    existing = res.last
    dirs = quota.quota_dirs(res.inodes[:-1])
    if existing is not None:
        if existing.is_dir:
            raise FileAlreadyExists(f"{cmd.path} already exists as a directory", cmd.path)
        if cmd.overwrite:
            perm.check(ctx.caller, existing, perm.WRITE, cmd.path)  # as HDFS startFile
        if existing.holder:
            existing = _take_over(ctx, existing, cmd.holder, cmd.soft_limit, cmd.path)
        if not cmd.overwrite:
            raise FileAlreadyExists("File exists", cmd.path)
        perm.check_sticky(ctx.caller, parent, existing, cmd.path)
        ns, ds = remove_subtree(ctx, existing)
        quota.charge(ctx.txn, dirs, -ns, -ds)
    quota.charge(ctx.txn, dirs, 1, 0)
    touch_parent(ctx.txn, parent.id, 0 if existing is not None else 1, ctx.now)
    node = Inode(
        id=next_id(ctx.txn, NEXT_INODE),
        parent=parent.id,
        name=res.names[-1],
        kind=Kind.FILE,
        perm=cmd.perm & 0o1777,
        owner=ctx.caller.user,
        group=parent.group,
        mtime=ctx.now,
        atime=ctx.now,
        replication=cmd.replication,
        block_size=cmd.block_size,
        holder=cmd.holder,
    )
    ctx.txn.put_inode(node)
    renew(ctx, cmd.holder)
    return file_status(cmd.path, node)


def add_block(ctx: Ctx, cmd: AddBlock) -> LocatedBlock:
    res, node = open_file(ctx, cmd.path, cmd.holder, cmd.file_id)
    txn = ctx.txn
    blocks = txn.blocks(node.id)
    dirs = quota.quota_dirs(res.inodes[:-1])
    length = node.length
    ds_delta = node.block_size * node.replication
    if node.uc_block:
        if cmd.previous is None:
            raise InvalidArgument("the last block is still open: pass it as previous", cmd.path)
        committed = _commit(txn, node, blocks[-1], cmd.previous)
        length += committed.num_bytes - blocks[-1].num_bytes
        ds_delta += (committed.num_bytes - node.block_size) * node.replication
    elif cmd.previous is not None and (not blocks or cmd.previous.block_id != blocks[-1].id):
        raise InvalidArgument(f"block {cmd.previous.block_id} is not the last block", cmd.path)
    quota.charge(txn, dirs, 0, ds_delta)
    block = Block(next_id(txn, NEXT_BLOCK), node.id, len(blocks), next_id(txn, NEXT_GEN_STAMP), 0)
    txn.put_block(block)
    replicas.expect(txn, block, cmd.targets)
    txn.update_inode(node.id, {"length": length, "uc_block": True})
    renew(ctx, cmd.holder)
    return LocatedBlock(block.id, block.gen_stamp, 0, length, True, cmd.targets)


def abandon_block(ctx: Ctx, cmd: AbandonBlock) -> Done:
    res, node = open_file(ctx, cmd.path, cmd.holder, cmd.file_id)
    blocks = ctx.txn.blocks(node.id)
    if not node.uc_block or not blocks or blocks[-1].id != cmd.block_id:
        raise InvalidArgument(f"block {cmd.block_id} is not the open last block", cmd.path)
    tail = blocks[-1]
    quota.charge(ctx.txn, quota.quota_dirs(res.inodes[:-1]), 0, -node.block_size * node.replication)
    ctx.txn.delete_block(tail.id)
    ctx.txn.update_inode(node.id, {"length": node.length - tail.num_bytes, "uc_block": False})
    return Done()


def complete(ctx: Ctx, cmd: Complete) -> Done:
    res = resolve(ctx.txn, cmd.path)
    node = res.last
    if node is not None and node.is_file and not node.holder:
        blocks = ctx.txn.blocks(node.id)
        tail = blocks[-1] if blocks else None
        same = (tail is None and cmd.last is None) or (
            tail is not None
            and cmd.last is not None
            and tail.id == cmd.last.block_id
            and tail.num_bytes == cmd.last.num_bytes
        )
        if same and (not cmd.file_id or node.id == cmd.file_id):
            return Done()  # a repeated complete of a file already closed
    _, node = open_file(ctx, cmd.path, cmd.holder, cmd.file_id)
    if node.uc_block and cmd.last is None:
        raise InvalidArgument("the last block is still open: pass it as last", cmd.path)
    blocks = ctx.txn.blocks(node.id)
    if (not node.uc_block and cmd.last is not None) and (
        not blocks or blocks[-1].id != cmd.last.block_id
    ):
        raise InvalidArgument(f"block {cmd.last.block_id} is not the last block", cmd.path)
    # The last two blocks, as HDFS checks: earlier ones were acknowledged by their
    # pipelines long before, and checking them all would make apply O(blocks).
    if cmd.min_replication and not replicas.min_replicated(
        ctx.txn, blocks[-2:], cmd.last, cmd.min_replication
    ):
        return Done(False)  # the DataNodes' reports have not all arrived: retry
    close_file(ctx, node, cmd.last)
    return Done()


def append(ctx: Ctx, cmd: Append) -> AppendResult:
    res = resolve(ctx.txn, cmd.path)
    perm.check_traverse(ctx.caller, res)
    node = res.last
    if node is None:
        raise FileNotFound("Failed to append to non-existent file", cmd.path)
    if node.is_dir:
        raise IsADirectory("Cannot append to a directory", cmd.path)
    perm.check(ctx.caller, node, perm.WRITE, cmd.path)
    if node.holder:
        node = _take_over(ctx, node, cmd.holder, cmd.soft_limit, cmd.path)
    blocks = ctx.txn.blocks(node.id)
    last_block = None
    changes: dict[str, object] = {"holder": cmd.holder}
    if blocks and blocks[-1].num_bytes < node.block_size:
        tail = blocks[-1]
        quota.charge(
            ctx.txn,
            quota.quota_dirs(res.inodes[:-1]),
            0,
            (node.block_size - tail.num_bytes) * node.replication,
        )
        holders = tuple(r.datanode for r in ctx.txn.replicas(tail.id) if replicas.good(r, tail))
        reopened = replicas.new_stamp(ctx.txn, tail)
        replicas.expect(ctx.txn, reopened, holders)  # the pipeline: the good replicas
        changes["uc_block"] = True
        last_block = LocatedBlock(
            reopened.id,
            reopened.gen_stamp,
            reopened.num_bytes,
            node.length - tail.num_bytes,
            True,
            holders,
        )
    node = ctx.txn.update_inode(node.id, changes)
    renew(ctx, cmd.holder)
    return AppendResult(file_status(cmd.path, node), last_block)


def renew_lease(ctx: Ctx, cmd: RenewLease) -> Done:
    if ctx.txn.lease(cmd.holder) is None:
        return Done(False)
    renew(ctx, cmd.holder)
    return Done()


def recover_lease(ctx: Ctx, cmd: RecoverLease) -> Done:
    res = resolve(ctx.txn, cmd.path)
    perm.check_traverse(ctx.caller, res)
    node = res.require()
    if node.is_dir:
        raise IsADirectory("Cannot recover the lease of a directory", cmd.path)
    perm.check(ctx.caller, node, perm.WRITE, cmd.path)
    if node.holder:
        if node.uc_block:
            return Done(False)  # the open block needs block recovery first
        close_file(ctx, node)
    return Done()


def expire_leases(ctx: Ctx, cmd: ExpireLeases) -> LeaseRecoveryResult:
    """Close the files of expired holders; those with an open block wait for block recovery."""
    closed: list[str] = []
    recovering: list[str] = []
    for lease in ctx.txn.leases_renewed_before(ctx.now - cmd.hard_limit):
        for node in ctx.txn.files_held_by(lease.holder):
            if node.uc_block:
                recovering.append(path_of(ctx.txn, node))
                continue
            closed.append(path_of(ctx.txn, node))
            close_file(ctx, node)
        release(ctx, lease.holder)
    return LeaseRecoveryResult(closed=tuple(closed), recovering=tuple(recovering))
