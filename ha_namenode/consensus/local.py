"""A one-member consensus group: the single NameNode orders its own commands.

One apply thread takes proposals from a queue and group-commits them: every
proposal waiting when a batch starts (up to ``max_batch``) is applied in one
store transaction under the next log index, and their futures resolve after
the commit. With SQLite ``synchronous=FULL`` an acknowledged change is on disk.
A failure of the storage fails the whole batch (nothing of it applied) and
the node keeps serving reads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from ha_namenode.consensus.base import ConsensusStatus, Member
from ha_namenode.namespace import codec
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.commands import Envelope
from ha_namenode.namespace.store import StoreFailure
from hafs_api.errors import NotLeader, StorageFull, Unavailable, Unsupported

log = logging.getLogger(__name__)
_STOP = object()


class LocalConsensus:
    def __init__(
        self,
        state_machine: StateMachine,
        node_id: str,
        address: str,
        max_batch: int = 512,
        on_proposal: Callable[[float], None] | None = None,
    ) -> None:
        self._sm = state_machine
        self._node_id = node_id
        self._address = address
        self._max_batch = max_batch
        self._on_proposal = on_proposal  # seconds from propose to result, per committed write
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._running = False
        self.batches = 0  # applied log entries since start, for status and tests

    def advertise(self, address: str) -> None:
        """Set the client address reported as the leader's (known once the server binds)."""
        self._address = address

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="apply", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def term(self) -> int:
        return 1

    @property
    def is_leader(self) -> bool:
        return self._running

    def leader_address(self) -> str:
        return self._address

    def propose(self, envelope: Envelope) -> Future:
        future: Future = Future()
        if not self._running:
            future.set_exception(NotLeader("the NameNode is stopping"))
            return future
        self._queue.put((envelope, future, time.monotonic()))
        return future

    def read_barrier(self, timeout: float) -> None:
        # Every acknowledged write was committed before its future resolved.
        if not self._running:
            raise NotLeader("the NameNode is stopping")

    def status(self) -> ConsensusStatus:
        index = self._sm.store.applied_index()
        return ConsensusStatus(
            node_id=self._node_id,
            state="active" if self._running else "standby",
            term=1,
            commit_index=index,
            applied_index=index,
            leader_id=self._node_id,
            leader_address=self._address,
            members=(Member(self._node_id, self._address, True, index),),
            leader_changes=1 if self._running else 0,  # it leads from start to stop
            leader_commit_index=index,
        )

    def transfer_leadership(self, node_id: str) -> None:
        raise Unsupported(
            f"nameservice has a single NameNode ({self._node_id}); "
            "there is no other to transfer leadership to"
        )

    def add_member(self, node_id: str, rpc_address: str, raft_address: str) -> bool:
        raise Unsupported(
            f"nameservice has a single NameNode ({self._node_id}) and no Raft group; "
            "replicas can be added only to NameNodes started with [members] in their config"
        )

    def remove_member(self, node_id: str) -> bool:
        raise Unsupported(
            f"nameservice has a single NameNode ({self._node_id}) and no Raft group; "
            "there is no replica to remove"
        )

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(nxt)
            self._apply(batch)
        self._fail_pending()

    def _apply(self, batch: list[tuple[Envelope, Future, float]]) -> None:
        """Apply one batch as the next log entry; every future resolves, whatever happens."""
        index = self._sm.store.applied_index() + 1
        try:
            results = self._sm.apply(index, codec.encode_batch([item[0] for item in batch]))
        except StoreFailure as e:
            log.error("log entry %d not applied: %s", index, e)
            if e.disk_full:
                return _fail(batch, StorageFull(f"NameNode storage is full: {e}"))
            return _fail(batch, Unavailable(f"NameNode storage failed: {e}"))
        except Exception as e:  # a bug: fail the batch loudly, keep the node up
            log.exception("log entry %d not applied", index)
            return _fail(batch, Unavailable(f"apply failed: {type(e).__name__}"))
        if results is None:  # only another writer could have applied this index
            log.error("log entry %d was already applied; failing its batch", index)
            return _fail(batch, Unavailable("the write's log position was taken; retry"))
        self.batches += 1
        for (_, future, _), result in zip(batch, results, strict=True):
            future.set_result(result)
        if self._on_proposal is not None:
            now = time.monotonic()
            for _, _, started in batch:
                self._on_proposal(now - started)

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                item[1].set_exception(NotLeader("the NameNode stopped"))


def _fail(batch: list[tuple[Envelope, Future, float]], error: Exception) -> None:
    for _, future, _ in batch:
        future.set_exception(error)
