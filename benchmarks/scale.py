"""Image and restart at scale: a 3-NameNode group holding ``files`` files.

Building the namespace (``generate``): the state a NameNode would hold after
applying the log entries that created the files, written straight into a
NameNode data directory before its processes start.

- The root, the directories (``/scale/dNNNN``, 1,000 files each) and the files
  of the first directory are applied through the real replicated state machine
  (``StateMachine.apply`` over ``SqlStore``), one log entry per directory, as
  a client creating and closing them would leave them.
- Every other directory gets rows cloned from the first one's (new inode ids,
  names and parent) in bulk SQLite transactions: what applying its entry would
  write, at ~100x the speed, but the log digest (``meta log_digest``), which
  chains only the entries really applied. ``check_generator`` builds a small
  namespace both ways and requires identical tables but for that digest; the
  benchmark runs it first, every time.
- ``raft.dump`` is the Raft snapshot at the last entry, written by the replica's
  own serializer, so each node starts like one restarted after a compaction.

Then, on the running group, it measures:

- cold start of the group, and resident memory (VmRSS, VmHWM) of each NameNode,
  beside the same group's with an empty namespace (``memory_empty``);
- ``HaAdmin.Checkpoint`` on the leader (``write_image``): time, image size, and
  whether a leader election happened (terms and leader before and after) while a
  probe wrote every 10 ms (its slowest write is reported);
- a Raft snapshot (log compaction, ``write_dump`` on every replica at once),
  triggered by a low ``compaction_min_entries``: the same questions;
- restart of one stopped follower: time to health SERVING, to answering a stat
  (a follower answers NOT_LEADER with the leader's address), and to being a
  caught-up member of the group;
- restart of the whole stopped group: time to the first stat answered.
"""

from __future__ import annotations

import dataclasses
import getpass
import math
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    group_status,
    healthy_member,
    is_serving,
    leader_status,
    max_term,
    memory,
    node_config,
    running,
    stat_answer,
    wait_until,
)
from benchmarks.failover import Probe
from chaos.cluster import LocalCluster
from client import Client
from client.retry import RetryPolicy
from ha_namenode.config import NameNodeConfig
from ha_namenode.namespace import codec
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.model import Caller, Failed
from ha_namenode.namespace.store import LOG_DIGEST, NEXT_INODE
from ha_namenode.node import make_consensus
from ha_namenode.persistence import SqlStore
from ha_namenode.persistence.schema import APPLIED_INDEX_KEY

FILES_PER_DIR = 1000
SUPERGROUP = "supergroup"
NO_OP = b"\x01"  # pysyncobj's no-op command byte
COMPACTION_MIN_ENTRIES = 1000  # the checkpoint phase writes fewer, the snapshot phase more
TABLES = ("meta", "inodes", "blocks", "leases", "retry_cache")


def dir_path(j: int) -> str:
    return f"/scale/d{j:04d}"


def file_name(n: int) -> str:
    return f"f{n:07d}"


# ---- building the namespace -------------------------------------------------------


