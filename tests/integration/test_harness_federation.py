"""The harness and ``hactl dev`` with several nameservices: ``LocalCluster(nameservices=2)``.

Two nameservices of one NameNode each (fast) share three DataNodes: each group
has its leader, every DataNode registers with both and keeps one block pool
per nameservice, a restarted DataNode comes back in both, and ``load`` and
``stop`` cover every group.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import grpc
import pytest

from chaos.cluster import LocalCluster, os_process, wait_until
from client import Client
from client.config import load
from hafs_api.v1 import admin_pb2, admin_pb2_grpc

pytestmark = pytest.mark.integration

NAMESERVICES = ["ns1", "ns2"]
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": 64 * 1024}
HACTL = str(Path(sys.executable).parent / "hactl")


@pytest.fixture
def cluster(make_cluster) -> LocalCluster:
    return make_cluster(nameservices=2, namenodes=1, datanodes=3, namespace=SMALL)


def exists(pid: int | None) -> bool:
    found = os_process(pid) if pid else None
    return found is not None and found[0] not in ("Z", "X")


def live_datanodes(cluster: LocalCluster, nameservice: str) -> set[str]:
    """The addresses of the DataNodes ``nameservice``'s leader sees live and reported."""
    report = cluster.datanode_report(nameservice)
    return {d.address for d in report if d.liveness == admin_pb2.LIVE and d.reported}


def test_each_nameservice_has_its_leader_and_every_datanode(cluster):
    leaders = cluster.leaders(10)
    assert sorted(leaders) == NAMESERVICES == cluster.nameservice_ids
    assert {ns: n.node_id for ns, n in leaders.items()} == {"ns1": "nn1", "ns2": "nn2"}
    assert cluster.wait_leader(10) is leaders["ns1"]  # the default nameservice
    assert cluster.wait_leader(10, nameservice="ns2") is leaders["ns2"]
    assert cluster.addresses == cluster.addresses_of("ns1") == [leaders["ns1"].address]
    assert [n.node_id for n in cluster.namenode_nodes_of("ns2")] == ["nn2"]
    with pytest.raises(KeyError, match="ns3"):
        cluster.addresses_of("ns3")

    everyone = {n.address for n in cluster.datanode_nodes}
    for ns in NAMESERVICES:
        assert live_datanodes(cluster, ns) == everyone

    # each group its own secrets; every NameNode knows every group; the client too
    nn1, nn2 = (tomllib.loads(n.config_path.read_text()) for n in cluster.namenode_nodes)
    assert nn1["blocks"]["token_secret"] != nn2["blocks"]["token_secret"]
    for cfg in (nn1, nn2):
        assert cfg["federation"]["default_nameservice"] == "ns1"
        assert {ns: t["namenodes"] for ns, t in cfg["federation"]["nameservices"].items()} == {
            ns: cluster.addresses_of(ns) for ns in NAMESERVICES
        }
    dn1 = tomllib.loads(cluster.node("dn1").config_path.read_text())
    assert {ns: t["block_token_secret"] for ns, t in dn1["nameservices"].items()} == {
        "ns1": nn1["blocks"]["token_secret"],
        "ns2": nn2["blocks"]["token_secret"],
    }
    config = load(cluster.client_conf)
    assert config.nameservice(None).name == "ns1"
    assert config.nameservice("ns2").namenodes == tuple(cluster.addresses_of("ns2"))


