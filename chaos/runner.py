"""One chaos run: a real cluster, recorded workloads, a nemesis, then every checker.

``run(RunConfig(...))`` does, in order:

1. builds a cluster through ``LocalCluster`` (the harness behind ``hactl dev``):
   every node in its own network namespace when ``chaos.netns`` is available,
   every DataNode on a tmpfs of its own when ``chaos.disks`` is, and with
   several nameservices a mount ``/chaos/<ns>`` for each non-default one;
2. starts the workloads (``chaos.workloads``), a sampler of every NameNode's
   (applied index, log digest), a watch on corrupted replicas and an fsck
   sampler, then lets the nemesis inject faults one after another until the
   duration is over and at least ``min_faults`` have been injected;
3. heals everything, lets the workloads run a few more seconds, stops them;
4. checks: no acknowledged create or file lost (set, data), the register
   history linearizable, at most one leader per term (from each NameNode's own
   fsynced state log), one applied prefix, every block back at its replication
   factor within ``heal_timeout`` s, every replica of every acknowledged file
   read back with its sha256, corrupt replicas deleted only with a good copy;
5. stops every process, removes the namespaces and disks, and returns a
   ``RunResult`` (``chaos.report`` prints it and writes the JSON).

Imports: the standard library, ``client``, ``hafs_api`` and ``chaos``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import checkers
from chaos.checkers import Budget, Verdict
from chaos.cluster import DEV_BLOCKS, DEV_DATANODE, DEV_RAFT, LocalCluster
from chaos.disks import Disks
from chaos.faults import KINDS, NETWORK_KINDS, Control, FaultEvent, Nemesis
from chaos.history import OK, History
from chaos.netns import Network, cleanup_stale
from chaos.verify import (
    CorruptionWatch,
    HealthSampler,
    PrefixSampler,
    ReplicaReport,
    read_replicas,
    read_state_logs,
    wait_healthy,
)
from chaos.workloads import WORKLOADS, Workloads, WorkloadSettings
from client import Client

log = logging.getLogger(__name__)

MiB = 1 << 20
WRITES = {("register", "set"), ("register", "cas"), ("set", "create"), ("data", "write")}
READS = {("register", "get"), ("data", "read")}


@dataclass
class RunConfig:
    duration: float = 240.0  # seconds of faults
    seed: int | None = None  # None: a random seed, printed so the run can be replayed
    faults: tuple[str, ...] = KINDS
    nameservices: int = 1
    namenodes: int = 3  # per nameservice
    datanodes: int = 4
    min_faults: int = 0  # keep injecting past the duration until this many (bounded)
    heal_timeout: float = 60.0  # every block back at its replication factor within this
    workdir: Path | None = None  # None: a temporary directory
    keep: bool = False  # keep the cluster's directory (logs, data, history) afterwards
    disk_bytes: int = 768 * MiB  # each DataNode's tmpfs
    workloads: WorkloadSettings = field(default_factory=WorkloadSettings)
    settle_s: float = 3.0  # workloads keep going this long after the final heal
    workload_kinds: tuple[str, ...] = WORKLOADS


@dataclass
class RunResult:
    seed: int
    config: dict[str, Any]
    directory: str
    started: float
    duration: float
    faults: list[FaultEvent]
    counts: dict[str, dict[str, int]]
    verdicts: list[Verdict]
    stats: dict[str, Any]
    unavailable: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def _availability(cfg: RunConfig) -> tuple[Network | None, Disks | None, dict[str, str]]:
    unavailable: dict[str, str] = {}
    network = None
    if set(cfg.faults) & set(NETWORK_KINDS):
        why = Network.available()
        if why:
            cleanup_stale()
            network = Network()
        else:
            for kind in NETWORK_KINDS:
                unavailable[kind] = why.reason
    disks = None
    if "full-disk" in cfg.faults:
        why_not = Disks.available()
        if why_not:
            unavailable["full-disk"] = why_not
        else:
            disks = Disks(cfg.disk_bytes)
    return network, disks, unavailable


def error_kinds(ops) -> dict[str, dict[str, dict[str, int]]]:
    """Per workload and outcome (fail, unknown), how often each error type ended a call."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for o in ops:
        if o.outcome == OK:
            continue
        name = str(o.result).split(":", 1)[0] if o.result else "no reply"
        by = out.setdefault(o.kind, {}).setdefault(o.outcome, {})
        by[name] = by.get(name, 0) + 1
    return out


def _longest_gap(times: list[float], start: float, end: float) -> float:
    points = sorted(t for t in times if start <= t <= end)
    edges = [start, *points, end]
    return max((b - a for a, b in itertools.pairwise(edges)), default=end - start)


