"""One block's write pipeline: checksummed packets, a window of unacked packets, recovery.

``BlockPipeline`` streams one block to the DataNodes of a ``LocatedBlock``,
first to last in pipeline order, through a ``client.transfer.WriteStream``:

* ``open(stage)`` sends the header and waits for its ack (one status per
  DataNode); a refusal raises ``SetupFailed`` naming the first failing node;
* ``send(data, last, sync)`` sends a packet (its CRC32C checksums computed for
  its block offset) once fewer than ``window`` packets are unacked, and takes
  the acks that have come meanwhile;
* ``wait()`` takes acks until none is outstanding.

Pipeline recovery: an ack with a non-SUCCESS status names the bad node (the
first such status); a broken stream or a silent one blames the first node. The
others survive. ``UpdatePipeline`` at the NameNode gives the block a new
generation stamp; a new stream to the survivors (stage PIPELINE_RECOVERY, the
bytes acked by all as the replica length, the old stamp as previous) receives
every unacked packet again, renumbered from 1. This repeats on further
failures; with no survivor left the write fails with a ``HafsError`` (EIO).

Not thread-safe: one writer thread drives it. Imports ``client.transfer`` and
``hafs_api`` (checksum, errors, messages).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from client.transfer import DataPath, WriteStream
from hafs_api import checksum
from hafs_api.errors import HafsError
from hafs_api.v1 import common_pb2
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import namenode_pb2 as pb

log = logging.getLogger(__name__)


class SetupFailed(Exception):
    """A pipeline's header was refused: ``index`` is the first failing node."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"node {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(slots=True)
class _Packet:
    offset: int
    data: bytes
    checksums: bytes
    last: bool
    sync: bool
    seqno: int = 0


def first_bad(ack: dt.WriteAck, nodes: int) -> int | None:
    """The index of the first node an ack reports failing (a missing status counts)."""
    for index, status in enumerate(ack.statuses):
        if status != dt.SUCCESS:
            return index
    return len(ack.statuses) if len(ack.statuses) < nodes else None


def _reason(ack: dt.WriteAck, index: int) -> str:
    status = ack.statuses[index] if index < len(ack.statuses) else dt.ACK_STATUS_UNSPECIFIED
    name = dt.AckStatus.Name(status) if index < len(ack.statuses) else "no status"
    return f"{name}: {ack.message}" if ack.message else name


