"""Replicate commands: copy a local finalized replica to other DataNodes.

``Replicator.submit(pool, command)`` queues a copy; at most ``max_transfers``
run at once (the throttle) and a block already queued or copying is not
queued twice. A copy streams the replica's chunks, with their stored
checksums, through a WriteBlock REPLICATION pipeline (the header names
``targets[1:]`` and goes to ``targets[0]``), ~``packet_bytes`` per packet, and
checks every ack. The targets verify the checksums and report the new
replica to their NameNode themselves; this side logs one line per copy.

Imports: grpc, ``hafs_api`` and the storage's pool interface (duck-typed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from hafs_api.errors import HafsError, InternalError, ReplicaNotFound
from hafs_api.v1 import common_pb2, datanode_pb2, datatransfer_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt

log = logging.getLogger(__name__)
WINDOW = 8  # packets sent ahead of their acks
MIN_RATE_BYTES_PER_S = 1 << 20  # a copy slower than this (plus a minute) is given up


class CopyFailed(HafsError):
    """A target refused or lost a replication pipeline."""


class Replicator:
    def __init__(
        self,
        pools: Mapping[str, Any],
        datanode_id: str,
        max_transfers: int,
        packet_bytes: int,
        channel_options: list | None = None,
    ) -> None:
        self._pools = pools
        self._datanode_id = datanode_id
        self._packet_bytes = packet_bytes
        self._options = channel_options or []
        self._executor = ThreadPoolExecutor(max_transfers, thread_name_prefix="dn-replicate")
        self._lock = threading.Lock()
        self._queued: set[tuple[str, int]] = set()
        self._active = 0
        self._calls: set[Any] = set()
        self._stopped = False
        self.copied = 0
        self.failed = 0

    def active(self) -> int:
        """Copies running now (not those waiting for a slot)."""
        with self._lock:
            return self._active

    def submit(self, pool: str, command: datanode_pb2.ReplicateCommand) -> bool:
        key = (pool, command.block.block_id)
        with self._lock:
            if self._stopped or key in self._queued:
                return False
            self._queued.add(key)
            self._executor.submit(self._run, key, command)
        return True

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            calls = list(self._calls)
        for call in calls:
            call.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, key: tuple[str, int], command: datanode_pb2.ReplicateCommand) -> None:
        pool, block = key[0], command.block
        what = f"{pool}:{block.block_id}_{block.gen_stamp}"
        targets = ", ".join(t.address for t in command.targets)
        with self._lock:
            self._active += 1
        started = time.monotonic()
        ok = False
        try:
            size = self._copy(pool, command)
            ok = True
        except Exception as e:
            log.warning("replication of %s to %s failed: %s", what, targets, describe(e))
        else:
            log.info(
                "replicated %s (%d bytes) to %s in %.2f s",
                what,
                size,
                targets,
                time.monotonic() - started,
            )
        finally:
            with self._lock:
                self._active -= 1
                self._queued.discard(key)
                self.copied += ok
                self.failed += not ok

    def _copy(self, pool_name: str, command: datanode_pb2.ReplicateCommand) -> int:
        if not command.targets:
            raise InternalError("no targets")
        pool = self._pools.get(pool_name)
        if pool is None:
            raise ReplicaNotFound(f"this DataNode serves no block pool {pool_name}")
        block = command.block
        info = pool.get(block.block_id)
        if info is None or info.state != "FINALIZED" or info.gen_stamp != block.gen_stamp:
            raise ReplicaNotFound(f"no finalized replica of gen stamp {block.gen_stamp} here")
        with pool.reader(block.block_id, block.gen_stamp) as reader:
            size = reader.num_bytes
            header = dt.WriteHeader(
                block_pool=pool_name,
                block=common_pb2.Block(block_id=block.block_id, gen_stamp=block.gen_stamp),
                stage=dt.REPLICATION,
                targets=command.targets[1:],
                access_token=command.access_token,
                client_name=self._datanode_id,
                bytes_per_checksum=reader.bytes_per_checksum,
            )
            timeout = 60.0 + size / MIN_RATE_BYTES_PER_S
            with grpc.insecure_channel(command.targets[0].address, self._options) as channel:
                window = threading.Semaphore(WINDOW)
                done = threading.Event()
                last: list[int] = []  # the final packet's seqno, once sent
                stub = datatransfer_pb2_grpc.DataTransferStub(channel)
                packets = self._packets(header, reader, window, done, last)
                call = stub.WriteBlock(packets, timeout=timeout)
                with self._lock:
                    self._calls.add(call)
                try:
                    self._check_acks(call, window, len(command.targets), last)
                finally:
                    done.set()
                    call.cancel()
                    with self._lock:
                        self._calls.discard(call)
        return size

    def _packets(self, header, reader, window, done, last) -> Iterator[dt.WritePacket]:
        yield dt.WritePacket(header=header, seqno=0)
        pieces = reader.chunks(0, 0, max_bytes=self._packet_bytes)
        seqno, piece = 1, next(pieces, None)
        while True:
            while not window.acquire(timeout=0.5):
                if done.is_set():
                    return
            if piece is None:  # an empty replica: one empty final packet
                last.append(seqno)
                yield dt.WritePacket(seqno=seqno, offset=0, last=True)
                return
            following = next(pieces, None)
            offset, data, sums = piece
            if following is None:
                last.append(seqno)
            yield dt.WritePacket(
                seqno=seqno, offset=offset, data=data, checksums=sums, last=following is None
            )
            if following is None:
                return
            seqno, piece = seqno + 1, following

    @staticmethod
    def _check_acks(call, window: threading.Semaphore, nodes: int, last: list[int]) -> None:
        final = False
        for ack in call:
            if len(ack.statuses) != nodes or any(s != dt.SUCCESS for s in ack.statuses):
                names = [dt.AckStatus.Name(s) for s in ack.statuses]
                raise CopyFailed(f"packet {ack.seqno} acked {names}: {ack.message}")
            if ack.seqno:
                window.release()
                final = bool(last) and ack.seqno == last[0]
            if final:
                return
        raise CopyFailed(f"pipeline ended ({call.code().name}) before the final ack")


def describe(error: Exception) -> str:
    """A failed copy's cause in one line (a DataNode's, not a NameNode's, words)."""
    if isinstance(error, grpc.RpcError) and isinstance(error, grpc.Call):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}" if not isinstance(error, HafsError) else str(error)
