"""Faults, each an ``inject`` and a ``heal``, and the nemesis that schedules them by seed.

Every fault acts on the project's own processes, network namespaces and
tmpfs disks only (``Control``). The kinds:

    kill-leader            SIGKILL a nameservice's leader; heal: restart it
    kill-follower          SIGKILL one follower; heal: restart it
    kill-datanode          SIGKILL a DataNode; heal: restart it
    kill-group             SIGKILL every NameNode of a nameservice at once
    kill-during-election   SIGKILL the leader, then a follower as soon as a
                           candidate appears (the election in progress)
    pause-leader           SIGSTOP the leader; heal: SIGCONT
    pause-datanode         SIGSTOP a DataNode; heal: SIGCONT
    isolate-leader         the leader reaches no other node (clients still reach it)
    split                  majority/minority partition of the group (the leader on a
                           random side), DataNodes spread over both
    bridge                 two halves that talk only through one middle NameNode
    one-way-leader         the leader can send but receives nothing from its peers
    partition-datanode     a DataNode cut from the nameservice's leader
    partition-client       the clients (this process) cut from the leader
    corrupt-replica        a flipped byte in a finalized replica on disk (no heal:
                           the cluster must notice, re-replicate and delete it)
    full-disk              a DataNode's tmpfs filled to the last byte; heal: emptied

Partition kinds need a ``chaos.netns.Network`` and full-disk needs ``Disks``
(both root-only); without them those kinds are reported as unavailable, never
faked. ``plan(seed, kinds, count)`` is the deterministic order: shuffled rounds
in which every kind appears once, so a run of ``count >= len(kinds)`` faults
covers every kind. ``Nemesis.run`` injects, holds, heals and waits for the
cluster to have leaders again, one fault at a time, and returns ``FaultEvent``s
(wall-clock times, the clock of the NameNodes' state logs).

Imports: the standard library and ``chaos`` (cluster, netns, disks).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chaos.cluster import LocalCluster, NodeProcess, node_role, wait_serving
from chaos.disks import Disks
from chaos.netns import CLIENT, Network

log = logging.getLogger(__name__)

KILL_LEADER = "kill-leader"
KILL_FOLLOWER = "kill-follower"
KILL_DATANODE = "kill-datanode"
KILL_GROUP = "kill-group"
KILL_DURING_ELECTION = "kill-during-election"
PAUSE_LEADER = "pause-leader"
PAUSE_DATANODE = "pause-datanode"
ISOLATE_LEADER = "isolate-leader"
SPLIT = "split"
BRIDGE = "bridge"
ONE_WAY_LEADER = "one-way-leader"
PARTITION_DATANODE = "partition-datanode"
PARTITION_CLIENT = "partition-client"
CORRUPT_REPLICA = "corrupt-replica"
FULL_DISK = "full-disk"

NETWORK_KINDS = (
    ISOLATE_LEADER,
    SPLIT,
    BRIDGE,
    ONE_WAY_LEADER,
    PARTITION_DATANODE,
    PARTITION_CLIENT,
)
KINDS = (
    KILL_LEADER,
    KILL_FOLLOWER,
    KILL_DATANODE,
    KILL_GROUP,
    KILL_DURING_ELECTION,
    PAUSE_LEADER,
    PAUSE_DATANODE,
    *NETWORK_KINDS,
    CORRUPT_REPLICA,
    FULL_DISK,
)
# Seconds a fault is held before its heal: (min, max); a DataNode kill outlives the
# dead timeout so re-replication starts.
HOLD = {KILL_DATANODE: (6.0, 9.0), CORRUPT_REPLICA: (0.5, 1.0), FULL_DISK: (4.0, 7.0)}
DEFAULT_HOLD = (2.0, 5.0)


class FaultUnavailable(RuntimeError):
    """The fault cannot be injected now (no leader, no replica, no network...)."""


@dataclass
class FaultEvent:
    kind: str
    nameservice: str | None
    targets: list[str] = field(default_factory=list)
    detail: str = ""
    injected: float = 0.0  # time.time()
    healed: float | None = None
    leader_lost: bool = False
    skipped: str = ""  # why it was not injected

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Corruption:
    """One flipped byte: the replica file, and the sha256 of its good content."""

    datanode: str
    path: Path
    block_id: int
    good_sha: str
    at: float  # time.time()


@dataclass
class Control:
    """What faults act on: the cluster's processes, its network and its disks."""

    cluster: LocalCluster
    network: Network | None = None
    disks: Disks | None = None
    corruptions: list[Corruption] = field(default_factory=list)
    leader_timeout: float = 20.0

    def leader(self, ns: str | None) -> NodeProcess:
        try:
            return self.cluster.wait_leader(self.leader_timeout, ns)
        except TimeoutError as e:
            raise FaultUnavailable(str(e)) from None

    def followers(self, ns: str | None, leader: NodeProcess) -> list[NodeProcess]:
        return [n for n in self.cluster.namenode_nodes_of(ns) if n is not leader and n.alive]

    def live_datanodes(self) -> list[NodeProcess]:
        return [n for n in self.cluster.datanode_nodes if n.alive]

    def restart(self, nodes: list[NodeProcess], timeout: float = 30.0) -> None:
        """Start every node of ``nodes`` that is not running and wait until it serves."""
        for node in nodes:
            if node.state == "paused":
                node.signal(signal.SIGCONT)
            if not node.running:
                node.start()
        deadline = time.monotonic() + timeout
        for node in nodes:
            try:
                wait_serving(
                    node.address,
                    max(0.1, deadline - time.monotonic()),
                    alive=lambda n=node: n.running,
                )
            except (TimeoutError, RuntimeError) as e:
                log.error("%s did not come back: %s", node.node_id, e)
        self.cluster.save_state()

    def need_network(self) -> Network:
        if self.network is None:
            raise FaultUnavailable("needs network namespaces (root and ip netns)")
        return self.network


