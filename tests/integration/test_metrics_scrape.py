"""Prometheus metrics over HTTP: the endpoint itself, start-up and shutdown of the
daemons that serve it, and every node of a real 3-NameNode, 3-DataNode cluster scraped
while it works."""

from __future__ import annotations

import getpass
import math
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections import defaultdict

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from chaos.cluster import LocalCluster, free_port, wait_until, write_toml
from client import Client
from ha_namenode.config import NameNodeConfig
from ha_namenode.node import NameNode
from hafs_api.errors import FileNotFound
from hafs_api.metrics import MetricsServer

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {
    "trash_interval_s": 0,
    "min_block_size": 4096,
    "default_block_size": BLOCK,
    "bytes_per_checksum": 512,
}
Samples = dict[tuple[str, frozenset], float]


def fetch(address: str, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as reply:
        return reply.read().decode()


def scrape(address: str) -> Samples:
    """Every sample of one node's /metrics: (name, labels) -> value."""
    out: Samples = {}
    for family in text_string_to_metric_families(fetch(address)):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def get(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


# ---- the endpoint ---------------------------------------------------------------------


def test_the_endpoint_serves_metrics_and_nothing_else_then_closes():
    registry = CollectorRegistry()
    Gauge("hafs_test_value", "A value.", registry=registry).set(3)
    server = MetricsServer("127.0.0.1:0", registry)
    server.start()
    try:
        assert "hafs_test_value 3.0" in fetch(server.address)
        with pytest.raises(urllib.error.HTTPError) as e:
            fetch(server.address, "/")
        assert e.value.code == 404
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):
        fetch(server.address)
    again = MetricsServer(server.address, registry)  # the port was let go
    again.stop()  # never started: closes all the same


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        with pytest.raises(OSError, match=rf"metrics\.address {address}: cannot listen"):
            MetricsServer(address, CollectorRegistry())


def test_a_namenode_serves_metrics_until_it_stops(tmp_path):
    config = NameNodeConfig.from_dict(
        {
            "namenode": {"rpc_address": "127.0.0.1:0", "data_dir": str(tmp_path / "nn")},
            "blocks": {"token_secret": "s"},
            "metrics": {"address": "127.0.0.1:0"},
        }
    )
    node = NameNode.from_config(config).start()
    try:
        samples = scrape(node.metrics_address)
        assert get(samples, "hafs_raft_is_leader", nameservice="ns1", node="nn1") == 1
        assert get(samples, "process_cpu_seconds_total") is not None
    finally:
        node.stop()
    with pytest.raises(urllib.error.URLError):
        fetch(node.metrics_address)


@pytest.mark.parametrize("kind", ["namenode", "datanode"])
def test_a_daemon_whose_metrics_port_is_taken_does_not_start(tmp_path, kind):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        metrics = f"127.0.0.1:{busy.getsockname()[1]}"
        address = f"127.0.0.1:{free_port()}"
        if kind == "namenode":
            sections = {
                "namenode": {"rpc_address": address, "data_dir": str(tmp_path / "nn")},
                "metrics": {"address": metrics},
            }
            module = "ha_namenode"
        else:
            sections = {
                "datanode": {"rpc_address": address, "data_dirs": [str(tmp_path / "dn")]},
                "nameservices.ns1": {"namenodes": [address], "block_token_secret": "s"},
                "metrics": {"address": metrics},
            }
            module = "datanode"
        write_toml(tmp_path / "node.toml", sections)
        done = subprocess.run(
            [sys.executable, "-m", module, "--config", str(tmp_path / "node.toml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert f"metrics.address {metrics}: cannot listen" in done.stderr


def test_old_cluster_records_load_without_metrics_addresses(tmp_path):
    (tmp_path / "cluster.json").write_text(
        '{"version": 1, "client_conf": "c.toml", "nodes": [{"name": "nn1", '
        '"kind": "namenode", "nameservice": "ns1", "pid": null, "rpc_address": '
        '"127.0.0.1:1", "raft_address": null, "config": "nn1.toml", "log": "nn1.log"}]}'
    )
    cluster = LocalCluster.load(tmp_path)
    assert cluster.nodes[0].metrics_address is None
    assert cluster.nodes[0].to_dict()["metrics_address"] is None


# ---- a real cluster ---------------------------------------------------------------------


def scrape_all(cluster: LocalCluster) -> dict[str, Samples]:
    return {n.node_id: scrape(n.metrics_address) for n in cluster.nodes}


def test_every_node_of_a_cluster_reports_what_it_does(make_cluster):
    cluster = make_cluster(namenodes=3, datanodes=3, namespace=SMALL)
    recorded = LocalCluster.load(cluster.base_dir)
    assert all(n.metrics_address for n in recorded.nodes)
    assert len({n.metrics_address for n in recorded.nodes}) == 6
    namenodes = [n.node_id for n in cluster.namenode_nodes]
    datanodes = [n.node_id for n in cluster.datanode_nodes]
    leader = cluster.wait_leader().node_id
    fs = Client(addresses=cluster.addresses)
    before = scrape_all(cluster)
    base = {
        name: get(before[leader], f"hafs_namespace_{name}")
        for name in ("files", "directories", "blocks")
    }

    sizes = [10, BLOCK, 2 * BLOCK + 5, 3 * BLOCK]
    fs.mkdir("/metrics-test/a", parents=True)
    fs.mkdir("/metrics-test/b")
    for i, size in enumerate(sizes):
        fs.write_bytes(f"/metrics-test/a/file{i}", bytes([i]) * size)
    for i, size in enumerate(sizes):
        assert fs.read_bytes(f"/metrics-test/a/file{i}") == bytes([i]) * size
    with pytest.raises(FileNotFound):
        fs.stat("/metrics-test/none")
    want = {
        "files": base["files"] + len(sizes),
        "directories": base["directories"] + 3,
        "blocks": base["blocks"] + sum(math.ceil(s / BLOCK) for s in sizes),
    }

    def counted() -> dict[str, Samples] | None:
        """Once followers applied it all and the leader's scan saw every replica."""
        now = scrape_all(cluster)
        for node in namenodes:
            for name, value in want.items():
                if get(now[node], f"hafs_namespace_{name}") != value:
                    return None
        health = ("hafs_blocks_missing", "hafs_blocks_under_replicated")
        return now if not any(get(now[leader], name) for name in health) else None

    after = wait_until(counted, 30, "every NameNode to count what was created", poll=0.2)

    # Raft: one leader, one term, a full group.
    leaders = [n for n in namenodes if get(after[n], "hafs_raft_is_leader") == 1]
    assert leaders == [leader]
    assert all(get(after[n], "hafs_raft_is_leader") == 0 for n in namenodes if n != leader)
    assert len({get(after[n], "hafs_raft_term") for n in namenodes}) == 1
    assert all(get(after[n], "hafs_raft_members") == 3 for n in namenodes)
    assert get(after[leader], "hafs_raft_members_reachable") == 3
    assert get(after[leader], "hafs_raft_leader_changes_total") >= 1
    assert get(after[leader], "hafs_raft_commit_index") >= get(
        before[leader], "hafs_raft_commit_index"
    )
    proposals = get(after[leader], "hafs_raft_proposal_seconds_count")
    assert proposals - get(before[leader], "hafs_raft_proposal_seconds_count") >= 2 + 3 * 4
    for node in namenodes:
        labels = {"nameservice": "ns1", "node": node}
        assert get(after[node], "hafs_raft_applied_index", **labels) > 0

    # The leader's view of blocks and DataNodes; followers report zeros.
    assert get(after[leader], "hafs_datanodes", state="live") == 3
    assert get(after[leader], "hafs_datanodes", state="dead") == 0
    assert get(after[leader], "hafs_capacity_bytes", kind="total") > 0
    assert get(after[leader], "hafs_blocks_corrupt") == 0
    for follower in set(namenodes) - {leader}:
        assert get(after[follower], "hafs_datanodes", state="live") == 0

    # RPC histograms and errors for the calls made.
    for method in ("Mkdir", "Create", "AddBlock", "Complete", "GetBlockLocations"):
        count = total(
            after[leader],
            "hafs_rpc_server_handling_seconds_count",
            service="ClientNamenode",
            method=method,
        )
        assert count > 0, method
    assert total(after[leader], "hafs_rpc_server_handling_seconds_count", method="Heartbeat") > 0
    missing = total(
        after[leader], "hafs_rpc_server_errors_total", method="GetFileInfo", code="FILE_NOT_FOUND"
    )
    assert missing >= 1
    for node in datanodes:
        dn = after[node]
        assert total(dn, "hafs_rpc_server_handling_seconds_count", method="WriteBlock") > 0
        assert get(dn, "hafs_datanode_heartbeat_seconds_count", nameservice="ns1") > 0
        assert get(dn, "hafs_datanode_blocks", nameservice="ns1") >= want["blocks"] - base["blocks"]
        assert get(dn, "hafs_datanode_failed_volumes") == 0
        assert get(dn, "hafs_datanode_capacity_bytes", kind="total") > 0

    # DataNode bytes: every replica of every byte written (replication 3, 3 DataNodes).
    def grown(name: str) -> float:
        return sum(total(after[n], name) - total(before[n], name) for n in datanodes)

    assert grown("hafs_datanode_written_bytes_total") >= 3 * sum(sizes)
    assert all(
        total(after[n], "hafs_datanode_written_bytes_total")
        > total(before[n], "hafs_datanode_written_bytes_total")
        for n in datanodes
    )
    assert grown("hafs_datanode_read_bytes_total") >= sum(sizes)
    assert grown("hafs_datanode_checksum_failures_total") == 0

    # Labels name nodes, services, methods, codes and states: never a path or a user.
    user = getpass.getuser()
    by_label: dict[str, set[str]] = defaultdict(set)
    for samples in after.values():
        for _, labels in samples:
            for key, value in labels:
                by_label[key].add(value)
                assert "metrics-test" not in value and "file0" not in value, (key, value)
                assert value != user, (key, value)
    assert by_label["nameservice"] == {"ns1"}
    assert set(namenodes) <= by_label["node"]
    assert {"ClientNamenode", "HaAdmin", "DatanodeNamenode", "DataTransfer"} <= by_label["service"]

    # A leadership transfer: the NameNode that took over counts one more time it became
    # leader, the one that stepped down and the bystander nothing, so the sum over the
    # nameservice counts the change once.
    target = next(n for n in namenodes if n != leader)
    fs.transfer_leadership(target)
    wait_until(lambda: cluster.wait_leader().node_id == target, 15, f"{target} to lead")
    changes = {n: get(after[n], "hafs_raft_leader_changes_total") for n in namenodes}

    def transferred() -> dict[str, Samples] | None:
        now = scrape_all(cluster)
        return now if get(now[target], "hafs_raft_is_leader") == 1 else None

    after = wait_until(transferred, 15, f"{target} to report itself leader", poll=0.2)
    for node in namenodes:
        want = changes[node] + (node == target)
        assert get(after[node], "hafs_raft_leader_changes_total") == want, node
    leader = target

    # A failover: the new leader's metrics say so, and one member is out of reach.
    term = get(after[leader], "hafs_raft_term")
    assert cluster.node(leader).kill()
    new = cluster.wait_leader(15).node_id
    survivors = [n for n in namenodes if n != leader]

    def failed_over() -> dict[str, Samples] | None:
        now = {n: scrape(cluster.node(n).metrics_address) for n in survivors}
        ok = (
            get(now[new], "hafs_raft_members_reachable") == 2
            and len({get(now[n], "hafs_raft_term") for n in survivors}) == 1
        )
        return now if ok else None

    later = wait_until(failed_over, 15, "the survivors to agree on the new term", poll=0.2)
    assert [n for n in survivors if get(later[n], "hafs_raft_is_leader") == 1] == [new]
    assert get(later[new], "hafs_raft_term") > term
    assert get(later[new], "hafs_raft_leader_changes_total") >= 1
    assert get(later[new], "hafs_raft_members") == 3
