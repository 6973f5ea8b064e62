"""One WriteBlock stream of the write pipeline: local replica, downstream link, acks.

Threads of one stream (``WriteStream.run`` is the gRPC handler's generator)::

    upstream pump     reads WritePackets from the caller into the event queue
    event loop        (the handler thread) forwards each packet downstream at once,
                      then verifies and writes it locally, and yields acks in
                      seqno order once the local write is done and the
                      downstream ack for that seqno has arrived
    downstream pump   reads the next DataNode's WriteAcks into the event queue

All stream state is owned by the event loop; the pumps only move messages.
Acks on failure (statuses are ``[this node] + downstream``, one per node):

* a refused header (token, replica exists, no room): ``[ERROR_x, ERROR, ...]``,
  for seqno 0, and the stream ends;
* a local write error at packet k: ``[ERROR_CHECKSUM|ERROR_DISK_FULL|ERROR, ...]``
  with the downstream statuses for k (or ERROR if none came), then the end;
* a downstream that broke, stalled or never answered: ``[SUCCESS, ERROR, ...]``
  (ERROR for it and every node after it) for the oldest unacked packet, then the end.

* a caller silent for ``idle_s`` while owed nothing: the call fails DEADLINE_EXCEEDED
  (a slow writer keeps the pipeline open with empty non-final packets).

A final packet is acked SUCCESS only once this replica is finalized (after the
downstream acked it finalized too). A replica this node found bad, and any
REPLICATION copy, is aborted; a replica left by a broken stream stays as RBW
for pipeline or lease recovery.

Imports: grpc, ``hafs_api`` and the storage's writer interface only.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from hafs_api.errors import (
    AccessDenied,
    ChecksumMismatch,
    DeadlineExceeded,
    HafsError,
    StorageFull,
)
from hafs_api.status import abort
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import datatransfer_pb2_grpc

log = logging.getLogger(__name__)

SUCCESS, ERROR = dt.SUCCESS, dt.ERROR


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0  # the downstream must ack the header within this
    ack_s: float = 60.0  # ... and every packet within this of sending it
    idle_s: float = 60.0  # the caller must send something within this
    window: int = 16  # packets read ahead of the local write, and queued downstream


def ack_status(error: BaseException) -> int:
    if isinstance(error, AccessDenied):
        return dt.ERROR_ACCESS
    if isinstance(error, ChecksumMismatch):
        return dt.ERROR_CHECKSUM
    if isinstance(error, StorageFull):
        return dt.ERROR_DISK_FULL
    return ERROR


def release(writer: Any, keep: bool) -> None:
    """Let go of an unfinalized replica: abort it, or (``keep``) leave it as RBW."""
    try:
        if keep:
            writer.close()
        else:
            writer.abort()
    except (HafsError, OSError) as e:  # the storage may be closing under us
        log.warning("cannot release replica %d: %s", writer.block_id, e)


class Downstream:
    """The WriteBlock call to the next DataNode; its acks land in ``events``."""

    def __init__(
        self, address: str, header: dt.WritePacket, events: queue.Queue, window: int, options
    ) -> None:
        self.address = address
        self._events = events
        self._closed = threading.Event()
        self._outbox: queue.Queue = queue.Queue(maxsize=window)
        self._outbox.put(header)
        self._channel = grpc.insecure_channel(address, options=options)
        stub = datatransfer_pb2_grpc.DataTransferStub(self._channel)
        self._call = stub.WriteBlock(self._requests())
        self._pump = threading.Thread(target=self._read, name="dn-write-down", daemon=True)
        self._pump.start()

    def _requests(self) -> Iterator[dt.WritePacket]:
        while not self._closed.is_set():
            try:
                packet = self._outbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if packet is None:
                return
            yield packet

    def _read(self) -> None:
        try:
            for ack in self._call:
                self._events.put(("ack", ack))
            self._events.put(("down_end", "ended the stream"))
        except grpc.RpcError as e:
            self._events.put(("down_end", f"{e.code().name}: {e.details()}"))
        except Exception as e:  # never let a pump die silently
            self._events.put(("down_end", repr(e)))

    def send(self, packet: dt.WritePacket, timeout: float) -> bool:
        try:
            self._outbox.put(packet, timeout=timeout)
            return True
        except queue.Full:
            return False

    def close(self) -> None:
        self._closed.set()
        self._call.cancel()
        self._channel.close()
        self._pump.join(timeout=5)


@dataclass
class _Pending:
    seqno: int
    status: int
    message: str
    last: bool
    at: float


class WriteStream:
    """One WriteBlock call. ``open_replica(header)`` checks the token and opens the
    local writer (raising a ``HafsError``); ``on_finalized(pool, info)`` hears of a
    finalized replica before its final ack goes out."""

    def __init__(
        self,
        context: grpc.ServicerContext,
        open_replica: Callable[[dt.WriteHeader], Any],
        on_finalized: Callable[[str, Any], None],
        timeouts: Timeouts,
        channel_options: list,
    ) -> None:
        self._context = context
        self._open_replica = open_replica
        self._on_finalized = on_finalized
        self._t = timeouts
        self._options = channel_options
        self._events: queue.Queue = queue.Queue()
        self._window = threading.Semaphore(timeouts.window)
        self._closed = threading.Event()
        self._writer = None
        self._replication = False
        self._discard = False  # this replica is bad or unwanted: abort it at the end
        self._finalized = False
        self._down: Downstream | None = None
        self._down_n = 0
        self._down_dead = ""
        self._down_acks: collections.deque = collections.deque()
        self._pending: collections.deque[_Pending] = collections.deque()
        self._expected = 1
        self._input_done = False  # the caller half-closed, sent `last`, or we stopped reading
        self._done = False
        self._activity = time.monotonic()
        self._block = "?"
        self._pool_name = ""
        self._silent = ""  # why the caller timed out, if it did

    # -- the handler ---------------------------------------------------------------

    def run(self, requests: Iterator[dt.WritePacket]) -> Iterator[dt.WriteAck]:
        self._context.add_callback(self._on_rpc_done)
        pump = threading.Thread(
            target=self._pump, args=(requests,), name="dn-write-in", daemon=True
        )
        pump.start()
        try:
            try:
                yield from self._loop()
            except Exception as e:  # one bad stream must not hurt the others
                log.exception("write of block %s failed unexpectedly", self._block)
                self._discard = True
                seqno = self._pending[0].seqno if self._pending else self._expected
                statuses = [ERROR] * (1 + self._down_n)
                yield dt.WriteAck(seqno=seqno, statuses=statuses, message=str(e))
            if self._silent:
                abort(self._context, DeadlineExceeded(self._silent))
        finally:
            self._close()

    def _loop(self) -> Iterator[dt.WriteAck]:
        first = self._next_event()
        if first is None or first[0] != "packet":
            return
        header_ack = self._on_header(first[1])
        if header_ack is not None:
            yield header_ack
            return
        while True:
            for ack in self._ready():
                self._activity = time.monotonic()
                yield ack
            if self._done or (self._input_done and not self._pending):
                return
            event = self._next_event()
            if event is None:
                continue
            kind, value = event
            if kind == "packet":
                if not self._input_done:
                    self._on_packet(value)
            elif kind == "eof":
                self._input_done = True
            elif kind == "ack":
                self._down_acks.append(value)
            elif kind == "down_end":
                self._mark_down_dead(value)
            elif kind == "silent":  # run() fails the call
                return
            else:  # "gone": the caller cancelled or vanished; nobody to ack
                log.info("write of block %s: caller went away (%s)", self._block, value)
                return

    # -- events --------------------------------------------------------------------

    def _pump(self, requests: Iterator[dt.WritePacket]) -> None:
        try:
            iterator = iter(requests)
            while not self._closed.is_set():
                if not self._window.acquire(timeout=0.5):
                    continue
                try:
                    packet = next(iterator)
                except StopIteration:
                    self._events.put(("eof", None))
                    return
                self._events.put(("packet", packet))
        except Exception as e:  # the call was cancelled or broke
            self._events.put(("gone", type(e).__name__))

    def _on_rpc_done(self) -> None:
        self._closed.set()
        self._events.put(("gone", "call ended"))

    def _next_event(self) -> tuple[str, Any] | None:
        """The next event, or None after marking a silent downstream dead. A caller
        that stays silent past ``idle_s`` fails the call."""
        now = time.monotonic()
        deadlines = []
        waiting_down = bool(
            self._down_n and self._pending and not self._down_dead and not self._down_acks
        )
        if waiting_down:
            head = self._pending[0]
            deadlines.append(head.at + (self._t.connect_s if head.seqno == 0 else self._t.ack_s))
        idle_deadline = self._activity + self._t.idle_s
        caller_owes = not self._input_done and not self._pending  # else we owe it an ack
        if caller_owes:
            deadlines.append(idle_deadline)
        timeout = max(0.0, min(deadlines) - now) if deadlines else 1.0
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            pass
        now = time.monotonic()
        if waiting_down and now >= deadlines[0]:
            limit = self._t.connect_s if self._pending[0].seqno == 0 else self._t.ack_s
            self._mark_down_dead(f"sent no ack within {limit:g} s")
        elif caller_owes and now >= idle_deadline:
            self._silent = f"write of block {self._block}: caller silent for {self._t.idle_s:g} s"
            log.warning("%s", self._silent)
            return ("silent", None)
        return None

    def _mark_down_dead(self, reason: str) -> None:
        if not self._down_dead and not self._done:
            assert self._down is not None
            self._down_dead = reason
            log.warning(
                "write of block %s: downstream %s %s", self._block, self._down.address, reason
            )
            self._down.close()

    # -- header and packets --------------------------------------------------------

    def _on_header(self, message: dt.WritePacket) -> dt.WriteAck | None:
        """Open the replica and the downstream link; an ack only if that failed."""
        self._window.release()
        header = message.header
        self._down_n = len(header.targets)
        self._pool_name = header.block_pool
        self._block = f"{header.block_pool}:{header.block.block_id}_{header.block.gen_stamp}"
        self._replication = header.stage == dt.REPLICATION
        if not message.HasField("header") or message.seqno != 0:
            return self._refuse(ERROR, "the first message must be the header, seqno 0")
        try:
            self._writer = self._open_replica(header)
        except HafsError as e:
            log.info("write of block %s refused: %s", self._block, e)
            return self._refuse(ack_status(e), str(e))
        except OSError as e:
            log.warning("write of block %s: cannot open the replica: %s", self._block, e)
            return self._refuse(ERROR, str(e))
        if self._down_n:
            forwarded = dt.WritePacket()
            forwarded.CopyFrom(message)
            del forwarded.header.targets[0]
            self._down = Downstream(
                header.targets[0].address,
                forwarded,
                self._events,
                self._t.window,
                self._options,
            )
        self._pending.append(_Pending(0, SUCCESS, "", False, time.monotonic()))
        return None

    def _refuse(self, status: int, message: str) -> dt.WriteAck:
        return dt.WriteAck(seqno=0, statuses=[status] + [ERROR] * self._down_n, message=message)

    def _on_packet(self, packet: dt.WritePacket) -> None:
        self._window.release()
        now = time.monotonic()
        self._activity = now
        if packet.HasField("header") or packet.seqno != self._expected:
            self._fail_local(packet, ERROR, f"expected packet {self._expected}, got {packet.seqno}")
            return
        self._expected += 1
        down = self._down
        if down is not None and not self._down_dead and not down.send(packet, self._t.ack_s):
            self._mark_down_dead(f"accepted no packet within {self._t.ack_s:g} s")
        try:
            if packet.data:
                self._writer.write(packet.offset, packet.data, packet.checksums)
            if packet.sync or packet.last:
                self._writer.sync()
        except (HafsError, OSError) as e:
            self._fail_local(packet, ack_status(e), str(e))
            return
        self._pending.append(_Pending(packet.seqno, SUCCESS, "", packet.last, now))
        if packet.last:
            self._input_done = True

    def _fail_local(self, packet: dt.WritePacket, status: int, message: str) -> None:
        log.warning("write of block %s: packet %d refused: %s", self._block, packet.seqno, message)
        self._discard = True
        self._input_done = True
        self._pending.append(_Pending(packet.seqno, status, message, False, time.monotonic()))

    # -- acks ----------------------------------------------------------------------

    def _ready(self) -> list[dt.WriteAck]:
        out = []
        while self._pending and not self._done:
            head = self._pending[0]
            down = self._downstream_statuses(head.seqno)
            if down is None:
                break
            down_statuses, down_message = down
            mine, message = head.status, head.message
            if head.last and mine == SUCCESS and all(s == SUCCESS for s in down_statuses):
                mine, message = self._finalize()
            ok = mine == SUCCESS and all(s == SUCCESS for s in down_statuses)
            out.append(
                dt.WriteAck(
                    seqno=head.seqno,
                    statuses=[mine, *down_statuses],
                    message=message if mine != SUCCESS else down_message,
                )
            )
            self._pending.popleft()
            if not ok or head.last:
                self._done = True
                if not ok and head.seqno == 0:
                    self._discard = True  # the pipeline never formed: the writer starts over
        return out

    def _downstream_statuses(self, seqno: int) -> tuple[list[int], str] | None:
        n = self._down_n
        if not n:
            return [], ""
        if self._down_acks:
            ack = self._down_acks.popleft()
            if ack.seqno != seqno:
                return [ERROR] * n, f"{self._down.address} acked {ack.seqno}, expected {seqno}"
            statuses = list(ack.statuses)[:n]
            return statuses + [ERROR] * (n - len(statuses)), ack.message
        if self._down_dead:
            return [ERROR] * n, f"{self._down.address} {self._down_dead}"
        return None

    def _finalize(self) -> tuple[int, str]:
        try:
            info = self._writer.finalize()
        except (HafsError, OSError) as e:
            log.warning("write of block %s: cannot finalize: %s", self._block, e)
            return ack_status(e), str(e)
        self._finalized = True
        log.debug("block %s finalized, %d bytes", self._block, info.num_bytes)
        self._on_finalized(self._pool_name, info)
        return SUCCESS, ""

    def _close(self) -> None:
        self._closed.set()
        if self._down is not None:
            self._down.close()
        if self._writer is not None and not self._finalized:
            release(self._writer, keep=not (self._discard or self._replication))