class BlockPipeline:
    def __init__(
        self,
        dp: DataPath,
        located: common_pb2.LocatedBlock,
        *,
        path: str,
        file_id: int,
        bytes_per_checksum: int,
        on_acked: Callable[[int], None] | None = None,
    ) -> None:
        self.dp = dp
        self.located = located
        self.path = path
        self.file_id = file_id
        self.bpc = bytes_per_checksum
        self.acked = located.block.num_bytes  # bytes every node has acknowledged
        self.sent = self.acked
        self.failures: list[str] = []  # "dn (address): reason", oldest first
        self._on_acked = on_acked
        self._stage = dt.CREATE
        self._acks_since_open = 0
        self._stream: WriteStream | None = None
        self._unacked: deque[_Packet] = deque()
        self._next_seqno = 1

    @property
    def block(self) -> common_pb2.Block:
        """The block as the NameNode should know it: id, current stamp, bytes acked."""
        b = self.located.block
        return common_pb2.Block(block_id=b.block_id, gen_stamp=b.gen_stamp, num_bytes=self.acked)

    def open(self, stage: int = dt.CREATE, previous_gen_stamp: int = 0) -> None:
        """Start the stream; ``SetupFailed`` if a node refuses the header."""
        self._stage = stage
        self._acks_since_open = 0
        nodes = list(self.located.locations)
        header = dt.WriteHeader(
            block_pool=self.located.block_pool or self.dp.block_pool,
            block=self.block,
            previous_gen_stamp=previous_gen_stamp,
            stage=stage,
            targets=nodes[1:],
            access_token=self.located.access_token,
            client_name=self.dp.client_name,
            bytes_per_checksum=self.bpc,
        )
        try:
            stream = self.dp.datanodes.open_write(
                nodes[0].address, dt.WritePacket(header=header, seqno=0)
            )
        except HafsError as err:
            raise SetupFailed(0, str(err)) from err
        try:
            ack = stream.next_ack()
        except HafsError as err:
            stream.cancel()
            raise SetupFailed(0, str(err)) from err
        bad = first_bad(ack, len(nodes))
        if bad is not None or ack.seqno != 0:
            stream.cancel()
            index = bad or 0
            reason = _reason(ack, index) if bad is not None else f"header acked as {ack.seqno}"
            raise SetupFailed(index, reason)
        self._stream = stream

    def open_append(self) -> None:
        """Reopen the partial last block an ``Append`` returned (under its new stamp)."""
        try:
            self.open(dt.APPEND)
        except SetupFailed as failed:
            self._recover(failed.index, failed.reason)

    def send(self, data: bytes, *, last: bool = False, sync: bool = False) -> None:
        """Send one packet starting at ``self.sent``; blocks while the window is full."""
        packet = _Packet(
            self.sent, bytes(data), checksum.compute(data, self.sent, self.bpc), last, sync
        )
        self.sent += len(packet.data)
        while self._take_ack(wait=False):
            pass
        while len(self._unacked) >= self.dp.window:
            self._take_ack(wait=True)
        self._push(packet)

    def wait(self) -> None:
        """Take acks until every sent packet is acknowledged by every node."""
        while self._unacked:
            self._take_ack(wait=True)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    # -- acks and recovery ---------------------------------------------------------

    def _push(self, packet: _Packet) -> None:
        assert self._stream is not None, "the pipeline is not open"
        packet.seqno = self._next_seqno
        self._next_seqno += 1
        self._unacked.append(packet)
        self._stream.send(
            dt.WritePacket(
                seqno=packet.seqno,
                offset=packet.offset,
                data=packet.data,
                checksums=packet.checksums,
                last=packet.last,
                sync=packet.sync,
            )
        )

    def _take_ack(self, wait: bool) -> bool:
        """Handle one ack (False when ``wait`` is off and none has come)."""
        assert self._stream is not None, "the pipeline is not open"
        try:
            ack = self._stream.next_ack(wait)
        except HafsError as err:
            self._recover(0, str(err))
            return True
        if ack is None:
            return False
        expected = self._unacked[0].seqno if self._unacked else None
        if ack.seqno != expected:
            self._recover(0, f"ack for packet {ack.seqno} while waiting for {expected}")
            return True
        bad = first_bad(ack, len(self.located.locations))
        if bad is not None:
            self._recover(bad, _reason(ack, bad))
            return True
        packet = self._unacked.popleft()
        self._acks_since_open += 1
        self.acked = packet.offset + len(packet.data)
        if self._on_acked is not None and packet.data:
            self._on_acked(len(packet.data))
        return True

    def _recover(self, bad: int, reason: str) -> None:
        """Continue on the nodes other than ``bad`` under a new stamp; resend the unacked."""
        while True:
            self.abort()
            nodes = list(self.located.locations)
            node = nodes[min(bad, len(nodes) - 1)]
            self.failures.append(f"{node.datanode_id} ({node.address}): {reason}")
            survivors = [n for n in nodes if n.datanode_id != node.datanode_id]
            old = self.block
            if not survivors:
                raise HafsError(
                    f"every DataNode of the pipeline for block {old.block_id} failed: "
                    + "; ".join(self.failures),
                    self.path,
                )
            log.warning(
                "%s: block %d: DataNode %s failed (%s); continuing on %s",
                self.path,
                old.block_id,
                node.datanode_id,
                reason,
                ", ".join(n.datanode_id for n in survivors),
            )
            resp = self.dp.namenode.call(
                "UpdatePipeline",
                pb.UpdatePipelineRequest(
                    path=self.path,
                    file_id=self.file_id,
                    block=old,
                    datanodes=[n.datanode_id for n in survivors],
                ),
                mutation=True,
            )
            self.located = resp.block
            if not self.located.locations:
                del self.located.locations[:]
                self.located.locations.extend(survivors)
            # An append whose replicas took nothing yet is reopened as an append again.
            appending = self._stage == dt.APPEND and self._acks_since_open == 0
            try:
                if appending:
                    self.open(dt.APPEND)
                else:
                    self.open(dt.PIPELINE_RECOVERY, previous_gen_stamp=old.gen_stamp)
            except SetupFailed as failed:
                bad, reason = failed.index, failed.reason
                continue
            pending = list(self._unacked)
            self._unacked.clear()
            self._next_seqno = 1
            for packet in pending:
                self._push(packet)
            return


__all__ = ["BlockPipeline", "SetupFailed", "first_bad"]
