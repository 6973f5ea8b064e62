"""``hactl top`` and the GetStatus counters it reads, on real clusters: the namespace's
size on every NameNode, block health after a DataNode dies, a bounded workload seen as
rates, and a killed leader replaced on screen."""

from __future__ import annotations

import json
import os
import threading
import time

import grpc
import pytest
from click.testing import CliRunner

from chaos.cluster import wait_until
from client import Client
from client.cli.main import cli
from hafs_api.v1 import admin_pb2, admin_pb2_grpc

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}


def get_status(address: str) -> admin_pb2.GetStatusResponse:
    with grpc.insecure_channel(address) as channel:
        return admin_pb2_grpc.HaAdminStub(channel).GetStatus(
            admin_pb2.GetStatusRequest(), timeout=2.0
        )


def is_active(address: str) -> bool:
    try:
        return get_status(address).state == admin_pb2.ACTIVE
    except grpc.RpcError:
        return False


def hactl(cluster, *args: str, code: int = 0):
    result = CliRunner().invoke(
        cli, ["--conf", str(cluster.client_conf), *args], catch_exceptions=False
    )
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def top_once(cluster, interval: float = 1.0, code: int = 0) -> dict:
    result = hactl(cluster, "top", "--once", "--json", "--interval", str(interval), code=code)
    return json.loads(result.stdout)


def test_getstatus_counts_the_namespace_on_every_namenode(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/top/a", parents=True)
        for i in range(7):
            fs.write_bytes(f"/top/a/f{i}", b"")
    for node in cluster.namenode_nodes:  # counted at most once a second: a bounded wait
        wait_until(
            lambda a=node.address: get_status(a).files == 7,
            10,
            f"7 files on {node.node_id}",
            poll=0.2,
        )
        status = get_status(node.address)
        assert (status.files, status.directories, status.blocks) == (7, 3, 0)  # /, /top, /a
    on_leader = get_status(leader.address)
    assert on_leader.client_calls >= 8 and on_leader.client_errors <= on_leader.client_calls
    nodes = json.loads(hactl(cluster, "ha", "status", "--json").stdout)
    assert {n["files"] for n in nodes} == {7}
    assert [n["live_datanodes"] for n in nodes if n["state"] == "active"] == [0]


def test_getstatus_block_health_after_a_datanode_dies(make_cluster, superuser):
    cluster = make_cluster(datanodes=3, namespace=SMALL)
    leader = cluster.wait_leader()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.write_bytes("/three", os.urandom(2 * BLOCK))  # 2 blocks, 3 replicas each

    def healthy() -> bool:
        s = get_status(leader.address)
        return (s.blocks, s.live_datanodes, s.under_replicated_blocks) == (2, 3, 0)

    wait_until(healthy, 15, "2 blocks on 3 live DataNodes", poll=0.2)
    cluster.node("dn1").kill()

    def dead() -> admin_pb2.GetStatusResponse | None:
        s = get_status(leader.address)
        return s if s.dead_datanodes == 1 and s.under_replicated_blocks == 2 else None

    status = wait_until(dead, 30, "dn1 dead and both blocks under-replicated", poll=0.25)
    assert (status.live_datanodes, status.stale_datanodes, status.missing_blocks) == (2, 0, 0)
    assert status.corrupt_blocks == 0
    (ns,) = top_once(cluster, 0.3)["nameservices"]
    assert ns["datanodes"] == {"live": 2, "stale": 0, "dead": 1}
    assert ns["blocks"]["under_replicated"] == 2 and "1 dead DataNode" in ns["problems"]


def test_top_once_sees_leader_rates_and_counts_under_a_workload(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    stop = threading.Event()
    made = []

    def workload() -> None:  # bounded: at most 3000 directories or 20 s
        deadline = time.monotonic() + 20
        with Client(addresses=cluster.addresses, user=superuser) as fs:
            while not stop.is_set() and len(made) < 3000 and time.monotonic() < deadline:
                fs.mkdir(f"/load/d{len(made)}", parents=True)
                made.append(1)

    worker = threading.Thread(target=workload)
    worker.start()
    try:
        wait_until(lambda: len(made) >= 20, 10, "the workload to start")
        snapshot = top_once(cluster, 1.0)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    (ns,) = snapshot["nameservices"]
    assert ns["leader"]["node_id"] == leader.node_id
    assert ns["leader"]["address"] == leader.address
    assert ns["rates"]["client_rpcs_per_s"] > 0 and ns["rates"]["writes_per_s"] > 0
    assert ns["rates"]["errors_per_s"] == 0
    assert ns["namespace"]["directories"] >= 20 and ns["namespace"]["files"] == 0
    rows = {row["node_id"]: row for row in ns["namenodes"]}
    assert set(rows) == {"nn1", "nn2", "nn3"}
    assert all(row["reachable"] and row["lag"] is not None for row in rows.values())
    assert rows[leader.node_id]["state"] == "active" and ns["problems"] == []
    text = hactl(cluster, "top", "--once", "--interval", "0.2").stdout
    assert f"leader {leader.node_id} ({leader.address})" in text


def test_top_shows_the_new_leader_after_the_old_one_is_killed(make_cluster):
    cluster = make_cluster(namenodes=3)
    old = cluster.wait_leader()
    (before,) = top_once(cluster, 0.2)["nameservices"]
    assert before["leader"]["node_id"] == old.node_id
    old.kill()
    others = [n for n in cluster.namenode_nodes if n is not old]
    new = wait_until(
        lambda: next((n for n in others if is_active(n.address)), None), 15, "a new leader"
    )
    (after,) = top_once(cluster, 0.5)["nameservices"]
    assert after["leader"]["node_id"] == new.node_id
    assert after["leader"]["term"] > before["leader"]["term"]
    (gone,) = [row for row in after["namenodes"] if row["address"] == old.address]
    assert gone["state"] == "unreachable" and not gone["reachable"]
    assert f"{old.address} unreachable" in after["problems"]