def _roots(cluster: LocalCluster) -> list[str]:
    return ["/chaos"] + [f"/chaos/{ns}" for ns in cluster.nameservice_ids[1:]]


def run(cfg: RunConfig) -> RunResult:
    seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(1, 2**31)
    log.info("chaos run: seed %d, %.0f s of faults %s", seed, cfg.duration, ",".join(cfg.faults))
    temp = None
    if cfg.workdir is None:
        temp = Path(tempfile.mkdtemp(prefix=f"hafs-chaos-{seed}-"))
        base = temp
    else:
        base = Path(cfg.workdir).resolve() / f"chaos-{seed}-{int(time.time())}"
        base.mkdir(parents=True)
    network, disks, unavailable = _availability(cfg)
    cluster = LocalCluster(
        base,
        namenodes=cfg.namenodes,
        nameservices=cfg.nameservices,
        datanodes=cfg.datanodes,
        raft=dict(DEV_RAFT),
        blocks={**DEV_BLOCKS, "dead_after_s": 4.0},
        datanode={**DEV_DATANODE, "scan_period_s": 15.0, "scan_bytes_per_s": 64 * MiB},
        namespace={"trash_interval_s": 0},
        network=network,
    )
    try:
        if disks is not None:
            for i in range(1, cfg.datanodes + 1):
                disks.mount(f"dn{i}", base / f"dn{i}")
        cluster.start(timeout=120)
        return _run(cfg, seed, cluster, network, disks, unavailable)
    finally:
        cluster.stop()
        if network is not None:
            network.close()
        if disks is not None:
            disks.close()
        if temp is not None and not cfg.keep:
            shutil.rmtree(temp, ignore_errors=True)


def _run(
    cfg: RunConfig,
    seed: int,
    cluster: LocalCluster,
    network: Network | None,
    disks: Disks | None,
    unavailable: dict[str, str],
) -> RunResult:
    conf = str(cluster.client_conf)
    admin = Client.from_config(conf)
    roots = _roots(cluster)
    for ns, root in zip(cluster.nameservice_ids[1:], roots[1:], strict=True):
        admin.mkdir("/chaos", parents=True)
        admin.add_mount(root, ns)
    history = History()
    workloads = Workloads(conf, history, roots, seed, cfg.workloads, cfg.workload_kinds)
    workloads.prepare(admin)
    ctl = Control(cluster, network, disks)
    nemesis = Nemesis(ctl, cfg.faults, seed)
    watch = CorruptionWatch(cluster, ctl.corruptions).start()
    prefix = PrefixSampler(cluster).start()
    health = HealthSampler(admin).start()
    started_wall, started = time.time(), time.monotonic()
    workloads.start()
    try:
        nemesis.run(
            started + cfg.duration,
            min_faults=cfg.min_faults,
            hard_stop=started + 2 * cfg.duration + 60,
        )
    finally:
        nemesis.heal_all()
    healed = time.monotonic()
    try:
        cluster.leaders(60)
    except TimeoutError as e:
        log.error("no leader after the final heal: %s", e)
    time.sleep(cfg.settle_s)
    stuck = workloads.join(timeout=30)
    ended = time.monotonic()
    prefix.stop()

    verifier = Client.from_config(conf)
    verdicts, stats = _verify(cfg, workloads, history, verifier, health, healed)
    health.stop()
    watch.stop()
    converged = prefix.converge(30)
    verdicts.append(prefix.verdict(converged))
    verdicts.append(watch.verdict())
    records = [r for path in read_state_logs(cluster) for r in checkers.read_state_log(path)]
    verdicts.append(checkers.check_leaders(records))
    lost = [
        (e.nameservice or cluster.nameservice, e.injected)
        for e in nemesis.events
        if e.leader_lost and not e.skipped
    ]
    elections = checkers.elections(records, lost)
    ops = history.ops()
    run_checks = {
        "register": lambda: checkers.check_register(ops, budget=Budget(seconds=60.0)),
        "set": lambda: checkers.check_set(ops),
        "data": lambda: checkers.check_data(ops),
    }
    verdicts[:0] = [check() for kind, check in run_checks.items() if kind in cfg.workload_kinds]
    ok_writes = [o.complete for o in ops if (o.kind, o.op) in WRITES and o.outcome == OK]
    ok_reads = [
        o.complete
        for o in ops
        if (o.kind, o.op) in READS and o.outcome == OK and o.process != "final"
    ]
    stats.update(
        {
            "elections": {
                "count": len(elections.durations),
                "unresolved": elections.unresolved,
                "median_s": elections.median,
                "max_s": elections.max,
            },
            "longest_without_write_s": round(_longest_gap(ok_writes, started, ended), 3),
            "longest_without_read_s": round(_longest_gap(ok_reads, started, ended), 3),
            "repair_times_s": health.repair_times(),
            "errors": error_kinds(ops),
            "stuck_workers": stuck,
        }
    )
    history.write(cluster.base_dir / "history.jsonl")
    for c in (admin, verifier):
        with contextlib.suppress(Exception):
            c.close()
    return RunResult(
        seed=seed,
        config={
            "duration_s": cfg.duration,
            "faults": list(cfg.faults),
            "nameservices": cfg.nameservices,
            "namenodes": cfg.namenodes,
            "datanodes": cfg.datanodes,
            "network": network is not None,
            "disks": disks is not None,
        },
        directory=str(cluster.base_dir),
        started=started_wall,
        duration=round(ended - started, 1),
        faults=nemesis.events,
        counts=history.counts(),
        verdicts=verdicts,
        stats=stats,
        unavailable=unavailable,
    )