def generate(
    db: Path,
    files: int,
    *,
    user: str,
    now: int,
    per_dir: int = FILES_PER_DIR,
    bulk: bool = True,
    log=print,
) -> dict[str, Any]:
    """Build ``files`` closed empty files into a new database at ``db``.

    ``bulk=False`` applies every directory through the state machine (slow; the
    reference ``check_generator`` compares against). Returns the last log index.
    """
    dirs = max(1, math.ceil(files / per_dir))
    caller = Caller(user, (SUPERGROUP,), True)
    store = SqlStore(db, synchronous="OFF")  # the file is copied and fsynced afterwards
    machine = StateMachine(store)
    index = 1  # pysyncobj's first entry is its own no-op
    started = time.monotonic()

    def apply(commands: list[object]) -> None:
        nonlocal index
        index += 1
        envelopes = [c.Envelope(cmd, caller, now) for cmd in commands]
        results = machine.apply(index, codec.encode_batch(envelopes))
        failed = [r for r in results or [] if isinstance(r, Failed)]
        if results is None or failed:
            raise RuntimeError(f"generating entry {index} failed: {failed[:1] or 'stale'}")

    def files_of(j: int) -> range:
        return range(j * per_dir, min(files, (j + 1) * per_dir))

    def create_and_close(j: int) -> list[object]:
        out: list[object] = []
        for n in files_of(j):
            path = f"{dir_path(j)}/{file_name(n)}"
            out += [c.Create(path, 0o644, "scale-gen", 3, 128 << 20), c.Complete(path, "scale-gen")]
        return out

    try:
        apply([c.Format(user, SUPERGROUP)])
        for start in range(0, dirs, 500):
            apply(
                [
                    c.Mkdir(dir_path(j), 0o755, parents=True)
                    for j in range(start, min(dirs, start + 500))
                ]
            )
        apply(create_and_close(0))
        if not bulk:
            for j in range(1, dirs):
                apply(create_and_close(j))
    finally:
        store.close()
    through_machine = time.monotonic() - started
    if bulk and dirs > 1:
        index = _clone_directories(db, dirs, files_of, index)
    seconds = time.monotonic() - started
    log(
        f"  generated {files:,} files in {dirs} directories in {seconds:.1f} s "
        f"({files / seconds:,.0f} files/s; {through_machine:.1f} s through the state machine)"
    )
    return {
        "files": files,
        "directories": dirs,
        "last_index": index,
        "seconds": seconds,
        "files_per_s": files / seconds,
        "db_bytes": db.stat().st_size,
    }


def _clone_directories(db: Path, dirs: int, files_of, index: int) -> int:
    """Directories 1.. get what applying their entry would: directory 0's rows, renumbered."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        scale = conn.execute(
            "SELECT id FROM inodes WHERE parent = 1 AND name = 'scale'"
        ).fetchone()[0]
        dir_ids = dict(conn.execute("SELECT name, id FROM inodes WHERE parent = ?", (scale,)))
        first = dir_ids[dir_path(0).rsplit("/", 1)[1]]
        cols = [r[1] for r in conn.execute("PRAGMA table_info(inodes)")]
        rows = conn.execute(
            "SELECT * FROM inodes WHERE parent = ? ORDER BY id", (first,)
        ).fetchall()
        i_id, i_parent, i_name = cols.index("id"), cols.index("parent"), cols.index("name")
        template = [v for k, v in enumerate(rows[0]) if k not in (i_id, i_parent, i_name)]
        for row in rows:  # every file of directory 0 differs only in id and name
            rest = [v for k, v in enumerate(row) if k not in (i_id, i_parent, i_name)]
            if rest != template:
                raise RuntimeError(f"files of {dir_path(0)} differ beyond id and name: {row}")
        children, mtime = conn.execute(
            "SELECT children, mtime FROM inodes WHERE id = ?", (first,)
        ).fetchone()
        next_inode = conn.execute("SELECT value FROM meta WHERE key = ?", (NEXT_INODE,)).fetchone()[
            0
        ]
        names = ", ".join(f'"{k}"' for k in cols)
        insert = f"INSERT INTO inodes ({names}) VALUES ({', '.join('?' * len(cols))})"
        if children != len(rows):
            raise RuntimeError(f"{dir_path(0)} has {children} children, not {len(rows)}")
        conn.execute("BEGIN")
        for j in range(1, dirs):
            index += 1
            parent = dir_ids[dir_path(j).rsplit("/", 1)[1]]
            batch = []
            for n in files_of(j):
                row = list(template)
                for pos, value in sorted(
                    ((i_id, next_inode), (i_parent, parent), (i_name, file_name(n)))
                ):
                    row.insert(pos, value)
                batch.append(row)
                next_inode += 1
            conn.executemany(insert, batch)
            conn.execute(
                "UPDATE inodes SET children = ?, mtime = ? WHERE id = ?",
                (len(batch), mtime, parent),
            )
            if j % 100 == 0 or j == dirs - 1:
                conn.execute("UPDATE meta SET value = ? WHERE key = ?", (next_inode, NEXT_INODE))
                conn.execute("UPDATE meta SET value = ? WHERE key = ?", (index, APPLIED_INDEX_KEY))
                conn.execute("COMMIT")
                conn.execute("BEGIN")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return index


def tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of ``TABLES``, less the log digest: the bulk clone applies no log
    entries, so it chains none (every replica starts from the same copy, so they agree)."""
    with sqlite3.connect(db) as conn:
        out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}
    out["meta"] = [row for row in out["meta"] if row[0] != LOG_DIGEST]
    return out