Heal = Callable[[], None]
Inject = Callable[[Control, FaultEvent, random.Random], Heal]


# -- processes ---------------------------------------------------------------------------


def _kill(ctl: Control, ev: FaultEvent, nodes: list[NodeProcess]) -> Heal:
    for node in nodes:
        node.kill()
    ev.targets = [n.node_id for n in nodes]
    return lambda: ctl.restart(nodes)


def kill_leader(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    leader = ctl.leader(ev.nameservice)
    ev.leader_lost = True
    return _kill(ctl, ev, [leader])


def kill_follower(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    followers = ctl.followers(ev.nameservice, ctl.leader(ev.nameservice))
    if not followers:
        raise FaultUnavailable("no live follower")
    return _kill(ctl, ev, [rng.choice(followers)])


def kill_datanode(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    live = ctl.live_datanodes()
    if len(live) < 2:
        raise FaultUnavailable("fewer than two live DataNodes")
    return _kill(ctl, ev, [rng.choice(live)])


def kill_group(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    ctl.leader(ev.nameservice)  # only a serving group is worth killing
    ev.leader_lost = True
    return _kill(ctl, ev, list(ctl.cluster.namenode_nodes_of(ev.nameservice)))


def kill_during_election(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    leader = ctl.leader(ev.nameservice)
    others = ctl.followers(ev.nameservice, leader)
    if not others:
        raise FaultUnavailable("no live follower")
    leader.kill()
    ev.leader_lost = True
    deadline = time.monotonic() + 3.0
    victim = None
    while victim is None and time.monotonic() < deadline:  # catch the election in progress
        for node in others:
            if node_role(node.address, timeout=0.3) == "candidate":
                victim = node
                break
        time.sleep(0.02)
    caught = victim is not None
    victim = victim or rng.choice(others)
    victim.kill()
    ev.targets = [leader.node_id, victim.node_id]
    ev.detail = "a candidate killed" if caught else "no candidate seen in 3 s; a follower killed"
    # The candidate comes back first, as a cluster would see a quick restart.
    victim_back = threading.Timer(1.0, lambda: ctl.restart([victim]))
    victim_back.start()

    def heal() -> None:
        victim_back.join()
        ctl.restart([victim, leader])

    return heal


def _pause(ctl: Control, ev: FaultEvent, node: NodeProcess) -> Heal:
    node.signal(signal.SIGSTOP)
    node.wait_state("paused", 2.0)
    ev.targets = [node.node_id]

    def heal() -> None:
        node.signal(signal.SIGCONT)
        node.wait_state("running", 2.0)

    return heal


def pause_leader(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    leader = ctl.leader(ev.nameservice)
    ev.leader_lost = True
    return _pause(ctl, ev, leader)


def pause_datanode(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    live = ctl.live_datanodes()
    if len(live) < 2:
        raise FaultUnavailable("fewer than two live DataNodes")
    return _pause(ctl, ev, rng.choice(live))


# -- network -----------------------------------------------------------------------------


def isolate_leader(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    net.isolate(leader.node_id)
    ev.targets, ev.leader_lost = [leader.node_id], True
    return net.heal


def split(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    group = ctl.cluster.namenode_nodes_of(ev.nameservice)
    names = [n.node_id for n in group]
    minority_size = (len(names) - 1) // 2
    if minority_size < 1:
        raise FaultUnavailable("a group of one cannot be split")
    leader_in_minority = rng.random() < 0.5
    rest = [n for n in names if n != leader.node_id]
    rng.shuffle(rest)
    if leader_in_minority:
        minority = [leader.node_id, *rest[: minority_size - 1]]
    else:
        minority = rest[:minority_size]
    majority = [n for n in names if n not in minority]
    for dn in ctl.cluster.datanode_nodes:
        (minority if rng.random() < 0.5 else majority).append(dn.node_id)
    net.partition([minority, majority])
    ev.targets = minority
    ev.detail = f"minority {','.join(minority)} | majority {','.join(majority)}"
    ev.leader_lost = leader_in_minority
    return net.heal


def bridge(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    names = [n.node_id for n in ctl.cluster.namenode_nodes_of(ev.nameservice)]
    if len(names) < 3:
        raise FaultUnavailable("a bridge needs three NameNodes")
    rest = [n for n in names if n != leader.node_id]
    rng.shuffle(rest)
    middle = rest.pop()
    half = (len(names) - 1) // 2
    a_side = [leader.node_id, *rest[: half - 1]]
    b_side = [n for n in rest if n not in a_side]
    net.bridge(a_side, b_side, middle)
    ev.targets = [middle]
    ev.detail = f"{','.join(a_side)} <- {middle} -> {','.join(b_side)}"
    return net.heal


def one_way_leader(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    for peer in ctl.followers(ev.nameservice, leader):
        net.one_way(peer.node_id, leader.node_id)
    ev.targets, ev.leader_lost = [leader.node_id], True
    ev.detail = "the leader sends, its peers' packets are dropped"
    return net.heal


def partition_datanode(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    live = ctl.live_datanodes()
    if not live:
        raise FaultUnavailable("no live DataNode")
    dn = rng.choice(live)
    net.partition([[dn.node_id], [leader.node_id]])
    ev.targets = [dn.node_id, leader.node_id]
    return net.heal


def partition_client(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    net = ctl.need_network()
    leader = ctl.leader(ev.nameservice)
    net.partition([[CLIENT], [leader.node_id]])
    ev.targets = [CLIENT, leader.node_id]
    return net.heal


# -- disks -------------------------------------------------------------------------------


def corrupt_replica(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    taken = {c.block_id for c in ctl.corruptions}
    candidates = []
    for dn in ctl.live_datanodes():
        for path in finalized_replicas(ctl.cluster.base_dir / dn.node_id):
            block_id = int(path.name.split("_")[1])
            if block_id not in taken and path.stat().st_size > 0:
                candidates.append((dn, path, block_id))
    if not candidates:
        raise FaultUnavailable("no finalized replica to corrupt")
    dn, path, block_id = rng.choice(sorted(candidates, key=lambda c: str(c[1])))
    data = path.read_bytes()
    if not data:
        raise FaultUnavailable(f"{path} is empty")
    offset = rng.randrange(len(data))
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([data[offset] ^ 0xFF]))
        f.flush()
        os.fsync(f.fileno())
    ctl.corruptions.append(
        Corruption(dn.node_id, path, block_id, hashlib.sha256(data).hexdigest(), time.time())
    )
    ev.targets = [dn.node_id]
    ev.detail = f"blk_{block_id} byte {offset} of {len(data)}"
    return lambda: None


def full_disk(ctl: Control, ev: FaultEvent, rng: random.Random) -> Heal:
    if ctl.disks is None:
        raise FaultUnavailable("needs a tmpfs disk per DataNode (root)")
    live = [dn for dn in ctl.live_datanodes() if dn.node_id in ctl.disks.mounted]
    if not live:
        raise FaultUnavailable("no live DataNode on its own disk")
    dn = rng.choice(live)
    filled = ctl.disks.fill(dn.node_id)
    ev.targets = [dn.node_id]
    ev.detail = f"{filled} bytes of ballast"
    return lambda: ctl.disks.empty(dn.node_id)


def finalized_replicas(data_dir: Path) -> list[Path]:
    """Block files (not ``.meta``) of finalized replicas under a DataNode's data dir."""
    found = []
    for path in data_dir.glob("**/finalized/**/blk_*"):
        if not path.name.endswith(".meta") and path.is_file():
            found.append(path)
    return found


INJECT: dict[str, Inject] = {
    KILL_LEADER: kill_leader,
    KILL_FOLLOWER: kill_follower,
    KILL_DATANODE: kill_datanode,
    KILL_GROUP: kill_group,
    KILL_DURING_ELECTION: kill_during_election,
    PAUSE_LEADER: pause_leader,
    PAUSE_DATANODE: pause_datanode,
    ISOLATE_LEADER: isolate_leader,
    SPLIT: split,
    BRIDGE: bridge,
    ONE_WAY_LEADER: one_way_leader,
    PARTITION_DATANODE: partition_datanode,
    PARTITION_CLIENT: partition_client,
    CORRUPT_REPLICA: corrupt_replica,
    FULL_DISK: full_disk,
}
assert set(INJECT) == set(KINDS)


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``--faults`` (comma-separated kinds, ``all``, or ``network``) as a tuple of kinds."""
    if not text or text == "all":
        return KINDS
    kinds: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        if word == "network":
            kinds += NETWORK_KINDS
        elif word in INJECT:
            kinds.append(word)
        else:
            raise ValueError(f"unknown fault {word!r} (known: all, network, {', '.join(KINDS)})")
    return tuple(dict.fromkeys(kinds))


def plan(seed: int, kinds: tuple[str, ...], count: int) -> list[str]:
    """The order of ``count`` faults: shuffled rounds, every kind once per round."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < count:
        round_ = list(kinds)
        rng.shuffle(round_)
        order += round_
    return order[:count]


@dataclass
class Nemesis:
    """Injects faults one at a time until ``deadline`` (``time.monotonic()``)."""

    ctl: Control
    kinds: tuple[str, ...]
    seed: int
    gap: tuple[float, float] = (1.0, 3.0)
    events: list[FaultEvent] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(
        self, deadline: float, *, min_faults: int = 0, hard_stop: float | None = None
    ) -> list[FaultEvent]:
        """Faults until ``deadline`` and until ``min_faults`` were injected (skipped ones do
        not count), but never past ``hard_stop`` (all ``time.monotonic()``)."""
        rng = random.Random(self.seed ^ 0x5EED)
        nameservices = self.ctl.cluster.nameservice_ids
        hard_stop = deadline if hard_stop is None else max(hard_stop, deadline)
        order = iter(plan(self.seed, self.kinds, 100_000))
        while not self.stop.is_set():
            now = time.monotonic()
            injected = sum(1 for e in self.events if not e.skipped)
            if now >= hard_stop or (now >= deadline and injected >= min_faults):
                break
            ev = FaultEvent(next(order), rng.choice(nameservices))
            self.events.append(ev)
            self.one(ev, rng)
            self.recover()
            self.stop.wait(rng.uniform(*self.gap))
        return self.events

    def one(self, ev: FaultEvent, rng: random.Random) -> None:
        ev.injected = time.time()
        try:
            heal = INJECT[ev.kind](self.ctl, ev, rng)
        except FaultUnavailable as e:
            ev.skipped = str(e)
            log.warning("fault %s skipped: %s", ev.kind, e)
            self.heal_all()
            return
        log.info("fault %s injected: %s %s", ev.kind, ",".join(ev.targets), ev.detail)
        self.stop.wait(rng.uniform(*HOLD.get(ev.kind, DEFAULT_HOLD)))
        try:
            heal()
        except Exception:
            log.exception("healing %s failed; healing everything", ev.kind)
            self.heal_all()
        ev.healed = time.time()
        log.info("fault %s healed", ev.kind)

    def recover(self, timeout: float = 30.0) -> None:
        """Until every nameservice has a leader again (bounded; a run goes on without)."""
        try:
            self.ctl.cluster.leaders(timeout)
        except TimeoutError as e:
            log.error("after a fault: %s", e)

    def heal_all(self) -> None:
        """Undo everything: network cuts, ballast, paused and dead processes."""
        if self.ctl.network is not None:
            with contextlib.suppress(Exception):
                self.ctl.network.heal()
        if self.ctl.disks is not None:
            self.ctl.disks.empty_all()
        self.ctl.restart([n for n in self.ctl.cluster.nodes if not n.alive])
