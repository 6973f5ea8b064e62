"""The DataTransfer service (datatransfer.proto) and the DataNode's gRPC server.

The servicer only translates: it checks the block token of every call, maps
requests onto the block pool's storage API, and answers errors through
``hafs_api.status.abort``. The write pipeline's mechanics live in
``datanode.pipeline``. Token modes: WRITE for client writes and COPY for
REPLICATION writes; READ or COPY for ReadBlock; RECOVER for GetReplica and
RecoverReplica; READ for BlockChecksum.

Imports: grpc, ``hafs_api``, ``datanode.pipeline`` (and the storage's types).
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from datanode.pipeline import Timeouts, WriteStream
from hafs_api import tokens
from hafs_api.errors import AccessDenied, HafsError, InternalError, InvalidArgument, ReplicaNotFound
from hafs_api.readiness import READY_SERVICE
from hafs_api.status import abort
from hafs_api.v1 import common_pb2, datatransfer_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt

log = logging.getLogger(__name__)
SERVICE = "hafs.DataNode"
STATES = {"FINALIZED": dt.FINALIZED, "RBW": dt.RBW}


@dataclass(frozen=True)
class PoolAccess:
    """A block pool this DataNode serves, with its nameservice's token key."""

    name: str
    key: bytes
    pool: Any  # datanode.storage.BlockPool