def check_generator(workdir: Path) -> None:
    """The bulk path must write exactly what the state machine writes (small namespace)."""
    now = int(time.time() * 1000)
    user = getpass.getuser()
    quiet = lambda *a, **k: None  # noqa: E731
    ref, fast = workdir / "reference.db", workdir / "bulk.db"
    generate(ref, 250, user=user, now=now, per_dir=60, bulk=False, log=quiet)
    generate(fast, 250, user=user, now=now, per_dir=60, bulk=True, log=quiet)
    a, b = tables(ref), tables(fast)
    for t in TABLES:
        if a[t] != b[t]:
            raise RuntimeError(f"bulk generation differs from the state machine in table {t}")
    for path in workdir.glob("*.db*"):
        path.unlink()


def write_raft_dump(db: Path, last_index: int, config_path: Path) -> float:
    """The Raft snapshot of ``db`` at ``last_index``, written by the replica's serializer.

    The replica is built as the NameNode builds it (``make_consensus``) from a
    member's config, with the data directory moved to ``db``'s: the dump lands
    next to ``db`` as ``raft.dump``, in whatever format the replica writes.
    """
    config = NameNodeConfig.load(config_path)
    config = dataclasses.replace(
        config, namenode=dataclasses.replace(config.namenode, data_dir=str(db.parent))
    )
    raft_addresses = {m.raft_address for m in config.members.values()}
    store = SqlStore(db)
    try:
        replica = make_consensus(config, StateMachine(store), store)
        started = time.monotonic()
        replica._serialize(  # what pysyncobj calls at compaction (not started here)
            str(db.parent / "raft.dump.tmp"),
            ((NO_OP, last_index, 0), (NO_OP, last_index - 1, 0), raft_addresses),
        )
        wait_until("the Raft dump", lambda: replica._check_serializing() >= 2, 600, poll=0.05)
        if not (db.parent / "raft.dump").exists():
            raise RuntimeError(f"the serializer wrote no raft.dump in {db.parent}")
        return time.monotonic() - started
    finally:
        store.close()


# ---- the benchmark ------------------------------------------------------------------


def _dump_log_lines(cluster: LocalCluster) -> dict[str, list[float]]:
    """Seconds of each Raft dump written, per node, from the node logs."""
    out = {}
    for node in cluster.nodes:
        path = getattr(node, "log_path", None) or Path(cluster.base_dir) / f"{node.node_id}.log"
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        out[node.node_id] = [
            float(s) for s in re.findall(r"wrote dump \S+ .*? in ([0-9.]+)s", text)
        ]
    return out


def _election(before: list, after: list) -> bool:
    lead_a = next((s.node_id for s in before if s.state == "active"), "")
    lead_b = next((s.node_id for s in after if s.state == "active"), "")
    return max_term(after) != max_term(before) or lead_a != lead_b


def _probe_window(probe: Probe, since: float, until: float) -> dict[str, Any]:
    writes = [w for w in probe.writes if w.started >= since and w.started <= until]
    slowest = max((w.ended - w.started for w in writes), default=0.0)
    return {
        "probe_writes": len(writes),
        "probe_errors": sum(1 for w in writes if w.error),
        "probe_max_ms": round(slowest * 1000, 1),
    }


