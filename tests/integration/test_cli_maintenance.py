"""``hactl dn maintenance`` on a real cluster (1 NameNode, 4 DataNodes): a DataNode in
maintenance is stopped, and its blocks are not re-replicated while the others hold
enough; fsck stays healthy and the files read back; recommissioned and restarted, it
is back in service."""

from __future__ import annotations

import json
import os
import time

import pytest
from hactl_runner import hactl_runner

from chaos.cluster import wait_until
from client import Client

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}


@pytest.fixture
def cluster(make_cluster):
    return make_cluster(datanodes=4, namespace=SMALL)


@pytest.fixture
def hactl(cluster):
    return hactl_runner(cluster.client_conf)


def replicas_by_node(fs: Client) -> dict[str, int]:
    return {n.address: n.replicas for n in fs.datanodes()}


def test_a_stopped_datanode_in_maintenance_is_not_re_replicated(cluster, hactl, superuser):
    files = {"/m/two": (2, os.urandom(3 * BLOCK)), "/m/three": (3, os.urandom(2 * BLOCK + 9))}
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        for path, (replication, data) in files.items():
            with fs.open(path, "wb", replication=replication) as f:
                f.write(data)
        wait_until(lambda: fs.fsck("/").replicas == 3 * 2 + 3 * 3, 10, "every replica reported")
        victim = fs.block_locations("/m/two")[0].hosts[0]
        node = next(n for n in cluster.datanode_nodes if n.address == victim)

        started = time.time()
        entering = json.loads(
            hactl("dn", "maintenance", victim, "--duration", "1h", "--json").stdout
        )
        assert entering["address"] == victim
        assert entering["admin_state"] in ("entering maintenance", "in maintenance")
        assert started + 3590 < entering["maintenance_expiry_ms"] / 1000 < time.time() + 3610
        wait_until(
            lambda: any(n.address == victim and n.admin_state == "in maintenance"
                        for n in fs.datanodes()),
            20, "in maintenance", poll=0.2,
        )  # fmt: skip
        before = replicas_by_node(fs)

        node.kill()
        wait_until(
            lambda: any(n.address == victim and n.liveness == "dead" for n in fs.datanodes()),
            20, "the victim dead", poll=0.2,
        )  # fmt: skip
        time.sleep(4)  # eight monitor passes: a dead in-service node's blocks would be copied
        after = replicas_by_node(fs)
        assert {a: c for a, c in after.items() if a != victim} == {
            a: c for a, c in before.items() if a != victim
        }  # no new replica anywhere
        report = json.loads(hactl("fsck", "/", "--files", "--json").stdout)
        assert (report["healthy"], report["missing"], report["under_replicated"]) == (True, 0, 0)
        held = [b for f in report["entries"] for b in f["blocks"] if b["maintenance"]]
        assert held and all(b["live"] == b["expected"] - 1 for b in held)
        for path, (_, data) in files.items():  # read from the others
            assert fs.read_bytes(path) == data

        text = hactl("report", "--inmaintenance").stdout
        assert "In maintenance datanodes (1):" in text
        assert "Decommission Status : In maintenance" in text
        assert "Maintenance expiry: " in text and "never" not in text
        listed = hactl("dn", "list").stdout
        assert "in maintenance" in listed

        node.start()
        back = json.loads(hactl("dn", "recommission", victim, "--json").stdout)
        assert (back["admin_state"], back["maintenance_expiry_ms"]) == ("in service", 0)
        cluster.wait_datanodes(4, 30)
        wait_until(
            lambda: fs.fsck("/").over_replicated == 0 and fs.fsck("/").healthy, 20, "healthy"
        )
        for path, (_, data) in files.items():
            assert fs.read_bytes(path) == data


def test_dn_commands_fail_with_exit_1_and_json_errors(cluster, hactl):
    for command in ("maintenance", "decommission", "recommission"):
        failed = hactl("dn", command, "nobody:1", "--json", code=1)
        assert json.loads(failed.stdout) is None
        error = json.loads(failed.stderr)["error"]
        assert error["command"] == f"dn {command}" and "no DataNode 'nobody:1'" in error["message"]
    bad = hactl("dn", "maintenance", "x", "--duration", "soon", code=2)
    assert "not a duration" in bad.stderr
    victim = cluster.datanode_nodes[0].address
    text = hactl("dn", "maintenance", victim).stdout
    assert text.startswith("Maintenance ") and f"({victim}): " in text
    assert text.rstrip().endswith("maintenance, until recommissioned")
    hactl("dn", "decommission", victim)
    refused = hactl("dn", "maintenance", victim, code=1)
    assert "recommission it before maintenance" in refused.stderr
    hactl("dn", "recommission", victim)