def message_options(packet_bytes: int) -> list[tuple[str, int]]:
    limit = max(4 << 20, 2 * packet_bytes + (64 << 10))
    return [("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)]


class DataTransferService(datatransfer_pb2_grpc.DataTransferServicer):
    def __init__(
        self,
        pools: Mapping[str, PoolAccess],
        on_received: Callable[[str, Any], None],
        packet_bytes: int,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._pools = pools
        self._on_received = on_received
        self._packet_bytes = packet_bytes
        self._timeouts = timeouts or Timeouts()
        self._options = message_options(packet_bytes)

    def _pool(self, name: str, token: bytes, block_id: int, modes: tuple[str, ...]):
        """The block pool, if ``token`` allows one of ``modes`` on the block."""
        access = self._pools.get(name)
        refused: AccessDenied | None = None
        for mode in modes:
            try:
                tokens.verify(access.key if access else b"", token, name, block_id, mode)
                break
            except AccessDenied as e:
                refused = refused or e
        else:
            assert refused is not None
            raise refused
        assert access is not None  # a token verified, so a key was configured
        return access.pool

    # -- WriteBlock ------------------------------------------------------------------

    def WriteBlock(self, request_iterator, context) -> Iterator[dt.WriteAck]:
        stream = WriteStream(
            context, self._open_replica, self._on_received, self._timeouts, self._options
        )
        return stream.run(request_iterator)

    def _open_replica(self, header: dt.WriteHeader):
        block = header.block
        mode = tokens.COPY if header.stage == dt.REPLICATION else tokens.WRITE
        pool = self._pool(header.block_pool, header.access_token, block.block_id, (mode,))
        if header.stage in (dt.CREATE, dt.REPLICATION):
            if header.bytes_per_checksum < 1:
                raise InvalidArgument("bytes_per_checksum must be positive")
            return pool.create(
                block.block_id,
                block.gen_stamp,
                header.bytes_per_checksum,
                temporary=header.stage == dt.REPLICATION,
            )
        if header.stage in (dt.APPEND, dt.PIPELINE_RECOVERY):
            if block.gen_stamp <= header.previous_gen_stamp:
                raise InvalidArgument(
                    f"new generation stamp {block.gen_stamp} is not above "
                    f"{header.previous_gen_stamp}"
                )
            return pool.reopen(
                block.block_id,
                header.previous_gen_stamp,
                block.gen_stamp,
                block.num_bytes,
                recovery=header.stage == dt.PIPELINE_RECOVERY,
            )
        raise InvalidArgument(f"unknown write stage {header.stage}")

    # -- reads and recovery ----------------------------------------------------------

    def ReadBlock(self, request, context) -> Iterator[dt.ReadChunk]:
        block = request.block
        try:
            pool = self._pool(
                request.block_pool,
                request.access_token,
                block.block_id,
                (tokens.READ, tokens.COPY),
            )
            reader = pool.reader(block.block_id, block.gen_stamp)
        except Exception as e:
            _fail(context, e)
        end = request.offset + request.length
        if request.offset > reader.num_bytes or end > reader.num_bytes:
            reader.close()
            _fail(
                context,
                InvalidArgument(
                    f"bytes {request.offset}..{end} of block {block.block_id} are past "
                    f"its end ({reader.num_bytes})"
                ),
            )
        context.add_callback(reader.close)
        return self._chunks(context, reader, request.offset, request.length)

    def _chunks(self, context, reader, offset: int, length: int) -> Iterator[dt.ReadChunk]:
        with reader:
            pieces = reader.chunks(offset, length, max_bytes=self._packet_bytes)
            while True:
                try:
                    at, data, sums = next(pieces)
                except StopIteration:
                    return
                except Exception as e:  # a failing disk: say so, in the one error table
                    _fail(context, e)
                yield dt.ReadChunk(
                    offset=at,
                    data=data,
                    checksums=sums,
                    bytes_per_checksum=reader.bytes_per_checksum,
                )

    def GetReplica(self, request, context) -> dt.GetReplicaResponse:
        try:
            pool = self._pool(
                request.block_pool, request.access_token, request.block_id, (tokens.RECOVER,)
            )
            info = pool.get(request.block_id)
            if info is None or info.state not in STATES:
                raise ReplicaNotFound(f"no replica of block {request.block_id}")
        except Exception as e:
            _fail(context, e)
        return dt.GetReplicaResponse(state=STATES[info.state], block=_block(info))

    def RecoverReplica(self, request, context) -> dt.RecoverReplicaResponse:
        block = request.block
        try:
            pool = self._pool(
                request.block_pool, request.access_token, block.block_id, (tokens.RECOVER,)
            )
            info = pool.recover(
                block.block_id, block.gen_stamp, request.new_gen_stamp, request.length
            )
        except Exception as e:
            _fail(context, e)
        log.info(
            "recovered block %s:%d to gen stamp %d, %d bytes",
            request.block_pool,
            info.block_id,
            info.gen_stamp,
            info.num_bytes,
        )
        self._on_received(request.block_pool, info)
        return dt.RecoverReplicaResponse(block=_block(info))

    def BlockChecksum(self, request, context) -> dt.BlockChecksumResponse:
        block = request.block
        try:
            pool = self._pool(
                request.block_pool, request.access_token, block.block_id, (tokens.READ,)
            )
            md5, bpc, chunks, num_bytes = pool.block_checksum(block.block_id, block.gen_stamp)
        except Exception as e:
            _fail(context, e)
        return dt.BlockChecksumResponse(
            md5=md5, bytes_per_checksum=bpc, chunks=chunks, num_bytes=num_bytes
        )


def _block(info) -> common_pb2.Block:
    return common_pb2.Block(
        block_id=info.block_id, gen_stamp=info.gen_stamp, num_bytes=info.num_bytes
    )


def _fail(context: grpc.ServicerContext, error: Exception) -> typing.NoReturn:
    if not isinstance(error, HafsError):
        log.exception("unexpected error in a data transfer call")
        error = InternalError(f"{type(error).__name__}: {error}")
    abort(context, error)
    raise AssertionError("abort returned")


class TransferServer:
    """The gRPC server: DataTransfer plus the standard health service: ``""`` and the
    DataTransfer service are liveness (SERVING from start), ``hafs.ready`` readiness
    (``set_ready``; NOT_SERVING until then)."""

    def __init__(
        self,
        address: str,
        workers: int,
        service: DataTransferService,
        packet_bytes: int,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
    ):
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dn-rpc"),
            options=[*message_options(packet_bytes), ("grpc.so_reuseport", 0)],
            interceptors=list(interceptors),
        )
        datatransfer_pb2_grpc.add_DataTransferServicer_to_server(service, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.health.set(READY_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
        port = self._server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        self.address = f"{address.rpartition(':')[0]}:{port}"

    def start(self) -> None:
        self._server.start()
        for name in ("", SERVICE):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("data transfer service on %s", self.address)

    def set_ready(self, ready: bool) -> None:
        self.health.set(
            READY_SERVICE,
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING,
        )

    def stop(self, grace: float = 1.0) -> None:
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait(grace + 1)
