"""The DataNode protocol with one nameservice: find its leader, register, report, obey.

One ``Actor`` thread per nameservice (block pool), so a leaderless nameservice
never holds up another. The thread:

* finds the leader among the configured NameNodes: NOT_LEADER moves to the
  hinted address at once, UNAVAILABLE or a timeout rotates to the next one,
  with a short capped backoff; it never gives up and never crashes;
* registers, then sends a full block report (FINALIZED and RBW replicas), so a
  new leader always has a full report from every DataNode;
* heartbeats every ``heartbeat_interval_s`` with usage, active transfers, failed
  volumes and the highest term seen, and runs the commands in the answers; a
  command of an older term is refused; a newer term re-registers;
* sends queued incremental reports (received, corrupt, deleted) ``report_delay_s``
  after the first of a burst; reports a leader did not take are re-sent to the next;
* sends a full report every ``full_report_interval_s`` or when told to.

It logs one line per change of state (registered, lost leader, no leader yet).

Imports: grpc, ``hafs_api`` and the storage's pool interface (duck-typed).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from hafs_api.errors import HafsError, NotLeader
from hafs_api.status import from_rpc_error
from hafs_api.v1 import common_pb2, datanode_pb2, datanode_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt

log = logging.getLogger(__name__)
REPORTED_STATES = {"FINALIZED": dt.FINALIZED, "RBW": dt.RBW}
BACKOFF_START_S = 0.05
BACKOFF_CAP_S = 1.0


def replica_report(info: Any, state: int | None = None) -> datanode_pb2.ReplicaReport:
    block = common_pb2.Block(
        block_id=info.block_id, gen_stamp=info.gen_stamp, num_bytes=info.num_bytes
    )
    return datanode_pb2.ReplicaReport(block=block, state=state or REPORTED_STATES[info.state])


class Stopping(Exception):
    """The actor is stopping: no new calls."""


class Actor:
    """Talks to one nameservice's leader on its own thread; see the module docstring."""

    def __init__(
        self,
        nameservice: str,
        namenodes: Sequence[str],
        pool: Any,
        registration: Callable[[], datanode_pb2.DatanodeRegistration],
        heartbeat: Callable[[], dict[str, Any]],
        replicate: Callable[[str, datanode_pb2.ReplicateCommand], Any],
        *,
        heartbeat_interval_s: float = 1.0,
        full_report_interval_s: float = 3600.0,
        rpc_timeout_s: float = 5.0,
        report_delay_s: float = 0.05,
        on_heartbeat: Callable[[float], None] | None = None,
    ) -> None:
        self.nameservice = nameservice
        self._candidates = list(namenodes)
        self._pool = pool
        self._registration = registration
        self._heartbeat_fields = heartbeat  # storages, active_transfers, failed_volumes
        self._replicate = replicate
        self._interval = heartbeat_interval_s
        self._full_interval = full_report_interval_s
        self._timeout = rpc_timeout_s
        self._delay = report_delay_s
        self._on_heartbeat = on_heartbeat  # seconds a heartbeat call took (metrics)
        self._index = 0
        self._channels: dict[str, grpc.Channel] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards the queued reports and the channels
        self._received: list[datanode_pb2.ReplicaReport] = []
        self._deleted: list[common_pb2.Block] = []
        self._report_due: float | None = None
        self._registered: datanode_pb2.DatanodeRegistration | None = None
        self._registered_term = 0
        self._full_report_due = 0.0
        self._failures = 0
        self._searching_logged = False
        self.term = 0  # the highest leader term seen
        self.leader = ""  # the address registered with, "" while searching
        self.refused_commands = 0
        self._thread = threading.Thread(target=self._run, name=f"dn-actor-{nameservice}")

    # -- the public side (any thread) -------------------------------------------------

    @property
    def registered_with(self) -> str:
        """The leader's address this DataNode is registered with now; "" while it is not
        (searching, or registering again after a new term)."""
        return self.leader if self._registered is not None else ""

    def start(self) -> Actor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._close_channels()  # fails any call in flight at once
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def received(self, info: Any, corrupt: bool = False) -> None:
        """Queue an incremental report of a finalized (or corrupt) replica."""
        self._queue(received=replica_report(info, dt.CORRUPT if corrupt else dt.FINALIZED))

    def deleted(self, block: common_pb2.Block) -> None:
        self._queue(deleted=block)

    def _queue(self, received=None, deleted=None) -> None:
        with self._lock:
            if received is not None:
                self._received.append(received)
            if deleted is not None:
                self._deleted.append(deleted)
            if self._report_due is None:
                self._report_due = time.monotonic() + self._delay
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        next_heartbeat = 0.0
        while not self._stopping.is_set():
            try:
                if self._registered is None:
                    if not self._register():
                        continue
                    self._full_report_due = 0.0
                    next_heartbeat = 0.0
                now = time.monotonic()
                if now >= self._full_report_due:
                    self._full_report()
                if now >= next_heartbeat:
                    next_heartbeat = now + self._interval
                    self._heartbeat()
                with self._lock:
                    due = self._report_due
                if self._registered is not None and due is not None and time.monotonic() >= due:
                    self._incremental_report()
            except grpc.RpcError as e:
                if not self._stopping.is_set():
                    self._lost(from_rpc_error(e))
                continue
            except Stopping:
                break
            except Exception:  # a bug must not kill the actor: log it, start over
                log.exception("%s: unexpected error; registering again", self.nameservice)
                self._registered = None
                self._stopping.wait(BACKOFF_CAP_S)
                continue
            if self._registered is None:
                continue
            with self._lock:
                due = self._report_due
            wake_at = min(next_heartbeat, self._full_report_due, due or next_heartbeat)
            self._wake.wait(max(0.0, wake_at - time.monotonic()))
            self._wake.clear()
        self._close_channels()

    def _close_channels(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    def _stub(self, address: str) -> datanode_pb2_grpc.DatanodeNamenodeStub:
        with self._lock:
            if self._stopping.is_set():
                raise Stopping
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = grpc.insecure_channel(address)
        return datanode_pb2_grpc.DatanodeNamenodeStub(channel)

    @property
    def _address(self) -> str:
        return self._candidates[self._index]

    def _register(self) -> bool:
        address = self._address
        registration = self._registration()
        try:
            response = self._stub(address).Register(
                datanode_pb2.RegisterRequest(registration=registration), timeout=self._timeout
            )
        except grpc.RpcError as e:
            self._search_failed(address, from_rpc_error(e))
            return False
        if response.term < self.term:
            self._search_failed(
                address, NotLeader(f"answers with term {response.term}, below {self.term}")
            )
            return False
        again = self.leader == address
        self.term = response.term
        self._registered_term = response.term
        self._registered = registration
        self.leader = address
        self._failures = 0
        self._searching_logged = False
        log.info(
            "%s: %s with %s (term %d)",
            self.nameservice,
            "re-registered" if again else "registered",
            address,
            response.term,
        )
        return True

    def _search_failed(self, address: str, error: HafsError) -> None:
        hint = error.leader_hint if isinstance(error, NotLeader) else ""
        if not self._searching_logged:
            log.info("%s: no leader yet (%s: %s)", self.nameservice, address, error)
            self._searching_logged = True
        self._failures += 1
        if hint and hint != address:
            self._move_to(hint)
            if self._failures <= 2 * len(self._candidates):
                return  # follow a hint at once, unless hints go round in circles
        else:
            self._index = (self._index + 1) % len(self._candidates)
        backoff = min(BACKOFF_CAP_S, BACKOFF_START_S * 2 ** min(self._failures, 10))
        self._stopping.wait(backoff * random.uniform(0.5, 1.0))

    def _move_to(self, address: str) -> None:
        if address not in self._candidates:
            self._candidates.append(address)
        self._index = self._candidates.index(address)

    def _lost(self, error: HafsError) -> None:
        log.warning("%s: lost leader %s: %s", self.nameservice, self.leader, error)
        self._registered = None
        self.leader = ""
        if isinstance(error, NotLeader) and error.leader_hint:
            self._move_to(error.leader_hint)
        else:
            self._index = (self._index + 1) % len(self._candidates)

    # -- calls to the leader ------------------------------------------------------------

    def _observe(self, term: int) -> None:
        if term > self.term:
            self.term = term

    def _heartbeat(self) -> None:
        request = datanode_pb2.HeartbeatRequest(
            registration=self._registered, term=self.term, **self._heartbeat_fields()
        )
        started = time.monotonic()
        response = self._stub(self.leader).Heartbeat(request, timeout=self._timeout)
        if self._on_heartbeat is not None:
            self._on_heartbeat(time.monotonic() - started)
        self._observe(response.term)
        for command in response.commands:
            self._execute(command)
        if self.term > self._registered_term and self._registered is not None:
            log.info(
                "%s: term %d is newer than %d registered with; registering again",
                self.nameservice,
                self.term,
                self._registered_term,
            )
            self._registered = None

    def _execute(self, command: datanode_pb2.DatanodeCommand) -> None:
        kind = command.WhichOneof("command")
        if command.term < self.term:
            self.refused_commands += 1
            log.warning(
                "%s: refused a %s command of term %d (term %d seen)",
                self.nameservice,
                kind,
                command.term,
                self.term,
            )
            return
        self._observe(command.term)
        if kind == "replicate":
            self._replicate(self.nameservice, command.replicate)
        elif kind == "delete":
            self._delete(command.delete.blocks)
        elif kind == "reregister":
            self._registered = None
        elif kind == "full_report":
            self._full_report_due = 0.0

    def _delete(self, blocks: Sequence[common_pb2.Block]) -> None:
        removed = 0
        for block in blocks:
            try:
                removed += bool(self._pool.delete(block.block_id, block.gen_stamp))
            except (HafsError, OSError) as e:
                log.warning("%s: cannot delete block %d: %s", self.nameservice, block.block_id, e)
                continue
            self.deleted(block)
        log.info("%s: deleted %d of %d replicas as told", self.nameservice, removed, len(blocks))

    def _full_report(self) -> None:
        replicas = [
            replica_report(info) for info in self._pool.replicas() if info.state in REPORTED_STATES
        ]
        response = self._stub(self.leader).BlockReport(
            datanode_pb2.BlockReportRequest(registration=self._registered, replicas=replicas),
            timeout=max(self._timeout, 30.0),
        )
        self._observe(response.term)
        self._full_report_due = time.monotonic() + self._full_interval
        log.debug("%s: full report of %d replicas sent", self.nameservice, len(replicas))

    def _incremental_report(self) -> None:
        with self._lock:
            received, deleted = self._received, self._deleted
            self._received, self._deleted, self._report_due = [], [], None
        request = datanode_pb2.BlockReceivedAndDeletedRequest(
            registration=self._registered, received=received, deleted=deleted
        )
        try:
            response = self._stub(self.leader).BlockReceivedAndDeleted(
                request, timeout=self._timeout
            )
        except grpc.RpcError:
            with self._lock:  # keep them, oldest first, for the next leader
                self._received[:0] = received
                self._deleted[:0] = deleted
                self._report_due = time.monotonic()
            raise
        self._observe(response.term)
