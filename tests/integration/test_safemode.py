"""``hactl safemode`` and ``hactl metasave`` on real clusters.

* 3 NameNodes, 3 DataNodes: safe mode refuses changes (CLI and Python), reads
  work, it survives killing the leader, and leaving lets writes through again;
  metasave is refused by a follower.
* 1 NameNode: only the superuser enters or leaves; ``wait`` returns when another
  process leaves, and times out with exit 1.
* 1 NameNode, 4 DataNodes: with a DataNode dead in safe mode, no copy is
  scheduled while the block stays under-replicated; metasave shows its blocks
  with their paths (to a file, stdout and JSON) and refuses an unwritable FILE;
  after leaving, the blocks are re-replicated.
* 2 nameservices: each has its own flag; without ``--nameservice`` the commands
  cover both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hactl_runner import hactl_runner

from chaos.cluster import wait_until
from client import Client, NotLeader, SafeModeOn
from hafs_api.v1 import admin_pb2

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}
ROOT = Path(__file__).resolve().parents[2]


def runner_for(cluster):
    return hactl_runner(cluster.client_conf)


def test_safe_mode_refuses_changes_keeps_reads_and_survives_failover(make_cluster, superuser):
    cluster = make_cluster(namenodes=3, datanodes=3, namespace=SMALL)
    hactl = runner_for(cluster)
    data = os.urandom(BLOCK + 10)
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.write_bytes("/data/a", data)
        assert "Safe mode is OFF in ns1" in hactl("safemode", "get").stdout

        entered = hactl("safemode", "enter", "--reason", "upgrade").stdout
        assert f"Safe mode is ON in ns1 (reason: upgrade, by {superuser} since " in entered
        mkdir = hactl("fs", "-mkdir", "/x", code=1)
        assert "safe mode" in mkdir.stderr and "reason: upgrade" in mkdir.stderr
        assert "hactl safemode leave" in mkdir.stderr
        hactl("fs", "-rm", "-skipTrash", "/data/a", code=1)
        with pytest.raises(SafeModeOn, match="upgrade"):
            fs.write_bytes("/data/b", b"new")
        with pytest.raises(SafeModeOn):
            fs.chmod("/data/a", 0o600)
        assert fs.read_bytes("/data/a") == data  # reads keep working
        assert [s.path for s in fs.ls("/data")] == ["/data/a"]
        [status] = json.loads(hactl("safemode", "get", "--json").stdout)
        assert (status["nameservice"], status["on"], status["reason"]) == ("ns1", True, "upgrade")
        assert status["set_by"] == superuser and status["since"] > 0

        old = cluster.wait_leader()
        follower = next(n for n in cluster.namenode_nodes if n is not old)
        with pytest.raises(NotLeader):  # metasave is the leader's
            fs.connection.call_at(
                follower.address, "MetaSave", admin_pb2.MetaSaveRequest(), timeout=5
            )
        answer = fs.connection.call_at(
            follower.address, "GetStatus", admin_pb2.GetStatusRequest(), timeout=5
        )
        assert answer.safe_mode  # replicated: every NameNode holds it

        old.signal(signal.SIGKILL)
        new = cluster.wait_leader()
        assert new is not old
        assert "Safe mode is ON in ns1 (reason: upgrade" in hactl("safemode", "get").stdout
        with pytest.raises(SafeModeOn):
            fs.mkdir("/after-failover")

        assert "Safe mode is OFF in ns1" in hactl("safemode", "leave").stdout
        fs.mkdir("/after-failover")
        fs.write_bytes("/data/b", b"new")
        assert fs.read_bytes("/data/b") == b"new"


def test_only_the_superuser_switches_and_wait_follows_another_process(cluster, superuser):
    hactl = runner_for(cluster)
    denied = hactl("safemode", "enter", user="alice", code=1)
    assert "Superuser privilege is required" in denied.stderr
    assert json.loads(hactl("safemode", "enter", "--json").stdout)[0]["on"] is True
    hactl("safemode", "leave", user="alice", code=1)
    timed_out = hactl("safemode", "wait", "--timeout", "0.5", code=1)
    assert "safe mode is still ON in ns1" in timed_out.stderr
    unknown = hactl("safemode", "get", "--nameservice", "nope", code=1)
    assert "unknown nameservice 'nope'" in unknown.stderr

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hactl_cmd = [sys.executable, "-m", "client.cli.main", "--conf", str(cluster.client_conf)]
    waiter = subprocess.Popen(
        [*hactl_cmd, "safemode", "wait", "--timeout", "30", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting
        with Client(addresses=cluster.addresses, user=superuser) as fs:
            assert fs.leave_safe_mode().on is False
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
    assert waiter.returncode == 0, err
    assert json.loads(out) == [
        {"nameservice": "ns1", "on": False, "reason": "", "set_by": "", "since": 0}
    ]


def test_no_copies_in_safe_mode_and_metasave_shows_the_blocks(make_cluster, superuser, tmp_path):
    cluster = make_cluster(datanodes=4, namespace=SMALL)
    hactl = runner_for(cluster)
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.write_bytes("/d/file", os.urandom(2 * BLOCK))
        wait_until(lambda: fs.fsck("/").replicas == 6, 15, "every replica reported")
        fs.enter_safe_mode("disk swap")
        # a DataNode with a replica of both blocks (3 of 4 each: two always share one)
        shared = set.intersection(*(set(b.hosts) for b in fs.block_locations("/d/file")))
        victim_address = sorted(shared)[0]
        victim = next(n for n in cluster.datanode_nodes if n.address == victim_address)
        victim.signal(signal.SIGKILL)
        wait_until(
            lambda: any(n.liveness == "dead" for n in fs.datanodes()), 20, "the DataNode dead"
        )
        time.sleep(2.0)  # four monitor passes after it died
        dump = fs.metasave()
        assert dump.safe_mode.on and dump.safe_mode.reason == "disk swap"
        assert dump.replicating == ()  # nothing copied while in safe mode
        assert {b.path for b in dump.under_replicated} == {"/d/file"}
        assert len(dump.under_replicated) == 2
        assert all(b.live == 2 and b.expected == 3 for b in dump.under_replicated)
        assert fs.fsck("/").under_replicated == 2

        text_file = tmp_path / "meta.txt"
        created = hactl("metasave", str(text_file))
        assert created.stdout == f"Created metasave file {text_file}\n"
        text = text_file.read_text()
        assert "Metasave: Blocks waiting for replication: 2" in text
        assert "Metasave: Blocks currently missing: 0" in text
        assert "Metasave: Blocks being replicated: 0" in text
        assert "Metasave: Number of datanodes: 4" in text
        assert "/d/file: blk_" in text and "(replicas: l: 2 d: 0 m: 0 c: 0 e: 3)" in text
        assert "Safe mode is ON in ns1 (reason: disk swap" in text
        assert text.count(" dead in service: capacity") == 1
        stdout = hactl("metasave", "-", "--limit", "1").stdout
        assert "Metasave: Blocks waiting for replication: 1\n" in stdout
        assert "Metasave: truncated" in stdout and "Created metasave" not in stdout

        json_file = tmp_path / "meta.json"
        result = json.loads(hactl("metasave", str(json_file), "--json").stdout)
        assert result == {"file": str(json_file), "nameservices": ["ns1"], "truncated": False}
        [saved] = json.loads(json_file.read_text())
        assert saved["nameservice"] == "ns1" and saved["safe_mode"]["on"] is True
        assert [b["path"] for b in saved["under_replicated"]] == ["/d/file", "/d/file"]
        assert len(saved["datanodes"]) == 4
        [piped] = json.loads(hactl("metasave", "-", "--json").stdout)
        assert piped["files"] == 1

        missing_dir = tmp_path / "nope" / "meta.txt"
        failed = hactl("metasave", str(missing_dir), code=1)
        assert f"metasave: cannot write {missing_dir}" in failed.stderr
        a_directory = tmp_path / "a-directory"
        a_directory.mkdir()
        hactl("metasave", str(a_directory), code=1)
        assert list(a_directory.iterdir()) == [] and not missing_dir.parent.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "a-directory",
            "cluster0",
            "meta.json",
            "meta.txt",
        ]  # no temporary file left behind

        fs.leave_safe_mode()
        wait_until(lambda: fs.fsck("/").under_replicated == 0, 30, "re-replicated", poll=0.5)
        assert fs.fsck("/").replicas == 6


def test_each_nameservice_has_its_own_safe_mode(make_cluster):
    cluster = make_cluster(nameservices=2)
    hactl = runner_for(cluster)
    entered = hactl("safemode", "enter", "--nameservice", "ns2", "--reason", "ns2 only").stdout
    assert entered.startswith("Safe mode is ON in ns2 (reason: ns2 only, by ")
    assert hactl("safemode", "get").stdout.splitlines()[0] == "Safe mode is OFF in ns1"
    states = json.loads(hactl("safemode", "get", "--json").stdout)
    assert [(s["nameservice"], s["on"]) for s in states] == [("ns1", False), ("ns2", True)]
    assert [d["nameservice"] for d in json.loads(hactl("metasave", "-", "--json").stdout)] == [
        "ns1",
        "ns2",
    ]
    left = hactl("safemode", "leave").stdout.splitlines()
    assert left == ["Safe mode is OFF in ns1", "Safe mode is OFF in ns2"]
