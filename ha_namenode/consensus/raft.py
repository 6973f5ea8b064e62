"""Raft consensus through pysyncobj: the only code that imports pysyncobj.

``RaftConsensus`` implements ``base.Consensus`` for a nameservice of several
NameNodes (ARCHITECTURE §3 lists the pysyncobj facts this code is built on):

- **One replicated entry point.** ``_Replica.apply_entry(payload)`` carries one
  encoded batch of envelopes (``namespace.codec``). It learns its log index
  from ``raftLastApplied + 1``, which makes apply idempotent per index.
  Nothing escapes it: the state machine turns errors into results, and a
  failure of the store stops the process (fail-stop), because a replica that
  skipped an entry must not go on.
- **Group commit.** One proposer thread packs every queued proposal (up to
  ``max_batch``) into one log entry, with at most ``max_inflight`` entries
  outstanding. Under load, batches grow by themselves.
- **Linearizable reads.** ``read_barrier`` rides on the next batch: the batch
  commits in the leader's current term and is applied here before the read
  runs. A deposed or paused old leader cannot commit it, so it never answers
  with stale data. Concurrent reads share a batch.
- **Snapshots without blocking the tick thread.** The serializer only records
  pysyncobj's log position and starts ``write_dump`` (``VACUUM INTO`` from its
  own read snapshot) on a thread. It writes nothing at the temporary path, so
  pysyncobj's immediate rename of that path fails (silently, in 0.3.17), and
  ``serializeChecker`` reports SERIALIZING until the dump is complete and
  atomically in place. Only then does pysyncobj drop journal entries.
- **Durability.** ``SyncedJournal`` msyncs pysyncobj's journal after every
  append and fsyncs the term and vote, which pysyncobj itself never does.
- **Security.** ``password`` is always set. Without it, pysyncobj unpickles
  network input. Messages are sealed with AES-GCM (``consensus.cipher``), not
  pysyncobj's slower Fernet.
- **Membership and transfer.** ``add_member``/``remove_member`` propose
  pysyncobj's own membership entries, one server at a time. The proposed node
  carries ``node_id`` and ``rpc_address``, so every replica learns them when it
  applies or replays the entry, and dumps record them (``membership``).
  ``transfer_leadership`` holds the proposer meanwhile, so the target's log is as
  long as the leader's when it campaigns.
- **Metrics.** ``on_proposal(seconds)`` hears, on the tick thread, how long each
  committed write took from ``propose`` to its result; ``status()`` counts the
  times this replica became leader (``leader_changes``), so that the sum over a
  group is its number of leader changes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated
from pysyncobj import journal as pysyncobj_journal
from pysyncobj import syncobj as pysyncobj_syncobj
from pysyncobj.config import SERIALIZER_STATE
from pysyncobj.node import TCPNode

from ha_namenode.consensus import membership
from ha_namenode.consensus.appendguard import AppendGuard, conflict_cut, guard_append
from ha_namenode.consensus.base import ConsensusStatus, Member, RaftSettings
from ha_namenode.consensus.cipher import RaftCipher
from ha_namenode.consensus.statelog import FILE_NAME as STATE_LOG
from ha_namenode.consensus.statelog import StateLog
from ha_namenode.namespace import codec
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.commands import Envelope
from ha_namenode.persistence import SqlStore, read_dump, write_dump
from hafs_api.errors import InvalidArgument, NotLeader, Unavailable

log = logging.getLogger(__name__)
_STATES = {0: "standby", 1: "candidate", 2: "active"}  # pysyncobj's _RAFT_STATE
_ROLES = {0: "follower", 1: "candidate", 2: "leader"}  # as the state log names them


_ADMIN_TIMEOUT = 10.0  # seconds a transfer or membership change may take to commit
_ELECTION_WAIT = 5.0  # seconds a transfer's target may take to win its election


class StartupError(RuntimeError):
    """A file the replica needs is unreadable; the message names it."""


@dataclass(frozen=True, slots=True)
class Peer:
    node_id: str
    raft_address: str  # host:port of the Raft transport
    rpc_address: str  # host:port of the client gRPC service


class _SyncedMeta(pysyncobj_journal.MetaStorer):
    """The term and vote, fsynced before pysyncobj acts on them (Raft requires it);
    pysyncobj only renames its file."""

    def storeMeta(self, meta):
        path = Path(self.getPath())
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(pysyncobj_journal.dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SyncedJournal(pysyncobj_journal.FileJournal):
    """pysyncobj's file journal, msync'd after every append (so an entry a replica
    acknowledges is on disk) and once after a compaction rewrites it.

    The sync is pysyncobj's ``mmap.flush``, which holds the GIL through the disk wait,
    and that is deliberate. ``os.fdatasync`` of the file writes back the same pages and
    lets the RPC threads run meanwhile, but then the tick thread must win the GIL back
    after every sync; under a load of 64 clients on two cores it lost it for long
    enough that the leader heard no follower for ``leader_fallback_timeout_s`` and
    stepped down (3 to 5 times per benchmark round, measured; none with ``mmap.flush``).
    Raft's liveness depends on this thread, the RPCs' throughput does not."""

    def __init__(self, path: str) -> None:
        self._bulk = False
        self.flushes = 0
        super().__init__(path)
        # pysyncobj keeps the term/vote storer privately; replace it with the fsyncing one.
        self._FileJournal__metaStorer = _SyncedMeta(path + ".meta")

    def add(self, command, idx, term):
        super().add(command, idx, term)
        if not self._bulk:
            self._sync()

    def deleteEntriesTo(self, entryTo):
        self._bulk = True
        try:
            super().deleteEntriesTo(entryTo)  # clear() and add() of every entry kept
        finally:
            self._bulk = False
        self._sync()

    def deleteEntriesFrom(self, entryFrom):
        super().deleteEntriesFrom(entryFrom)
        self._sync()

    def _sync(self) -> None:
        self.flush()
        self.flushes += 1


def _create_journal(path: str | None):
    return pysyncobj_journal.MemoryJournal() if path is None else SyncedJournal(path)


# SyncObj looks createJournal and getEncryptor up when it is built; this adapter is
# pysyncobj's only user. The cipher: AES-GCM in place of Fernet (consensus.cipher).
pysyncobj_syncobj.createJournal = _create_journal
pysyncobj_syncobj.getEncryptor = RaftCipher.from_password


class _Replica(SyncObj):
    def __init__(self, owner: RaftConsensus, me: str, partners: list[str], conf: SyncObjConf):
        self._owner = owner
        self._guard = AppendGuard()
        super().__init__(me, partners, conf)

    # pysyncobj calls ``self.__onMessageReceived`` (name-mangled), so this overrides it:
    # every message from a peer passes here first, on the tick thread.
    def _SyncObj__onMessageReceived(self, node, message) -> None:
        appended = None
        if (
            isinstance(message, dict)
            and message.get("type") == "append_entries"
            and "prevLogIdx" in message
            and "transmission" not in message
        ):
            appended = self._guard_append(message)
            message = appended or message
        super()._SyncObj__onMessageReceived(node, message)
        if appended is not None:
            self._note_accepted(appended)

    def _guard_append(self, message: dict) -> dict | None:
        """``message`` with the entries it would wrongly truncate put back (appendguard)."""
        term = message.get("term", -1)
        if term < self._SyncObj__raftCurrentTerm:
            return None  # pysyncobj ignores it
        prev = message["prevLogIdx"]
        held = self._SyncObj__getEntries(prev, 1)
        cut = conflict_cut(
            prev,
            message.get("prevLogTerm"),
            held[0][2] if held else None,
            max(self._SyncObj__raftLastApplied, self._SyncObj__raftCommitIndex),
        )
        if cut is not None:
            self._cut_log(cut)
        new = list(message.get("entries", ()))
        existing = self._SyncObj__getEntries(prev + 1)
        kept = guard_append(prev, new, existing, self._guard.confirmed_for(term))
        if len(kept) > len(new):
            self._guard.kept += len(kept) - len(new)
            log.warning(
                "append_entries after %d would drop acknowledged entries %d..%d; kept",
                prev,
                kept[len(new)][1],
                kept[-1][1],
            )
        return {**message, "entries": kept}

    def _cut_log(self, start: int) -> None:
        """Delete this follower's entries from ``start`` on (they conflict with the leader's),
        undoing the membership changes among them, as pysyncobj does when it truncates."""
        dropped = self._SyncObj__getEntries(start)
        for entry in reversed(dropped):
            change = self._SyncObj__parseChangeClusterRequest(entry[0])
            if change is not None:
                self._SyncObj__doChangeCluster(change, reverse=True)
        self._SyncObj__deleteEntriesFrom(start)
        self._guard.cut += len(dropped)
        log.warning(
            "log entries %d..%d conflict with the leader's; deleted",
            start,
            start + len(dropped) - 1,
        )

    def _note_accepted(self, message: dict) -> None:
        """After pysyncobj handled it: did the log take the message's entries?"""
        entries = message.get("entries") or []
        last = entries[-1] if entries else None
        index = last[1] if last else message["prevLogIdx"]
        term = last[2] if last else message.get("prevLogTerm")
        held = self._SyncObj__getEntries(index, 1)
        if held and held[0][2] == term and self._SyncObj__raftCurrentTerm == message.get("term"):
            self._guard.accepted(message["term"], index)

    @replicated
    def apply_entry(self, payload: bytes):
        return self._owner._apply(self.raftLastApplied + 1, payload)