def _verify(
    cfg: RunConfig,
    workloads: Workloads,
    history: History,
    client: Client,
    health: HealthSampler,
    healed: float,
) -> tuple[list[Verdict], dict[str, Any]]:
    """After the heal: block health, the final reads and every replica.

    Health is timed from the heal: the first fsck (the sampler's, every second)
    showing no under-replicated, missing or corrupt block. A first pass over
    every replica then reports corrupt replicas no scanner has reached yet;
    those too must be repaired within ``heal_timeout`` of being found.
    """
    files = workloads.acknowledged_files()
    digests = {
        o.key: o.args[0]
        for o in history.ops()
        if o.kind == "data" and o.op == "write" and o.outcome == OK
    }
    at = health.first_healthy_after(healed)
    if at is None:
        left = max(1.0, healed + cfg.heal_timeout - time.monotonic())
        took, _ = wait_healthy(client, left)
        at = None if took is None else time.monotonic()
    since_heal = None if at is None else round(at - healed, 2)
    first = ReplicaReport()  # reports corrupt replicas no scan has found yet
    for path in files:
        first.add(read_replicas(client, path, digests[path]))
    found_late = None
    if first.corrupt:
        took, _ = wait_healthy(client, cfg.heal_timeout)
        found_late = None if took is None else round(took, 2)
    _, counts = wait_healthy(client, 1.0)
    healthy_now = not (
        counts.get("under_replicated") or counts.get("missing") or counts.get("corrupt")
    )
    blocks_ok = (
        since_heal is not None
        and since_heal <= cfg.heal_timeout
        and (not first.corrupt or found_late is not None)
        and healthy_now
    )
    summary = (
        f"every block at its replication factor {since_heal} s after the heal"
        if since_heal is not None
        else f"not healthy within {cfg.heal_timeout:.0f} s of the heal"
    )
    if first.corrupt:
        summary += (
            f"; {len(first.corrupt)} corrupt replicas found by reading, repaired in {found_late} s"
            if found_late is not None
            else f"; {len(first.corrupt)} corrupt replicas found by reading, not repaired"
        )
    blocks = Verdict(
        "blocks",
        blocks_ok,
        summary,
        [] if blocks_ok else [f"fsck at the end: {counts}", *first.corrupt[:5]],
        {
            "seconds_after_heal": since_heal,
            "corrupt_found_by_reading": first.corrupt,
            "repair_after_reading_s": found_late,
            "fsck": counts,
        },
    )
    if "set" in workloads.kinds:
        workloads.final_set(client)
    for path in files:
        workloads.read(client, "final", path)
    second = ReplicaReport()
    for path in files:
        second.add(read_replicas(client, path, digests[path]))
    problems = second.problems + [f"corrupt after repair: {c}" for c in second.corrupt]
    replicas = Verdict(
        "replicas",
        not problems,
        (
            f"{second.replicas} replicas of {second.files} files "
            f"({second.bytes / MiB:.1f} MiB) read back with their sha256"
            if not problems
            else f"{len(problems)} bad replicas or files of {second.files}"
        ),
        problems[:10],
        {
            "files": second.files,
            "replicas": second.replicas,
            "bytes": second.bytes,
            "corrupt_found_before_repair": first.corrupt,
            "problems": problems,
        },
    )
    stats = {
        "bytes_verified": second.bytes,
        "replicas_verified": second.replicas,
        "files_verified": second.files,
        "fsck": counts,
    }
    return [blocks, replicas], stats