def run(base: Path, files: int, log=print) -> dict[str, Any]:
    base = Path(base)
    user = getpass.getuser()
    result: dict[str, Any] = {"files": files}
    gen_dir = base / "generated"
    gen_dir.mkdir(parents=True)
    check_generator(gen_dir)
    result["generator_checked"] = True
    cluster = LocalCluster(
        base / "cluster",
        namenodes=3,
        namespace={"trash_interval_s": 0},
        raft={"compaction_min_entries": COMPACTION_MIN_ENTRIES},
    )
    try:
        # Configure the group (ports, data dirs), then replace its state. Its memory with
        # an empty namespace is the baseline of the per-file figure (benchmarks.footprint).
        cluster.start(60)
        result["memory_empty"] = {
            n.node_id: memory(n.process.pid) for n in cluster.nodes if n.process
        }
        cluster.stop()
        configs = {n.node_id: node_config(cluster, n) for n in cluster.nodes}
        first = cluster.nodes[0]
        first_config = getattr(first, "config_path", None) or cluster.base_dir / "nn1.toml"
        db = gen_dir / "namespace.db"
        result["generate"] = generate(db, files, user=user, now=int(time.time() * 1000), log=log)
        dump = gen_dir / "raft.dump"
        dump_s = write_raft_dump(db, result["generate"]["last_index"], Path(first_config))
        result["generate"]["dump_seconds"] = dump_s
        result["generate"]["dump_bytes"] = dump.stat().st_size
        started = time.monotonic()
        for cfg in configs.values():
            data = Path(cfg["namenode"]["data_dir"])
            shutil.rmtree(data)
            data.mkdir(parents=True)
            shutil.copyfile(db, data / "namespace.db")
            shutil.copyfile(dump, data / "raft.dump")
        result["generate"]["copy_seconds"] = time.monotonic() - started
        shutil.rmtree(gen_dir)

        started = time.monotonic()
        with running(cluster, timeout=300):
            result["cold_start_s"] = time.monotonic() - started
            log(f"  group started with {files:,} files in {result['cold_start_s']:.1f} s")
            sample = f"{dir_path(result['generate']['directories'] - 1)}/{file_name(files - 1)}"
            with Client(addresses=cluster.addresses, user=user) as client:
                client.mkdir("/probe")
                st = client.stat(sample)
                result["sample_stat_ok"] = st.path == sample
            result["memory_after_start"] = {
                n.node_id: memory(n.process.pid) for n in cluster.nodes if n.process
            }
            result.update(_image_and_snapshot(cluster, log))
            result["follower_restart"] = _restart_follower(cluster, sample, log)
            result["memory"] = {
                n.node_id: memory(n.process.pid) for n in cluster.nodes if n.process
            }
            result["group_restart"] = _restart_group(cluster, sample, log)
            result["memory_after_group_restart"] = {
                n.node_id: memory(n.process.pid) for n in cluster.nodes if n.process
            }
            result["data_dir_bytes"] = {
                node_id: sum(
                    p.stat().st_size
                    for p in Path(cfg["namenode"]["data_dir"]).rglob("*")
                    if p.is_file()
                )
                for node_id, cfg in configs.items()
            }
    finally:
        cluster.stop()
    return result