@dataclass
class _Pending:
    envelope: Envelope | None  # None: a read barrier
    future: Future
    started: float = 0.0  # time.monotonic() at propose


def _entry_to_plain(entry: tuple) -> list:
    command, index, term = entry
    return [base64.b64encode(command).decode(), index, term]


def _entry_from_plain(plain: list) -> tuple:
    return (base64.b64decode(plain[0]), int(plain[1]), int(plain[2]))


class RaftConsensus:
    def __init__(
        self,
        machine: StateMachine,
        store: SqlStore,
        me: Peer,
        peers: list[Peer],
        data_dir: Path,
        settings: RaftSettings,
        fail_stop: Callable[[str], None] | None = None,
        nameservice: str = "",
        on_proposal: Callable[[float], None] | None = None,
    ) -> None:
        if not settings.password:
            raise InvalidArgument(
                "a Raft password is required (pysyncobj unpickles "
                "network input from anyone who has it)"
            )
        self._sm = machine
        self._store = store
        self._me = me
        self._partners = [p.raft_address for p in peers if p.node_id != me.node_id]
        self._directory = membership.Directory([me, *peers])
        self._admin = threading.Lock()  # one transfer or membership change at a time
        self._tick_tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._tick_hooked = False
        self._data = Path(data_dir)
        self._dump = self._data / "raft.dump"
        self._journal = self._data / "raft.journal"
        self._states = StateLog(self._data / STATE_LOG, me.node_id, nameservice)
        self._settings = settings
        self._fail_stop = fail_stop or _exit_process
        self._on_proposal = on_proposal
        self._leader_changes = 0  # times this replica became leader (tick thread only)
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._inflight = threading.Semaphore(settings.max_inflight)
        self._outstanding: dict[int, list[_Pending]] = {}  # submitted, not yet answered
        self._outstanding_lock = threading.Lock()
        self._serializing = SERIALIZER_STATE.NOT_SERIALIZING
        self._replica: _Replica | None = None
        self._running = False
        self._proposer: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._data.mkdir(parents=True, exist_ok=True)
        check_journal(self._journal)
        if self._dump.exists():
            try:
                read_dump(self._dump)
            except ValueError as e:
                raise StartupError(f"cannot start from the Raft dump {self._dump}: {e}") from e
        t = self._settings
        conf = SyncObjConf(
            password=t.password,
            journalFile=str(self._journal),
            fullDumpFile=str(self._dump),
            serializer=self._serialize,
            deserializer=self._deserialize,
            serializeChecker=self._check_serializing,
            useFork=False,
            appendEntriesUseBatch=False,
            dynamicMembershipChange=True,
            onStateChanged=self._on_state_changed,
            raftMinTimeout=t.min_timeout_s,
            raftMaxTimeout=t.max_timeout_s,
            appendEntriesPeriod=t.append_entries_period_s,
            leaderFallbackTimeout=t.leader_fallback_timeout_s,
            connectionTimeout=t.connection_timeout_s,
            connectionRetryTime=t.connection_retry_time_s,
            logCompactionMinEntries=t.compaction_min_entries,
            logCompactionMinTime=t.compaction_min_time_s,
        )
        self._running = True
        self._replica = _Replica(self, self._me.raft_address, self._partners, conf)
        self._proposer = threading.Thread(target=self._propose_loop, name="proposer", daemon=True)
        self._proposer.start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._proposer is not None:
            self._proposer.join(timeout=5)
        if self._replica is not None:  # wait for the tick thread: stopped means stopped
            self._replica.destroy_synchronous()
        while True:
            try:
                self._queue.get_nowait().future.set_exception(NotLeader("the NameNode stopped"))
            except queue.Empty:
                break

    # ---- the Consensus interface ---------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._running and self._replica is not None and self._replica._isLeader()

    @property
    def term(self) -> int:
        """The current Raft term (a plain read of pysyncobj's field; no lock needed)."""
        replica = self._replica
        return replica._SyncObj__raftCurrentTerm if replica is not None else 0

    def leader_address(self) -> str:
        leader = self._replica._getLeader() if self._replica is not None else None
        peer = self._peer_of(leader) if leader else None
        return peer.rpc_address if peer else ""

    def propose(self, envelope: Envelope) -> Future:
        return self._enqueue(envelope)

    def read_barrier(self, timeout: float) -> None:
        try:
            self._enqueue(None).result(timeout)
        except FutureTimeout:
            raise Unavailable(
                "no read barrier committed in time; this NameNode may have lost its quorum"
            ) from None

    def _enqueue(self, envelope: Envelope | None) -> Future:
        """Queue a write, or a read barrier (None), for the proposer's next batch."""
        future: Future = Future()
        if not self.is_leader:
            future.set_exception(
                NotLeader("this NameNode is not the leader", leader_hint=self.leader_address())
            )
        else:
            self._queue.put(_Pending(envelope, future, time.monotonic()))
        return future

    def status(self) -> ConsensusStatus:
        replica = self._replica
        if replica is None:
            raise Unavailable("the Raft replica is not running")
        for attempt in range(3):  # getStatus iterates sets a membership change may resize
            try:
                st = replica.getStatus()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        leader = st.get("leader")
        leader_peer = self._peer_of(leader)
        me = self._me
        members = [Member(me.node_id, me.rpc_address, True, st["last_applied"], me.raft_address)]
        for peer in self._members()[1:]:
            key = peer.raft_address
            members.append(
                Member(
                    peer.node_id,
                    peer.rpc_address,
                    st.get(f"partner_node_status_server_{key}") == 2,
                    st.get(f"match_idx_server_{key}", 0),
                    key,
                )
            )
        return ConsensusStatus(
            node_id=self._me.node_id,
            state=_STATES.get(st["state"], "standby"),
            term=st["raft_term"],
            commit_index=st["commit_idx"],
            applied_index=st["last_applied"],
            leader_id=leader_peer.node_id if leader_peer else "",
            leader_address=leader_peer.rpc_address if leader_peer else "",
            members=tuple(members),
            leader_changes=self._leader_changes,
            leader_commit_index=st.get("leader_commit_idx") or 0,
        )

    def transfer_leadership(self, node_id: str) -> None:
        peer = next((p for p in self._members() if node_id and p.node_id == node_id), None)
        if peer is None:
            raise InvalidArgument(f"unknown NameNode {node_id!r} (members: {self._member_ids()})")
        if not self.is_leader:
            raise NotLeader(
                "only the leader can transfer leadership", leader_hint=self.leader_address()
            )
        if peer == self._me:
            return
        replica = self._replica
        assert replica is not None
        # The proposer is held for the transfer: with the leader's log still growing,
        # the target's log would be shorter than the leader's when it campaigns, and
        # the old leader would refuse it its vote. pysyncobj denies a target that is
        # not fully caught up, which the pause makes momentary: ask until it accepts.
        deadline = time.monotonic() + _ADMIN_TIMEOUT
        with self._admin, self._proposals_held(deadline):
            while True:
                error = self._call_on_tick(
                    lambda done: replica.transferLeadership(node=peer.raft_address, callback=done)
                )
                if error == FAIL_REASON.SUCCESS:
                    break
                if error == FAIL_REASON.NOT_LEADER:
                    raise NotLeader("leadership moved meanwhile", leader_hint=self.leader_address())
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"{node_id} did not catch up with the leader's log in "
                        f"{_ADMIN_TIMEOUT:.0f} s (or is not connected); leadership stays here"
                    )
                time.sleep(0.05)
            # Success means only that TimeoutNow was sent: wait for the election.
            elected_by = time.monotonic() + _ELECTION_WAIT
            while time.monotonic() < elected_by:
                leader = replica._getLeader()
                if leader is not None and leader.id == peer.raft_address:
                    log.info("leadership transferred to %s", node_id)
                    return
                time.sleep(0.02)
        leader = self._peer_of(replica._getLeader())
        raise Unavailable(
            f"{node_id} was asked to take over but did not become leader "
            f"(leader now: {leader.node_id if leader else 'none'})"
        )

    @contextmanager
    def _proposals_held(self, deadline: float) -> Iterator[None]:
        """Take every in-flight permit (so every batch in flight has been committed) and
        keep them, so the proposer submits nothing until the block ends."""
        taken = 0
        try:
            while taken < self._settings.max_inflight:
                if not self._inflight.acquire(timeout=max(deadline - time.monotonic(), 0)):
                    raise Unavailable("writes in flight did not commit in time; leadership stays")
                taken += 1
            yield
        finally:
            for _ in range(taken):
                self._inflight.release()

    # ---- membership: one server at a time, through pysyncobj's membership entries -----------

    def add_member(self, node_id: str, rpc_address: str, raft_address: str) -> bool:
        if not node_id:
            raise InvalidArgument("a NameNode id is required")
        for what, address in (("rpc address", rpc_address), ("raft address", raft_address)):
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise InvalidArgument(f"{what} must be HOST:PORT, got {address!r}")
        new = Peer(node_id, raft_address, rpc_address)
        self._require_leader("add a NameNode")
        with self._admin:
            members = self._members()
            if new in members:
                return False
            for m in members:
                if m.node_id == node_id:
                    raise InvalidArgument(
                        f"{node_id} is a member already (rpc {m.rpc_address}, raft "
                        f"{m.raft_address}); remove it first to change its addresses"
                    )
                if raft_address == m.raft_address or rpc_address == m.rpc_address:
                    raise InvalidArgument(
                        f"member {m.node_id} uses rpc {m.rpc_address}, raft "
                        f"{m.raft_address} already"
                    )
            reachable = self._reachable(members)
            problem = membership.quorum_problem("add", node_id, len(members) + 1, reachable)
            if problem:
                raise InvalidArgument(problem)
            self._directory.learn(new)
            self._change("add", new)
        return True

    def remove_member(self, node_id: str) -> bool:
        self._require_leader("remove a NameNode")
        with self._admin:
            members = self._members()
            peer = next((m for m in members if node_id and m.node_id == node_id), None)
            if peer is None:
                if node_id and self._directory.by_id(node_id) is not None:
                    return False  # a former member: removed already
                raise InvalidArgument(
                    f"unknown NameNode {node_id!r} (members: {self._member_ids()})"
                )
            if peer == self._me:
                raise InvalidArgument(
                    f"{node_id} is the leader and cannot remove itself; move leadership "
                    "first (hactl ha transfer --to ID), then remove it"
                )
            reachable = self._reachable(members) - (peer in self._connected())
            problem = membership.quorum_problem("remove", node_id, len(members) - 1, reachable)
            if problem:
                raise InvalidArgument(problem)
            self._change("rem", peer)
        return True

    def _require_leader(self, what: str) -> None:
        if not self.is_leader:
            raise NotLeader(f"only the leader can {what}", leader_hint=self.leader_address())

    def _members(self) -> list[Peer]:
        """The group as pysyncobj has it now: this NameNode first, then the others by id."""
        replica = self._replica
        others = [self._peer_of(n) for n in (replica.otherNodes if replica else ())]
        return [self._me, *sorted((p for p in others if p), key=lambda p: p.node_id)]

    def _member_ids(self) -> str:
        return ", ".join(p.node_id for p in self._members())

    def _peer_of(self, node) -> Peer | None:
        """Name a pysyncobj node: from the id and rpc address a membership entry put on
        it (learned for later), else from the directory; unknown: id and rpc are ""."""
        if node is None:
            return None
        raft_address = getattr(node, "id", str(node))
        node_id, rpc_address = getattr(node, "node_id", ""), getattr(node, "rpc_address", "")
        if node_id and rpc_address:
            peer = Peer(node_id, raft_address, rpc_address)
            if self._directory.by_raft(raft_address) != peer:
                self._directory.learn(peer)
            return peer
        return self._directory.by_raft(raft_address) or Peer("", raft_address, "")

    def _connected(self) -> set[Peer]:
        replica = self._replica
        if replica is None:
            return set()
        nodes = [n for n in replica.otherNodes if replica.isNodeConnected(n)]
        return {p for p in map(self._peer_of, nodes) if p is not None}

    def _reachable(self, members: list[Peer]) -> int:
        """Members the leader reaches now, itself included."""
        return 1 + len(self._connected() & set(members))

    def _change(self, kind: str, peer: Peer) -> None:
        """Propose one membership entry and wait for its commit; pysyncobj pickles the
        node (its own format, behind the password) with our id and rpc address on it."""
        replica = self._replica
        assert replica is not None
        node = TCPNode(peer.raft_address, node_id=peer.node_id, rpc_address=peer.rpc_address)
        done: Future = Future()
        callback = lambda res, err: _resolve(done, err)  # noqa: E731
        if kind == "add":
            replica.addNodeToCluster(node, callback=callback)
        else:
            replica.removeNodeFromCluster(node, callback=callback)
        verb = "adding" if kind == "add" else "removing"
        try:
            error = done.result(timeout=_ADMIN_TIMEOUT)
        except FutureTimeout:
            raise Unavailable(
                f"{verb} {peer.node_id} was not committed within {_ADMIN_TIMEOUT:.0f} s; "
                "its outcome is unknown (hactl ha status shows it; retrying is safe)"
            ) from None
        if error == FAIL_REASON.SUCCESS:
            log.info(
                "membership: %s %s (rpc %s, raft %s) committed",
                verb,
                peer.node_id,
                peer.rpc_address,
                peer.raft_address,
            )
            return
        if error in (FAIL_REASON.NOT_LEADER, FAIL_REASON.MISSING_LEADER):
            raise NotLeader("leadership moved meanwhile", leader_hint=self.leader_address())
        if error == FAIL_REASON.REQUEST_DENIED:
            raise Unavailable(
                f"the leader cannot start {verb} {peer.node_id} yet: the previous membership "
                "change or the leader's first entry of its term is not committed; retry"
            )
        raise Unavailable(
            f"{verb} {peer.node_id}: outcome unknown (Raft reason {error}); retrying is safe"
        )

    def _call_on_tick(self, start: Callable[[Callable], None]) -> int:
        """Run ``start(callback)`` on pysyncobj's tick thread; return its FAIL_REASON.

        pysyncobj is not thread-safe outside its command queue: ``transferLeadership``
        reads Raft state and writes to sockets, so it must run on the tick thread.
        """
        replica = self._replica
        assert replica is not None
        if not self._tick_hooked:
            replica.addOnTickCallback(self._run_tick_tasks)
            self._tick_hooked = True
        done: Future = Future()

        def task() -> None:
            try:
                start(lambda res, err: _resolve(done, err))
            except Exception as e:  # never into pysyncobj's tick loop
                done.set_exception(e)

        self._tick_tasks.put(task)
        try:
            return done.result(timeout=_ADMIN_TIMEOUT)
        except FutureTimeout:
            raise Unavailable("the Raft tick thread did not run the request") from None

    def _run_tick_tasks(self) -> None:
        while not self._tick_tasks.empty():
            self._tick_tasks.get_nowait()()

    # ---- the proposer (its own thread) ------------------------------------------------------

    def _propose_loop(self) -> None:
        while self._running:
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self._settings.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            while not self._inflight.acquire(timeout=0.1):
                if not self._running:
                    _fail_all(batch, NotLeader("the NameNode stopped"))
                    return
            self._submit(batch)

    def _submit(self, batch: list[_Pending]) -> None:
        writes = [p.envelope for p in batch if p.envelope is not None]
        try:
            payload = codec.encode_batch(writes)
        except Exception as e:  # an unencodable proposal fails alone
            log.exception("cannot encode a batch; failing it")
            self._inflight.release()
            _fail_all(batch, Unavailable(f"the proposal could not be encoded: {e}"))
            return
        replica = self._replica
        assert replica is not None
        with self._outstanding_lock:
            self._outstanding[id(batch)] = batch
        replica.apply_entry(payload, callback=lambda res, err: self._committed(batch, res, err))

    def _settle(self, batch: list[_Pending]) -> bool:
        """Take ``batch`` off the outstanding list; False if it was already answered."""
        with self._outstanding_lock:
            if self._outstanding.pop(id(batch), None) is None:
                return False
        self._inflight.release()
        return True

    def _on_state_changed(self, old: int, new: int) -> None:
        """On the tick thread. A leader that lost its role will never hear back about the
        entries it proposed: their outcome is unknown, so their callers must retry."""
        log.info("Raft state %s -> %s", _STATES.get(old, old), _STATES.get(new, new))
        self._states.record(self.term, _ROLES.get(new, str(new)))
        if new == 2 and old != 2:
            self._leader_changes += 1
        if old != 2 or new == 2:
            return
        with self._outstanding_lock:
            batches = list(self._outstanding.values())
        for batch in batches:
            if self._settle(batch):
                _fail_all(
                    batch,
                    Unavailable(
                        "leadership was lost before the write was "
                        "acknowledged; its outcome is unknown (retry "
                        "with the same call id)"
                    ),
                )

    def _committed(self, batch: list[_Pending], results, error) -> None:
        """pysyncobj's callback, on the tick thread: resolve futures, nothing slow."""
        if not self._settle(batch):
            return
        if error != FAIL_REASON.SUCCESS:
            if error == FAIL_REASON.NOT_LEADER:
                failure: Exception = NotLeader(
                    "this NameNode is not the leader", leader_hint=self.leader_address()
                )
            else:
                failure = Unavailable(
                    f"the write's outcome is unknown (Raft reason {error}); "
                    "retry with the same call id"
                )
            _fail_all(batch, failure)
            return
        writes = [p for p in batch if p.envelope is not None]
        if results is None or len(results) != len(writes):
            _fail_all(
                batch, Unavailable("the entry was applied before; retry with the same call id")
            )
            return
        for pending, result in zip(writes, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
        if self._on_proposal is not None:
            now = time.monotonic()
            for pending in writes:
                self._on_proposal(now - pending.started)
        for pending in batch:
            if pending.envelope is None and not pending.future.done():
                pending.future.set_result(None)

    # ---- apply and snapshots (the tick thread) -----------------------------------------------

    def _apply(self, index: int, payload: bytes):
        try:
            return self._sm.apply(index, payload)
        except BaseException as e:  # the store broke: this replica must not go on
            log.critical("cannot apply log entry %d: %s; stopping this NameNode", index, e)
            self._fail_stop(f"log entry {index} could not be applied: {e}")
            return None

    def _serialize(self, tmp_path: str, raft_tuple: tuple) -> None:
        last, prev, cluster = raft_tuple
        extra = json.dumps(
            {
                "last": _entry_to_plain(last),
                "prev": _entry_to_plain(prev),
                "cluster": sorted(getattr(n, "id", str(n)) for n in cluster),
                "members": membership.dump_entries(filter(None, map(self._peer_of, cluster))),
            }
        )
        Path(tmp_path).unlink(missing_ok=True)  # pysyncobj must find nothing to rename
        self._serializing = SERIALIZER_STATE.SERIALIZING
        threading.Thread(target=self._write_dump, args=(extra,), name="dump", daemon=True).start()

    def _write_dump(self, extra: str) -> None:
        try:
            write_dump(self._store, self._dump, extra)
            self._serializing = SERIALIZER_STATE.SUCCESS
        except Exception:
            log.exception("writing the Raft dump failed; the journal is kept")
            self._serializing = SERIALIZER_STATE.FAILED

    def _check_serializing(self) -> int:
        state = self._serializing
        if state in (SERIALIZER_STATE.SUCCESS, SERIALIZER_STATE.FAILED):
            self._serializing = SERIALIZER_STATE.NOT_SERIALIZING
        return state

    def _deserialize(self, path: str) -> tuple:
        index, extra = read_dump(Path(path))
        if index > self._store.applied_index():
            log.info(
                "installing the snapshot at index %d (state was at %d)",
                index,
                self._store.applied_index(),
            )
            self._store.restore(Path(path))
            self._sm.state_replaced()  # in-memory copies (the mount table) reload
        meta = json.loads(extra)
        known = membership.load_entries(meta.get("members"))
        cluster = {_tcp_node(address, known.get(address)) for address in meta["cluster"]}
        return (_entry_from_plain(meta["last"]), _entry_from_plain(meta["prev"]), cluster)

    def force_compaction(self) -> None:
        """Ask pysyncobj for a snapshot now (``hactl ha checkpoint``)."""
        if self._replica is not None:
            self._replica.forceLogCompaction()


def check_journal(path: Path) -> int:
    """Walk pysyncobj's journal file; return its entry count, or raise StartupError.

    pysyncobj reads its journal without checks: a truncated or overwritten file
    would crash it or, worse, load as a shorter log. Each record is
    ``len | index | term | command | len``, indexes consecutive.
    """
    if not path.exists():
        return 0
    j = pysyncobj_journal
    data = path.read_bytes()

    def bad(why: str) -> StartupError:
        return StartupError(f"the Raft journal {path} is damaged: {why}")

    if len(data) < j.FIRST_RECORD_OFFSET or not data.startswith(j.APP_NAME):
        raise bad("its header is missing")
    (version,) = struct.unpack_from("<I", data, j.NAME_SIZE + j.VERSION_SIZE)
    if version != j.JOURNAL_FORMAT_VERSION:
        raise bad(f"format version {version}, expected {j.JOURNAL_FORMAT_VERSION}")
    (end,) = struct.unpack_from("<I", data, j.LAST_RECORD_OFFSET_OFFSET)
    if not j.FIRST_RECORD_OFFSET <= end <= len(data):
        raise bad(f"its end offset {end} is outside the file ({len(data)} bytes)")
    offset, count, last_index = j.FIRST_RECORD_OFFSET, 0, None
    while offset < end:
        if offset + 4 > end:
            raise bad(f"a record at byte {offset} is cut short")
        (size,) = struct.unpack_from("<I", data, offset)
        if size < 16 or offset + size + 8 > end:
            raise bad(f"the record at byte {offset} has an impossible length {size}")
        (trailer,) = struct.unpack_from("<I", data, offset + 4 + size)
        if trailer != size:
            raise bad(f"the record at byte {offset} does not end where it says")
        index, _term = struct.unpack_from("<QQ", data, offset + 4)
        if last_index is not None and index != last_index + 1:
            raise bad(f"entry {index} follows entry {last_index}")
        last_index, count, offset = index, count + 1, offset + size + 8
    return count


def _tcp_node(raft_address: str, named: tuple[str, str] | None) -> TCPNode:
    if named is None:
        return TCPNode(raft_address)
    return TCPNode(raft_address, node_id=named[0], rpc_address=named[1])


def _resolve(future: Future, reason: int) -> None:
    if not future.done():
        future.set_result(reason)


def _fail_all(batch: list[_Pending], error: Exception) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)


def _exit_process(reason: str) -> None:
    logging.shutdown()
    os._exit(70)
