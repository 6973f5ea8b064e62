"""Block recovery: settle the open last block of a file whose writer is gone.

The leader bumps the block's generation stamp (``BeginBlockRecovery``), asks
each DataNode that should hold it for its replica, has every one that has it
truncate to the shortest length among them and finalize under the new stamp,
then commits that length and closes the file (``CommitBlockRecovery``). While
no DataNode that answers has a replica but some holder is unreachable or dead,
the file stays open and recovery is tried again later (HDFS keeps such files
open too: the data may come back with the node). If every holder answers that
it has no replica, nothing reached them: the empty block is dropped.

The DataNode calls go through ``ReplicaClient``, implemented over gRPC in
``ha_namenode.rpc.datanode_client`` (and by a fake in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ha_namenode.blocks.registry import Liveness, NodeView
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import LocatedBlock
from hafs_api.errors import HafsError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    gen_stamp: int
    num_bytes: int
    finalized: bool


class ReplicaClient(Protocol):
    def get_replica(self, address: str, block_id: int, token: bytes) -> ReplicaInfo | None:
        """The DataNode's replica, or None if it has none; raises HafsError if unreachable."""
        ...

    def recover_replica(
        self,
        address: str,
        block_id: int,
        gen_stamp: int,
        new_gen_stamp: int,
        length: int,
        token: bytes,
    ) -> int:
        """Truncate to ``length``, restamp and finalize; returns the replica's length."""
        ...


def recover_block(
    path: str,
    block_id: int,
    propose: Callable[[Any], Any],
    nodes: Mapping[str, NodeView],
    client: ReplicaClient,
    token: Callable[[int], bytes],
) -> bool:
    """Run one recovery of ``path``'s open block ``block_id``; True once the file is closed."""
    begun: LocatedBlock = propose(c.BeginBlockRecovery(path, block_id))
    answers: dict[str, ReplicaInfo] = {}
    waiting: list[str] = []
    for dn in begun.targets:
        node = nodes.get(dn)
        if node is None or node.liveness is Liveness.DEAD:
            waiting.append(dn)  # its replica may come back with it
            continue
        try:
            info = client.get_replica(node.address, block_id, token(block_id))
        except HafsError as e:
            log.info("block recovery of %s: %s did not answer (%s)", path, dn, e)
            waiting.append(dn)
            continue
        if info is not None and info.gen_stamp <= begun.gen_stamp:
            answers[dn] = info
    if waiting and not answers:
        return False  # the only holders are away: keep the file open until one is back
    length = min((info.num_bytes for info in answers.values()), default=0)
    done: list[str] = []
    for dn, info in answers.items():
        try:
            client.recover_replica(
                nodes[dn].address,
                block_id,
                info.gen_stamp,
                begun.gen_stamp,
                length,
                token(block_id),
            )
            done.append(dn)
        except HafsError as e:
            log.warning("block recovery of %s: %s could not finalize (%s)", path, dn, e)
    if answers and not done:
        return False
    propose(c.CommitBlockRecovery(path, block_id, begun.gen_stamp, length, tuple(done)))
    log.info(
        "recovered block %d of %s at %d bytes on %s",
        block_id,
        path,
        length,
        ", ".join(done) or "no DataNode (empty block dropped)",
    )
    return True
