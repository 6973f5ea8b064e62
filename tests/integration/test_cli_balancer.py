"""``hactl balancer`` on a real cluster (1 NameNode, 3 DataNodes of 4 MiB each): files
written while one DataNode is down, the empty DataNode started, and the balancer brings
every DataNode within the threshold of the mean; the files keep their content and
their replication."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from hactl_runner import hactl_runner

from chaos.cluster import wait_until
from client import Client

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
CAPACITY = 4 << 20
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}


@pytest.fixture
def cluster(make_cluster):
    return make_cluster(datanodes=3, namespace=SMALL, datanode={"capacity_bytes": CAPACITY})


@pytest.fixture
def hactl(cluster):
    return hactl_runner(cluster.client_conf)


def usage(fs: Client) -> dict[str, float]:
    """Used percent of each live DataNode, by address."""
    return {n.address: 100 * n.used / n.capacity for n in fs.datanodes() if n.liveness == "live"}


def test_the_balancer_fills_an_empty_datanode(cluster, hactl, superuser):
    empty = cluster.datanode_nodes[2]
    empty.stop()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        wait_until(
            lambda: any(n.address == empty.address and n.liveness != "live"
                        for n in fs.datanodes()),
            10, "the third DataNode not live", poll=0.2,
        )  # fmt: skip
        files = {}
        for i in range(8):
            data = os.urandom(2 * BLOCK)
            replication = 1 + i % 2
            with fs.open(f"/b/f{i}", "wb", replication=replication) as f:
                f.write(data)
            files[f"/b/f{i}"] = (replication, hashlib.sha256(data).digest())
        wait_until(lambda: fs.fsck("/").replicas == 4 * 2 + 4 * 2 * 2, 10, "replicas reported")
        empty.start()
        cluster.wait_datanodes(3, 30)
        written = (4 * 2 + 4 * 2 * 2) * BLOCK
        wait_until(  # heartbeats carry the usage a moment after the replicas are reported
            lambda: len(usage(fs)) == 3 and sum(n.used for n in fs.datanodes()) >= written,
            10, "three live DataNodes, their usage heartbeated", poll=0.2,
        )  # fmt: skip
        assert usage(fs)[empty.address] == 0

        idle = json.loads(hactl("balancer", "--status", "--json").stdout)
        assert idle["state"] == "idle" and idle["bytes_left"] > 0

        result = hactl("balancer", "--threshold", "10", "--bandwidth", "10MB", "--json")
        status = json.loads(result.stdout)
        assert status["state"] == "balanced", status
        assert status["moves_done"] > 0 and status["moves_in_flight"] == 0
        assert status["bytes_moved"] == status["moves_done"] * BLOCK
        assert status["iterations"] >= 1 and status["threshold_percent"] == 10.0
        assert len(status["nodes"]) == 3
        assert all(abs(n["deviation_percent"]) <= 10 for n in status["nodes"])

        used = usage(fs)
        mean = sum(n.used for n in fs.datanodes()) / (3 * CAPACITY) * 100
        assert all(abs(u - mean) <= 10 for u in used.values()), (used, mean)
        assert used[empty.address] > 0
        wait_until(lambda: fs.fsck("/").over_replicated == 0, 10, "surplus replicas gone")
        report = fs.fsck("/", list_files=True)
        assert report.healthy and report.under_replicated == 0 and report.missing == 0
        for entry in report.entries:
            replication, digest = files[entry.path]
            assert all(b.live == replication for b in entry.blocks)
            assert len({loc for b in entry.blocks for loc in b.locations}) >= replication
            assert hashlib.sha256(fs.read_bytes(entry.path)).digest() == digest

    text = hactl("balancer", "--status").stdout
    assert "State: balanced" in text and "Moves: " in text
    again = hactl("balancer", "--threshold", "10").stdout
    assert again.splitlines()[0].startswith("Time Stamp")
    assert "The cluster is balanced. Exiting..." in again and "Balancing took" in again


def test_balancer_errors_and_no_wait(cluster, hactl):
    bad = hactl("balancer", "--exclude", "nobody:1", code=1)
    assert "no DataNode 'nobody:1'" in bad.stderr
    denied = hactl("--user", "mallory", "balancer", "--json", code=1)
    assert json.loads(denied.stdout) is None
    assert json.loads(denied.stderr)["error"]["code"] == "ACCESS_DENIED"
    assert "Superuser privilege" in hactl("--user", "mallory", "balancer", "--stop", code=1).stderr
    started = json.loads(hactl("balancer", "--no-wait", "--json").stdout)
    assert started["state"] in ("running", "balanced")
    stopped = json.loads(hactl("balancer", "--stop", "--json").stdout)
    assert stopped["state"] in ("stopped", "balanced")
    hactl("balancer", "--status", "--stop", code=2)


def test_a_leader_change_stops_the_balancer_and_the_cli_says_so(make_cluster, superuser):
    cluster = make_cluster(
        namenodes=3, datanodes=3, namespace=SMALL, datanode={"capacity_bytes": CAPACITY}
    )
    empty = cluster.datanode_nodes[2]
    empty.stop()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        wait_until(
            lambda: any(n.address == empty.address and n.liveness != "live"
                        for n in fs.datanodes()),
            10, "the third DataNode not live", poll=0.2,
        )  # fmt: skip
        data = {f"/b/f{i}": os.urandom(4 * BLOCK) for i in range(6)}
        for path, content in data.items():
            with fs.open(path, "wb", replication=1) as f:
                f.write(content)
        empty.start()
        cluster.wait_datanodes(3, 30)
        # 64 KiB a second per DataNode: one block a second, so it is still moving when
        # the leader goes
        follower = subprocess.Popen(
            [sys.executable, "-m", "client.cli.main", "--conf", str(cluster.client_conf),
             "balancer", "--threshold", "1", "--bandwidth", "64k", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_until(lambda: fs.balancer_status().moves_done >= 1, 20, "a move done", poll=0.2)
            cluster.wait_leader().kill()
            out, err = follower.communicate(timeout=60)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait(10)
        assert follower.returncode == 5, (out, err)
        assert json.loads(out)["state"] == "idle"
        assert fs.balancer_status().state == "idle"  # the new leader runs none
        wait_until(lambda: fs.fsck("/").under_replicated == 0, 30, "replicated", poll=0.5)
        for path, content in data.items():
            assert fs.read_bytes(path) == content