def _image_and_snapshot(cluster: LocalCluster, log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    probe = Probe(cluster.addresses, max_writes=100_000, directory="/probe/scale")
    probe.start()
    try:
        time.sleep(0.5)
        # 1. HaAdmin.Checkpoint on the leader (write_image).
        leader = leader_status(cluster.addresses)
        assert leader is not None
        before = group_status(cluster.addresses)
        with Client(addresses=cluster.addresses, user=getpass.getuser()) as client:
            t0 = time.monotonic()
            info = client.checkpoint(leader.address)
            t1 = time.monotonic()
        time.sleep(1.0)  # an election the image caused would show by now
        after = group_status(cluster.addresses)
        out["checkpoint"] = {
            "node": leader.node_id,
            "seconds": t1 - t0,
            "image_bytes": info.size_bytes,
            "applied_index": info.applied_index,
            "term_before": max_term(before),
            "term_after": max_term(after),
            "election": _election(before, after),
            **_probe_window(probe, t0, t1),
        }
        c = out["checkpoint"]
        log(f"  checkpoint on {leader.node_id}: {c['seconds']:.2f} s, election: {c['election']}")
        # 2. Raft snapshot on every replica, triggered by the log length.
        dumps = {
            n.node_id: Path(node_config(cluster, n)["namenode"]["data_dir"]) / "raft.dump"
            for n in cluster.nodes
        }
        marks = {k: p.stat().st_mtime_ns for k, p in dumps.items()}
        logged = {k: len(v) for k, v in _dump_log_lines(cluster).items()}
        before = group_status(cluster.addresses)
        t0 = time.monotonic()
        wait_until(
            "a Raft snapshot on every replica",
            lambda: all(p.exists() and p.stat().st_mtime_ns != marks[k] for k, p in dumps.items()),
            600,
            poll=0.1,
        )
        t1 = time.monotonic()
        time.sleep(1.0)
        after = group_status(cluster.addresses)
        took = {k: v[logged.get(k, 0) :] for k, v in _dump_log_lines(cluster).items()}
        out["raft_snapshot"] = {
            "trigger_entries": COMPACTION_MIN_ENTRIES,
            "wait_seconds": t1 - t0,
            "dump_seconds": {k: v[0] if v else None for k, v in took.items()},
            "dump_bytes": {k: p.stat().st_size for k, p in dumps.items()},
            "term_before": max_term(before),
            "term_after": max_term(after),
            "election": _election(before, after),
            **_probe_window(probe, t0, t1),
        }
        s = out["raft_snapshot"]
        secs = [v for v in s["dump_seconds"].values() if v is not None]
        log(f"  Raft snapshot: {max(secs, default=-1):.2f} s, election: {s['election']}")
    finally:
        probe.stop()
    out["probe_errors"] = sum(1 for w in probe.writes if w.error)
    return out


def _restart_follower(cluster: LocalCluster, sample: str, log) -> dict[str, Any]:
    leader = leader_status(cluster.addresses)
    assert leader is not None
    node = next(n for n in cluster.nodes if n.node_id != leader.node_id)
    node.stop()
    with Client(addresses=cluster.addresses, user=getpass.getuser()) as client:
        for i in range(50):  # the follower misses these
            client.mkdir(f"/probe/while-down-{i}")
    target = leader_status(cluster.addresses)
    assert target is not None
    t0 = time.monotonic()
    node.start()
    serving = wait_until("health SERVING", lambda: is_serving(node.address, 0.5), 120, poll=0.01)
    answered = wait_until(
        "a stat answered",
        lambda: stat_answer(node.address, sample, 1.0) in ("ok", "NOT_LEADER"),
        120,
        poll=0.01,
    )
    member = wait_until(
        "caught up", lambda: healthy_member(cluster, node, target.commit_index), 120, poll=0.02
    )
    out = {
        "node": node.node_id,
        "serving_s": serving - t0,
        "stat_answered_s": answered - t0,
        "stat_answer": stat_answer(node.address, sample),
        "caught_up_s": member - t0,
        "missed_entries": target.commit_index - leader.commit_index,
        "memory": memory(node.process.pid) if node.process else {},
    }
    log(f"  follower {node.node_id} restarted: caught up after {out['caught_up_s']:.2f} s")
    return out


def _restart_group(cluster: LocalCluster, sample: str, log) -> dict[str, Any]:
    cluster.stop()
    t0 = time.monotonic()
    for node in cluster.nodes:
        node.start()
    serving = wait_until(
        "every node SERVING",
        lambda: all(is_serving(n.address, 0.5) for n in cluster.nodes),
        120,
        poll=0.01,
    )
    with Client(
        addresses=cluster.addresses, user=getpass.getuser(), retry=RetryPolicy(deadline=120)
    ) as client:
        client.stat(sample)
        answered = time.monotonic()
    leader = leader_status(cluster.addresses)
    out = {
        "serving_s": serving - t0,
        "first_stat_s": answered - t0,
        "leader": leader.node_id if leader else "",
    }
    log(f"  whole group restarted: first stat after {out['first_stat_s']:.2f} s")
    return out


__all__ = ["check_generator", "generate", "run"]
