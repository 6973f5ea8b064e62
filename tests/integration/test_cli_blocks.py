"""``hactl fsck`` and ``hactl dn`` on a real cluster (1 NameNode, 4 DataNodes)."""

from __future__ import annotations

import json
import os

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


def test_fsck_reports_files_blocks_and_locations(cluster, hactl, superuser):
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.write_bytes("/data/a", os.urandom(2 * BLOCK + 5))
        fs.write_bytes("/data/b", b"")
        wait_until(lambda: fs.fsck("/").replicas == 9, 10, "every replica reported")
    text = hactl("fsck", "/data", "--files").stdout
    assert "/data/a 131077 bytes, replicated: replication=3, 3 block(s):  OK" in text
    assert "0. blk_" in text and "Live_repl=3 [127.0.0.1:" in text
    assert "Status: HEALTHY" in text and " Total files:\t2" in text
    assert "The filesystem under path '/data' is HEALTHY" in text
    report = json.loads(hactl("fsck", "/", "--json").stdout)
    assert (report["blocks"], report["missing"], report["healthy"]) == (3, 0, True)
    missing = hactl("fsck", "/nope", code=1)
    assert "fsck: '/nope'" in missing.stderr


def test_dn_list_decommission_and_recommission(cluster, hactl, superuser):
    rows = json.loads(hactl("dn", "list", "--json").stdout)
    assert len(rows) == 4 and {r["liveness"] for r in rows} == {"live"}
    text = hactl("dn", "list").stdout
    assert text.splitlines()[0].split()[:3] == ["ID", "ADDRESS", "RACK"]
    victim = rows[0]["address"]
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.write_bytes("/d", os.urandom(3 * BLOCK))
        done = hactl("dn", "decommission", victim).stdout
        assert "decommissioning" in done
        wait_until(
            lambda: any(
                n.address == victim and n.admin_state == "decommissioned" for n in fs.datanodes()
            ),
            60,
            "drained",
            poll=0.5,
        )
        for block in fs.block_locations("/d"):  # 3 copies elsewhere; it is read last
            others = [h for h in block.hosts if h != victim]
            assert len(others) == 3 and list(block.hosts[:3]) == others
    again = json.loads(hactl("dn", "recommission", victim, "--json").stdout)
    assert again["admin_state"] == "in service"
    unknown = hactl("dn", "decommission", "nobody:1", code=1)
    assert "no DataNode 'nobody:1'" in unknown.stderr