def mount(cluster: LocalCluster, path: str, nameservice: str) -> None:
    """Mount ``path`` on ``nameservice`` where the NameNodes keep a mount table, and wait
    until that nameservice holds it; NameNodes without one own every path."""
    user = getpass.getuser()
    with grpc.insecure_channel(cluster.wait_leader(10).address) as channel:
        try:
            admin_pb2_grpc.HaAdminStub(channel).AddMount(
                admin_pb2.AddMountRequest(path=path, nameservice=nameservice, user=user),
                timeout=10,
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            return

    def installed() -> bool:
        with grpc.insecure_channel(cluster.wait_leader(10, nameservice).address) as channel:
            reply = admin_pb2_grpc.HaAdminStub(channel).GetMountTable(
                admin_pb2.GetMountTableRequest(), timeout=5
            )
        return any(m.path == path for m in reply.table.entries)

    wait_until(installed, 10, f"{path} mounted in {nameservice}", poll=0.1)


def test_a_write_in_each_nameservice_lands_in_its_own_block_pool(cluster):
    mount(cluster, "/two", "ns2")
    config = load(cluster.client_conf)
    files = {"ns1": "/one.bin", "ns2": "/two/two.bin"}
    blocks = {}
    for ns, path in files.items():
        data = os.urandom(100_000)
        with Client(config=config, nameservice=ns) as fs:
            fs.write_bytes(path, data)
            assert fs.read_bytes(path) == data
            blocks[ns] = fs.block_locations(path)
        assert blocks[ns] and all(len(b.hosts) == 3 for b in blocks[ns])

    for dn in cluster.datanode_nodes:
        current = cluster.base_dir / dn.node_id / "current"
        assert sorted(p.name for p in current.iterdir() if p.is_dir()) == NAMESERVICES
        for ns, located in blocks.items():
            for block in located:
                found = list((current / ns).rglob(f"blk_{block.block_id}_*"))
                assert found, f"{dn.node_id} holds no replica of {ns}'s block {block.block_id}"


def test_a_restarted_datanode_registers_again_with_every_nameservice(cluster):
    dn = cluster.node("dn1")
    assert dn.kill()
    wait_until(
        lambda: all(dn.address not in live_datanodes(cluster, ns) for ns in NAMESERVICES),
        15,
        "dn1 no longer live in both nameservices",
        poll=0.2,
    )
    dn.start()
    everyone = {n.address for n in cluster.datanode_nodes}
    wait_until(
        lambda: all(live_datanodes(cluster, ns) == everyone for ns in NAMESERVICES),
        30,
        "dn1 live and reported in both nameservices again",
        poll=0.2,
    )
    cluster.wait_datanodes(3, 5)


def test_load_reattaches_to_every_nameservice_and_stop_stops_all(cluster):
    state = json.loads(cluster.state_file.read_text())
    recorded = {n["name"]: n["nameservice"] for n in state["nodes"]}
    assert recorded == {"nn1": "ns1", "nn2": "ns2", **{f"dn{i}": "ns1,ns2" for i in (1, 2, 3)}}

    again = LocalCluster.load(cluster.base_dir)
    assert (again.nameservices, again.namenodes, again.datanodes) == (2, 1, 3)
    assert again.nameservice_ids == NAMESERVICES
    assert {ns: n.node_id for ns, n in again.leaders(10).items()} == {"ns1": "nn1", "ns2": "nn2"}
    again.wait_datanodes(3, 10)
    assert again.addresses_of("ns2") == cluster.addresses_of("ns2")

    pids = [n.pid for n in cluster.nodes]
    assert len(pids) == 5 and all(exists(pid) for pid in pids)
    again.stop()
    # a process may still be exiting (its /proc cmdline already empty): the parent reaps it
    assert all(n.wait_exit(5) for n in cluster.nodes)
    assert not [pid for pid in pids if exists(pid)]


# -- hactl dev up --nameservices ------------------------------------------------------


def hactl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HACTL, *args], capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL
    )


def ok(*args: str) -> str:
    done = hactl(*args)
    assert done.returncode == 0, f"hactl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def dev_dir(tmp_path):
    """A dev cluster's directory; afterwards nothing of it runs, even when the test failed."""
    base = tmp_path / "dev"
    try:
        yield base
    finally:
        if (base / "cluster.json").exists():
            hactl("dev", "down", "--dir", str(base), "--timeout", "5")
            for node in json.loads((base / "cluster.json").read_text())["nodes"]:
                found = os_process(node["pid"]) if node["pid"] else None
                if found is not None and str(base) in found[1]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(node["pid"], signal.SIGKILL)


def test_dev_up_with_two_nameservices(dev_dir):
    where = ["--dir", str(dev_dir)]
    banner = ok("dev", "up", *where, "--nameservices", "2", "--namenodes", "1", "--datanodes", "2")
    assert "2 nameservices of 1 NameNode(s), 2 DataNode(s) shared" in banner
    assert "nameservice  ns1 (default), leader nn1" in banner
    assert "nameservice  ns2, leader nn2" in banner

    rows = {row["name"]: row for row in json.loads(ok("dev", "status", *where, "--json"))}
    assert {n: (r["kind"], r["nameservice"], r["role"]) for n, r in rows.items()} == {
        "nn1": ("namenode", "ns1", "active"),
        "nn2": ("namenode", "ns2", "active"),
        "dn1": ("datanode", "ns1,ns2", "datanode"),
        "dn2": ("datanode", "ns1,ns2", "datanode"),
    }
    assert "NAMESERVICE" in ok("dev", "status", *where)

    conf = dev_dir / "cluster.toml"
    ok("--conf", str(conf), "fs", "-mkdir", "/x")
    assert "/x" in ok("--conf", str(conf), "fs", "-ls", "/")

    assert "stopped nn1, nn2, dn1, dn2" in ok("dev", "down", *where)
    refused = hactl("dev", "up", *where, "--nameservices", "3")
    assert refused.returncode == 1
    assert "holds a cluster of 2 nameservices, not 3" in refused.stderr
    restarted = ok("dev", "up", *where)  # as recorded: 2 nameservices, same ports and data
    assert "2 nameservices of 1 NameNodes each and 2 shared DataNodes" in restarted
    assert "/x" in ok("--conf", str(conf), "fs", "-ls", "/")
    ok("dev", "down", *where)
