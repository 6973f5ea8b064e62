"""DataNode channels: the client's side of the DataTransfer service.

``DataNodes`` keeps one lazily created gRPC channel per DataNode address and
makes the calls the data path needs:

* ``open_write(address, header)`` starts a ``WriteBlock`` pipeline and returns a
  ``WriteStream``. Packets go down through a queue that feeds the request
  iterator, and a thread reads acks into another queue, so sending and
  receiving overlap (the window of unacked packets lives in ``client.pipeline``);
* ``read_block(address, request)`` iterates the ``ReadChunk``s of one replica;
* ``block_checksum(address, request)`` asks for a finalized replica's MD5.

Every ``grpc.RpcError`` becomes a ``HafsError`` (``hafs_api.status``) whose
message names the DataNode; an unreachable DataNode is an ``Unavailable``.
``DataPath`` bundles what readers and writers need from their ``Client``.

With ``client.rpc``, the only client modules that import ``grpc``. Imports
also ``hafs_api`` (errors, status, generated messages and stubs).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from hafs_api.errors import HafsError, InvalidArgument, Unavailable, make_error
from hafs_api.status import from_rpc_error
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import datatransfer_pb2_grpc

DEFAULT_TIMEOUT = 60.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_END = object()  # ends a request iterator


def translate(exc: grpc.RpcError, address: str) -> HafsError:
    """The hafs error for a failed DataNode call, its message naming the DataNode."""
    err = from_rpc_error(exc)
    if type(err) is Unavailable:
        reason = err.message.removeprefix("NameNode unreachable: ")
        return Unavailable(f"DataNode {address} unreachable: {reason}", err.path)
    return make_error(err.code, f"{err.message} (DataNode {address})", err.path)


@dataclass(frozen=True)
class DataPath:
    """What readers and writers need from their ``Client``.

    ``namenode`` is a ``client.rpc.NamenodeConnection`` (anything with
    ``call(method, request, mutation=...)``); ``deadline`` bounds the retries of
    ``Complete``; ``packet_size`` and ``window`` shape the write pipeline.
    """

    namenode: Any
    datanodes: DataNodes
    client_name: str
    block_pool: str
    packet_size: int
    window: int
    deadline: float


class WriteStream:
    """One ``WriteBlock`` call: packets in through ``send``, acks out of ``next_ack``."""

    def __init__(self, stub: Any, header: dt.WritePacket, address: str, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._acks: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put(header)
        self._call = stub.WriteBlock(self._iterate())
        self._reader = threading.Thread(
            target=self._read_acks, name=f"hafs-acks-{address}", daemon=True
        )
        self._reader.start()

    def _iterate(self) -> Iterator[dt.WritePacket]:
        while True:
            item = self._requests.get()
            if item is _END:
                return
            yield item

    def _read_acks(self) -> None:
        try:
            for ack in self._call:
                self._acks.put(ack)
            self._acks.put(Unavailable(f"DataNode {self.address} ended the write stream"))
        except grpc.RpcError as exc:
            self._acks.put(translate(exc, self.address))

    def send(self, packet: dt.WritePacket) -> None:
        self._requests.put(packet)

    def next_ack(self, wait: bool = True) -> dt.WriteAck | None:
        """The next ack (None if ``wait`` is false and none has come); raises if the stream
        broke or no ack came within the timeout."""
        try:
            item = self._acks.get(timeout=self.timeout) if wait else self._acks.get_nowait()
        except queue.Empty:
            if not wait:
                return None
            raise Unavailable(
                f"no ack from DataNode {self.address} within {self.timeout:g}s"
            ) from None
        if isinstance(item, HafsError):
            self._acks.put(item)  # the stream stays broken for later calls
            raise item
        return item

    def close(self) -> None:
        """End the packets and let the DataNode end its acks (cancel if it does not)."""
        self._requests.put(_END)
        self._reader.join(self.timeout)
        if self._reader.is_alive():
            self._call.cancel()

    def cancel(self) -> None:
        self._requests.put(_END)
        self._call.cancel()


class ChunkStream:
    """The ``ReadChunk``s of one ``ReadBlock`` call, errors translated; ``cancel()`` ends it."""

    def __init__(self, call: Any, address: str) -> None:
        self._call = call
        self.address = address

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> dt.ReadChunk:
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            raise translate(exc, self.address) from None

    def cancel(self) -> None:
        self._call.cancel()


class DataNodes:
    """Channels to DataNodes by address, created on first use; thread-safe."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, datatransfer_pb2_grpc.DataTransferStub] = {}
        self._closed = False

    def open_write(self, address: str, header: dt.WritePacket) -> WriteStream:
        return WriteStream(self._stub(address), header, address, self.timeout)

    def read_block(self, address: str, request: dt.ReadBlockRequest, timeout: float) -> ChunkStream:
        return ChunkStream(self._stub(address).ReadBlock(request, timeout=timeout), address)

    def block_checksum(
        self, address: str, request: dt.BlockChecksumRequest
    ) -> dt.BlockChecksumResponse:
        try:
            return self._stub(address).BlockChecksum(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise translate(exc, address) from None

    def close(self) -> None:
        with self._lock:
            channels = list(self._channels.values())
            self._channels.clear()
            self._stubs.clear()
            self._closed = True
        for channel in channels:
            channel.close()

    def _stub(self, address: str) -> datatransfer_pb2_grpc.DataTransferStub:
        with self._lock:
            if self._closed:
                raise InvalidArgument("the client is closed")
            stub = self._stubs.get(address)
            if stub is None:
                channel = grpc.insecure_channel(
                    address,
                    options=[
                        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                        ("grpc.initial_reconnect_backoff_ms", 100),
                        ("grpc.min_reconnect_backoff_ms", 100),
                        ("grpc.max_reconnect_backoff_ms", 2000),
                    ],
                )
                self._channels[address] = channel
                stub = self._stubs[address] = datatransfer_pb2_grpc.DataTransferStub(channel)
            return stub


__all__ = ["ChunkStream", "DataNodes", "DataPath", "WriteStream", "translate"]
