"""What the chaos run checks against the cluster itself, after (and while) faults run.

- ``read_replicas``: every replica of every block of a file, read from its own
  DataNode through ``ReadBlock``, must hold the same bytes, and the file made
  of them must have the sha256 that was written. A replica that fails its
  checksum is reported to the NameNode (as a reader would) and counted.
- ``wait_healthy``: fsck until no block is under-replicated, missing or corrupt.
- ``CorruptionWatch``: for every replica the nemesis corrupted, watches the
  disks and records when the corrupt file goes and how many good copies of the
  block (same sha256 as before the flip) exist on other DataNodes at that
  moment: a corrupt replica may be deleted only after a good copy exists.
- ``HealthSampler``: fsck every second while the run goes on: repair episodes,
  and when the cluster was first healthy after the heal.
- ``PrefixSampler``: each NameNode's (applied index, log digest) sampled during
  the run and once all have converged at the end, for ``check_prefix``.

Imports: the standard library, grpc, ``client``, ``hafs_api`` and ``chaos``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from chaos.checkers import Verdict, check_prefix
from chaos.cluster import LocalCluster
from chaos.faults import Corruption, finalized_replicas
from client import Client
from client.reader import locate
from hafs_api.errors import HafsError
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import namenode_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class ReplicaReport:
    """What reading every replica of some files found."""

    files: int = 0
    bytes: int = 0  # bytes read, every replica counted
    replicas: int = 0
    corrupt: list[str] = field(default_factory=list)  # replicas failing their checksum
    problems: list[str] = field(default_factory=list)  # wrong content, unreadable, missing

    def add(self, other: ReplicaReport) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.replicas += other.replicas
        self.corrupt += other.corrupt
        self.problems += other.problems


def read_replicas(client: Client, path: str, sha: str) -> ReplicaReport:
    """Read every replica of ``path``; its content must hash to ``sha``."""
    report = ReplicaReport(files=1)
    dp = client._data_path(path)
    try:
        located = locate(dp, path)
    except HafsError as e:
        report.problems.append(f"{path}: cannot locate: {type(e).__name__}: {e}")
        return report
    whole = hashlib.sha256()
    for blk in located.blocks:
        contents: dict[str, bytes] = {}
        for node in blk.locations:
            try:
                data = _read_block(dp, blk, node)
            except HafsError as e:
                name = f"{path} blk_{blk.block.block_id} on {node.datanode_id}"
                if type(e).__name__ == "ChecksumMismatch":
                    report.corrupt.append(name)
                    _report_bad(dp, blk, node)
                else:
                    report.problems.append(f"{name}: {type(e).__name__}: {e}")
                continue
            report.replicas += 1
            report.bytes += len(data)
            contents[node.datanode_id] = data
        digests = {dn: hashlib.sha256(d).hexdigest() for dn, d in contents.items()}
        if len(set(digests.values())) > 1:
            report.problems.append(
                f"{path} blk_{blk.block.block_id}: replicas differ: "
                + ", ".join(f"{dn}={d[:12]}" for dn, d in sorted(digests.items()))
            )
        if not contents:
            report.problems.append(f"{path} blk_{blk.block.block_id}: no replica could be read")
            return report
        whole.update(next(iter(contents.values())))
    if whole.hexdigest() != sha:
        report.problems.append(
            f"{path}: read back sha256 {whole.hexdigest()[:16]}, wrote {sha[:16]}"
        )
    return report


def _read_block(dp, blk: common_pb2.LocatedBlock, node: common_pb2.DatanodeInfo) -> bytes:
    request = dt.ReadBlockRequest(
        block_pool=blk.block_pool or dp.block_pool,
        block=common_pb2.Block(block_id=blk.block.block_id, gen_stamp=blk.block.gen_stamp),
        offset=0,
        length=blk.block.num_bytes,
        access_token=blk.access_token,
        client_name=dp.client_name,
    )
    timeout = dp.datanodes.timeout + blk.block.num_bytes / (1 << 20)
    chunks = dp.datanodes.read_block(node.address, request, timeout)
    try:
        return b"".join(bytes(chunk.data) for chunk in chunks)
    finally:
        chunks.cancel()


def _report_bad(dp, blk: common_pb2.LocatedBlock, node: common_pb2.DatanodeInfo) -> None:
    replica = pb.BadReplica(block=blk.block, datanode_id=node.datanode_id)
    try:
        dp.namenode.call(
            "ReportBadBlocks", pb.ReportBadBlocksRequest(replicas=[replica]), mutation=True
        )
    except HafsError as e:
        log.warning("could not report a corrupt replica: %s", e)


class Poller:
    """A daemon thread calling ``poll_once()`` every ``poll`` s until ``stop()``; a poll that
    raises is logged and the next one goes on. ``start()`` returns the poller."""

    name = "poller"

    def __init__(self, poll: float) -> None:
        self.poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.poll_once()
            except Exception:
                log.exception("%s", self.name)

    def poll_once(self) -> None:
        raise NotImplementedError


def wait_healthy(client: Client, timeout: float, poll: float = 0.5) -> tuple[float | None, dict]:
    """Seconds until fsck of ``/`` shows no under-replicated, missing or corrupt block
    (None if not within ``timeout``), and the last fsck's counts."""
    start = time.monotonic()
    last: dict = {}
    while True:
        try:
            report = client.fsck("/")
            last = {
                "blocks": report.blocks,
                "under_replicated": report.under_replicated,
                "missing": report.missing,
                "corrupt": report.corrupt,
                "open_for_write": report.open_for_write,
                "datanodes": report.datanodes,
            }
            if not (report.under_replicated or report.missing or report.corrupt):
                return time.monotonic() - start, last
        except HafsError as e:
            last = {**last, "error": f"{type(e).__name__}: {e}"}
        if time.monotonic() - start > timeout:
            return None, last
        time.sleep(poll)


