"""Pipeline and block recovery of an open last block.

* ``UpdatePipeline``: a writer lost a DataNode; the block gets a new generation
  stamp and the survivors become its only expected locations, so a replica left
  on the failed node is stale and is deleted when it is reported.
* ``BeginBlockRecovery`` / ``CommitBlockRecovery``: lease recovery of a crashed
  writer's file. The leader bumps the stamp, asks the surviving replicas for
  their lengths, has them finalize at the shortest, then commits that length and
  closes the file (HDFS's commitBlockSynchronization).
Pure, like every namespace module.
"""

from __future__ import annotations

from ha_namenode.namespace import commands as c
from ha_namenode.namespace import replicas
from ha_namenode.namespace.files import close_file, open_file, renew
from ha_namenode.namespace.model import Block, Done, Inode, LocatedBlock, Replica
from ha_namenode.namespace.resolve import resolve
from ha_namenode.namespace.tree import Ctx
from hafs_api.errors import InvalidArgument, IsADirectory


def _open_block(ctx: Ctx, node: Inode, block_id: int, path: str) -> Block:
    blocks = ctx.txn.blocks(node.id)
    if not node.uc_block or not blocks or blocks[-1].id != block_id:
        raise InvalidArgument(f"block {block_id} is not the open last block of the file", path)
    return blocks[-1]


def _offset(ctx: Ctx, node: Inode, block: Block) -> int:
    return node.length - block.num_bytes


def update_pipeline(ctx: Ctx, cmd: c.UpdatePipeline) -> LocatedBlock:
    _, node = open_file(ctx, cmd.path, cmd.holder, cmd.file_id)
    block = _open_block(ctx, node, cmd.block_id, cmd.path)
    if cmd.gen_stamp != block.gen_stamp:
        raise InvalidArgument(
            f"block {block.id} has generation stamp {block.gen_stamp}, not {cmd.gen_stamp}",
            cmd.path,
        )
    if not cmd.datanodes:
        raise InvalidArgument("a pipeline needs at least one surviving DataNode", cmd.path)
    bumped = replicas.new_stamp(ctx.txn, block)
    replicas.expect(ctx.txn, bumped, cmd.datanodes)
    renew(ctx, cmd.holder)
    return LocatedBlock(
        bumped.id, bumped.gen_stamp, 0, _offset(ctx, node, bumped), True, cmd.datanodes
    )


def _recovering(ctx: Ctx, path: str, block_id: int) -> tuple[Inode, Block]:
    node = resolve(ctx.txn, path).require()
    if not node.is_file:
        raise IsADirectory("Not a file", path)
    if not node.holder:
        raise InvalidArgument("the file is not open for writing", path)
    return node, _open_block(ctx, node, block_id, path)


def begin_block_recovery(ctx: Ctx, cmd: c.BeginBlockRecovery) -> LocatedBlock:
    node, block = _recovering(ctx, cmd.path, cmd.block_id)
    holders = tuple(
        r.datanode for r in ctx.txn.replicas(block.id) if r.state is not replicas.CORRUPT
    )
    bumped = replicas.new_stamp(ctx.txn, block)
    return LocatedBlock(
        bumped.id, bumped.gen_stamp, bumped.num_bytes, _offset(ctx, node, bumped), True, holders
    )


def commit_block_recovery(ctx: Ctx, cmd: c.CommitBlockRecovery) -> Done:
    node, block = _recovering(ctx, cmd.path, cmd.block_id)
    if cmd.gen_stamp != block.gen_stamp:
        raise InvalidArgument(
            f"recovery of block {block.id} used stamp {cmd.gen_stamp}; it is now {block.gen_stamp}",
            cmd.path,
        )
    for r in ctx.txn.replicas(block.id):
        if r.datanode not in cmd.datanodes:
            ctx.txn.delete_replica(block.id, r.datanode)
    for datanode in cmd.datanodes:
        ctx.txn.put_replica(
            Replica(block.id, datanode, cmd.gen_stamp, cmd.num_bytes, replicas.FINALIZED)
        )
    close_file(ctx, node, c.BlockRef(block.id, cmd.gen_stamp, cmd.num_bytes))
    return Done()
