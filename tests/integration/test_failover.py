"""A 3-NameNode Raft nameservice of real processes: failover and whole-group restart."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from client import Client

pytestmark = pytest.mark.integration


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def tree(fs: Client, path: str = "/") -> list[tuple[str, str, int]]:
    """A digest of the namespace: every path with its kind and permission."""
    out = []
    for top, dirs, files in fs.walk(path):
        for name in dirs + files:
            status = fs.stat(f"{top.rstrip('/')}/{name}")
            out.append((status.path, status.kind, status.permission))
    return sorted(out)


def test_leader_kill_under_load_loses_nothing_and_raises_nothing(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    acked: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/w")

        def writer() -> None:
            for i in range(3000):  # bounded in count, and by the stop event in time
                if stop.is_set():
                    return
                try:
                    fs.mkdir(f"/w/{i}")
                except BaseException as e:
                    errors.append(e)
                    return
                acked.append(i)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_until(lambda: len(acked) >= 20, 30, "writes before the kill")
            killed_at, count = time.monotonic(), len(acked)
            leader.signal(signal.SIGKILL)
            wait_until(lambda: len(acked) > count or errors, 30, "a write after the kill")
            gap = time.monotonic() - killed_at
            wait_until(lambda: len(acked) > count + 20 or errors, 30, "writes after the kill")
        finally:
            stop.set()
            thread.join(30)
        assert errors == [], errors
        print(f"first write acknowledged {gap:.2f} s after the leader was killed")
        assert gap < 10  # the figure to beat (about 1 s) is measured by the benchmark
        new_leader = cluster.wait_leader()
        assert new_leader is not leader
        assert sorted(int(s.name) for s in fs.ls("/w")) == sorted(acked)


def test_killing_every_namenode_then_restarting_keeps_the_namespace(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/data/train", parents=True)
        fs.mkdir("/data/eval", parents=True, permission=0o750)
        fs.mv("/data/eval", "/data/validation")
        for i in range(30):
            fs.mkdir(f"/data/train/shard-{i:03d}")
        before = tree(fs)
    for node in cluster.nodes:
        node.signal(signal.SIGKILL)
    for node in cluster.nodes:
        node.process.wait(10)
    cluster.start()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        assert tree(fs) == before