class HealthSampler(Poller):
    """fsck every ``poll`` s: episodes with under-replicated, missing or corrupt blocks and
    how long each took to repair (the re-replication times of the report)."""

    name = "health-sampler"

    def __init__(self, client: Client, poll: float = 1.0) -> None:
        super().__init__(poll)
        self.client = client
        self.episodes: list[tuple[float, float | None, int]] = []  # start, end, worst count
        self.samples: list[tuple[float, int]] = []  # (time.monotonic(), blocks not healthy)
        self._open: tuple[float, int] | None = None  # the episode going on: start, worst

    def poll_once(self) -> None:
        try:
            report = self.client.fsck("/")
        except HafsError:
            return
        bad = report.under_replicated + report.corrupt + report.missing
        now = time.monotonic()
        self.samples.append((now, bad))
        if bad:
            start, worst = self._open or (now, 0)
            self._open = (start, max(worst, bad))
        elif self._open is not None:
            self.episodes.append((self._open[0], now, self._open[1]))
            self._open = None

    def stop(self) -> None:
        super().stop()
        if self._open is not None:
            self.episodes.append((self._open[0], None, self._open[1]))
            self._open = None

    def first_healthy_after(self, start: float) -> float | None:
        """The first sample at or after ``start`` with every block healthy."""
        return next((t for t, bad in list(self.samples) if t >= start and not bad), None)

    def repair_times(self) -> list[float]:
        return [round(end - start, 2) for start, end, _ in self.episodes if end is not None]


# -- corrupt replicas ---------------------------------------------------------------------


@dataclass
class Removal:
    corruption: Corruption
    at: float  # time.time() the corrupt file was seen gone
    good_copies: int  # good copies on other DataNodes at that moment


class CorruptionWatch(Poller):
    """Polls the disks for the corrupted replicas the nemesis records in ``corruptions``."""

    name = "corruption-watch"

    def __init__(self, cluster: LocalCluster, corruptions: list[Corruption], poll: float = 0.1):
        super().__init__(poll)
        self.cluster = cluster
        self.corruptions = corruptions
        self.removals: dict[str, Removal] = {}  # keyed by the corrupt file's path

    def stop(self) -> None:
        super().stop()
        self.poll_once()

    def poll_once(self) -> None:
        for c in list(self.corruptions):
            if str(c.path) in self.removals or c.path.exists():
                continue
            good = self.good_copies(c)
            self.removals[str(c.path)] = Removal(c, time.time(), good)
            log.info("corrupt replica %s removed; %d good copies elsewhere", c.path, good)

    def good_copies(self, c: Corruption) -> int:
        count = 0
        for dn in self.cluster.datanode_nodes:
            if dn.node_id == c.datanode:
                continue
            for path in finalized_replicas(self.cluster.base_dir / dn.node_id):
                if path.name.split("_")[1] != str(c.block_id):
                    continue
                try:
                    if hashlib.sha256(path.read_bytes()).hexdigest() == c.good_sha:
                        count += 1
                except OSError:
                    continue
        return count

    def verdict(self) -> Verdict:
        early = [r for r in self.removals.values() if r.good_copies < 1]
        left = [c for c in self.corruptions if str(c.path) not in self.removals]
        details = {
            "corrupted": len(self.corruptions),
            "removed": len(self.removals),
            "removed_without_good_copy": [str(r.corruption.path) for r in early],
            "never_removed": [str(c.path) for c in left],
            "seconds_to_removal": sorted(
                round(r.at - r.corruption.at, 2) for r in self.removals.values()
            ),
        }
        excerpt = [
            f"{r.corruption.datanode} blk_{r.corruption.block_id} removed with no good copy"
            for r in early
        ] + [f"{c.datanode} blk_{c.block_id}: corrupt replica still on disk" for c in left]
        if early or left:
            summary = (
                f"{len(early)} corrupt replicas removed before a good copy existed, "
                f"{len(left)} never removed, of {len(self.corruptions)}"
            )
            return Verdict("corrupt-replicas", False, summary, excerpt[:10], details)
        summary = (
            f"{len(self.corruptions)} corrupt replicas, each removed only with a good copy "
            "elsewhere"
        )
        return Verdict("corrupt-replicas", True, summary, [], details)


# -- applied prefix -----------------------------------------------------------------------


def log_position(address: str, timeout: float = 1.0) -> tuple[int, int] | None:
    """A NameNode's (state index, log digest), or None when it does not answer."""
    with grpc.insecure_channel(address) as channel:
        try:
            status = admin_pb2_grpc.HaAdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return None
    return status.state_index, status.log_digest


class PrefixSampler(Poller):
    """Samples every NameNode's (index, digest) every ``poll`` s while the run goes on."""

    name = "prefix-sampler"

    def __init__(self, cluster: LocalCluster, poll: float = 0.5) -> None:
        super().__init__(poll)
        self.cluster = cluster
        self.samples: dict[str, dict[str, set[tuple[int, str]]]] = defaultdict(
            lambda: defaultdict(set)
        )  # nameservice -> node -> {(index, digest)}

    def poll_once(self) -> None:
        self.sample()

    def sample(self) -> dict[str, tuple[int, int]]:
        seen = {}
        for node in self.cluster.namenode_nodes:
            if not node.alive:
                continue
            pos = log_position(node.address)
            if pos is not None:
                seen[node.node_id] = pos
                self.samples[node.nameservice][node.node_id].add((pos[0], f"{pos[1]:016x}"))
        return seen

    def converge(self, timeout: float) -> bool:
        """Sample until, in every nameservice, every NameNode reports one index (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.sample()
            groups: dict[str, set[int]] = defaultdict(set)
            for node in self.cluster.namenode_nodes:
                groups[node.nameservice].add(seen.get(node.node_id, (-1, 0))[0])
            if all(len(ix) == 1 and -1 not in ix for ix in groups.values()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def verdict(self, converged: bool) -> Verdict:
        parts = [check_prefix(self.samples[ns]) for ns in sorted(self.samples)]
        ok = converged and all(v.ok for v in parts) and bool(parts)
        names = sorted(self.samples)
        summary = "; ".join(f"{ns}: {v.summary}" for ns, v in zip(names, parts, strict=True))
        if not converged:
            summary = f"replicas did not reach one applied index; {summary}"
        excerpt = [line for v in parts for line in v.excerpt][:10]
        details = {ns: v.details for ns, v in zip(names, parts, strict=True)}
        return Verdict("prefix", ok, summary or "no samples", excerpt, details)


def read_state_logs(cluster: LocalCluster) -> list[Path]:
    """Every NameNode's ``raft-states.log``."""
    found = []
    for node in cluster.namenode_nodes:
        found += sorted((cluster.base_dir / node.node_id).glob("**/raft-states.log"))
    return found
