"""The data path on a real cluster: 3 NameNodes (Raft) and 3 DataNodes, all processes.

Writes and reads through the Python client with small blocks, then faults:
a DataNode killed at rest and mid-write, a corrupt replica, the leader killed
mid-write, a failover before reads, a full DataNode, forged block tokens, a
crashed writer's lease, and a decommission.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from chaos.cluster import LocalCluster, wait_until
from client import Client
from hafs_api import tokens
from hafs_api.errors import AccessDenied
from hafs_api.status import from_rpc_error
from hafs_api.v1 import common_pb2, datatransfer_pb2, datatransfer_pb2_grpc

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024  # small blocks: multi-block files stay small
SMALL = {
    "trash_interval_s": 0,
    "min_block_size": 4096,
    "default_block_size": BLOCK,
    "bytes_per_checksum": 512,
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start(make_cluster, **kw) -> LocalCluster:
    kw.setdefault("namespace", SMALL)
    return make_cluster(namenodes=3, datanodes=kw.pop("datanodes", 3), **kw)


def client_of(cluster: LocalCluster) -> Client:
    return Client(addresses=cluster.addresses)


def heals(fs: Client) -> None:
    """fsck turns healthy: replicas past the minimum are reported moments after close."""
    wait_until(lambda: healthy(fs), 30, "fsck healthy", poll=0.5)


def healthy(fs: Client, path: str = "/") -> bool:
    report = fs.fsck(path)
    return report.healthy and report.under_replicated == 0 and report.missing == 0


def replica_files(cluster: LocalCluster, block_id: int) -> dict[str, Path]:
    """The finalized block file of ``block_id`` on each DataNode that holds one."""
    found = {}
    for node in cluster.datanode_nodes:
        for path in (cluster.base_dir / node.node_id).rglob(f"blk_{block_id}_*"):
            if "finalized" in path.parts and not path.name.endswith(".meta"):
                found[node.node_id] = path
    return found


def node_id_of(cluster: LocalCluster, address: str) -> str:
    return next(n.node_id for n in cluster.datanode_nodes if n.address == address)


def test_round_trips_and_replication_factors(make_cluster):
    cluster = start(make_cluster)
    with client_of(cluster) as fs:
        sizes = {"empty": 0, "one": 1, "block": BLOCK, "multi": 3 * BLOCK + 777}
        for replication in (1, 2, 3):
            for name, size in sizes.items():
                data = os.urandom(size)
                path = f"/r{replication}/{name}"
                fs.mkdir(f"/r{replication}", exist_ok=True)
                with fs.open(path, "wb", replication=replication) as f:
                    f.write(data)
                assert sha(fs.read_bytes(path)) == sha(data), path
                status = fs.stat(path)
                assert (status.length, status.replication) == (size, replication)
                assert len(fs.block_locations(path)) == -(-size // BLOCK)
                wait_until(  # complete needs one report; the others follow within moments
                    lambda p=path, r=replication: all(
                        len(b.hosts) == r for b in fs.block_locations(p)
                    ),
                    10,
                    f"{path} at replication {replication}",
                )
        # seek and ranged reads across a block boundary
        data = os.urandom(2 * BLOCK + 10)
        fs.write_bytes("/seek", data)
        with fs.open("/seek", "rb") as f:
            f.seek(BLOCK - 5)
            assert f.read(10) == data[BLOCK - 5 : BLOCK + 5]
            f.seek(2 * BLOCK + 3)
            assert f.read() == data[2 * BLOCK + 3 :]
        assert fs.read_bytes("/seek", BLOCK - 1, BLOCK + 1) == data[BLOCK - 1 : BLOCK + 1]
        fs.append_bytes("/seek", b"tail")
        assert fs.read_bytes("/seek") == data + b"tail"
        assert fs.checksum("/r3/multi") == fs.checksum("/r3/multi")
        heals(fs)


def test_a_dead_datanode_is_replaced_and_fsck_heals(make_cluster):
    cluster = start(make_cluster, datanodes=4)
    with client_of(cluster) as fs:
        data = os.urandom(4 * BLOCK)
        fs.write_bytes("/data", data)
        victim_address = fs.block_locations("/data")[0].hosts[0]
        victim = cluster.node(node_id_of(cluster, victim_address))
        killed = time.monotonic()
        victim.kill()

        def dead() -> bool:
            return any(n.address == victim_address and n.liveness == "dead" for n in fs.datanodes())

        def repaired() -> bool:
            blocks = fs.block_locations("/data")
            return healthy(fs) and all(
                victim_address not in b.hosts and len(b.hosts) == 3 for b in blocks
            )

        assert fs.read_bytes("/data") == data  # meanwhile, reads go around it
        wait_until(dead, 20, "the DataNode declared dead", poll=0.2)
        wait_until(repaired, 60, "every block back at replication 3", poll=0.5)
        took = time.monotonic() - killed
        assert took < 30, took  # dead after ~5 s in dev clusters, then the copies
        assert fs.read_bytes("/data") == data


def test_a_corrupt_replica_is_read_around_reported_and_replaced(make_cluster):
    cluster = start(make_cluster)
    with client_of(cluster) as fs:
        data = os.urandom(BLOCK)
        fs.write_bytes("/c", data)
        block = fs.block_locations("/c")[0]
        files = replica_files(cluster, block.block_id)
        assert len(files) == 3
        nearest = node_id_of(cluster, block.hosts[0])
        target = files[nearest]
        raw = bytearray(target.read_bytes())
        raw[100] ^= 0xFF
        target.write_bytes(bytes(raw))
        # every replica is tried in turn: read until the corrupt one was first
        for _ in range(10):
            assert fs.read_bytes("/c") == data
            if fs.fsck("/c").corrupt or not healthy(fs):
                break
        wait_until(
            lambda: (
                healthy(fs)
                and len(fs.block_locations("/c")[0].hosts) == 3
                and fs.fsck("/c").corrupt == 0
            ),
            60,
            "the corrupt replica replaced",
            poll=0.5,
        )
        assert fs.read_bytes("/c") == data


def test_the_scanner_finds_a_corrupt_replica_nobody_reads(make_cluster):
    cluster = start(make_cluster, datanode={"scan_period_s": 1.0})
    with client_of(cluster) as fs:
        data = os.urandom(BLOCK)
        fs.write_bytes("/cold", data)
        block = fs.block_locations("/cold")[0]
        wait_until(lambda: len(replica_files(cluster, block.block_id)) == 3, 10, "3 replicas")
        victim, path = sorted(replica_files(cluster, block.block_id).items())[0]
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0x01
        path.write_bytes(bytes(raw))
        wait_until(lambda: fs.fsck("/cold").corrupt == 1, 20, "the scanner's report", poll=0.2)
        wait_until(lambda: healthy(fs) and fs.fsck("/cold").corrupt == 0, 60, "replaced", poll=0.5)
        good = replica_files(cluster, block.block_id)
        assert len(good) == 3 and good[victim].read_bytes() == data  # rewritten in place
        assert fs.read_bytes("/cold") == data


def test_killing_a_datanode_mid_write_continues_the_pipeline(make_cluster):
    cluster = start(make_cluster, datanodes=4)
    with client_of(cluster) as fs:
        chunk = os.urandom(BLOCK // 4)
        written = b""
        with fs.open("/mid", "wb") as f:
            for i in range(12):
                f.write(chunk)
                written += chunk
                if i == 5:
                    f.flush()
                    located = fs.block_locations("/mid")
                    address = located[-1].hosts[0] if located else None
                    victim = (
                        cluster.node(node_id_of(cluster, address))
                        if address
                        else cluster.datanode_nodes[0]
                    )
                    victim.kill()
        assert fs.read_bytes("/mid") == written
        wait_until(
            lambda: healthy(fs), 60, "re-replication after the pipeline lost a node", poll=0.5
        )


def test_leader_killed_mid_write_and_reads_right_after_failover(make_cluster):
    cluster = start(make_cluster)
    with client_of(cluster) as fs:
        before = os.urandom(3 * BLOCK)
        fs.write_bytes("/before", before)
        data = os.urandom(BLOCK // 2)
        written = b""
        with fs.open("/during", "wb") as f:
            for i in range(10):
                f.write(data)
                written += data
                if i == 3:
                    cluster.wait_leader(5).kill()
        assert fs.read_bytes("/during") == written
        # the new leader serves the old file's locations at once, with no block report
        cluster.wait_leader(10)
        assert fs.read_bytes("/before") == before
        blocks = fs.block_locations("/before")
        assert [len(b.hosts) for b in blocks] == [3, 3, 3]
        wait_until(lambda: healthy(fs), 30, "fsck healthy under the new leader", poll=0.5)
        for block in blocks:  # and it deleted no replica
            assert len(replica_files(cluster, block.block_id)) == 3


def test_a_full_datanode_is_skipped_cleanly(make_cluster):
    cluster = start(make_cluster, datanodes=4, datanode={"capacity_bytes": 0})
    full = cluster.datanode_nodes[0]
    # restart one DataNode with room for almost nothing
    full.stop()
    text = full.config_path.read_text().replace("capacity_bytes = 0", "capacity_bytes = 8192")
    full.config_path.write_text(text)
    full.start()
    cluster.wait_datanodes(4, 30)
    with client_of(cluster) as fs:
        for i in range(6):
            data = os.urandom(2 * BLOCK)
            fs.write_bytes(f"/f{i}", data)
            assert fs.read_bytes(f"/f{i}") == data
            assert all(full.address not in b.hosts for b in fs.block_locations(f"/f{i}"))
        wait_until(lambda: healthy(fs), 30, "fsck healthy", poll=0.5)
    leftovers = [
        p for p in (cluster.base_dir / full.node_id).rglob("blk_*") if not p.name.endswith(".meta")
    ]
    assert leftovers == []  # nothing partial or corrupt left behind


def test_block_tokens_are_required(make_cluster):
    cluster = start(make_cluster)
    with client_of(cluster) as fs:
        fs.write_bytes("/secret", b"x" * 1000)
        block = fs.block_locations("/secret")[0]
    address = block.hosts[0]
    forged = tokens.TokenIssuer(b"not-the-key", "ns1").issue(block.block_id, (tokens.READ,), 1)
    with grpc.insecure_channel(address) as channel:
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        for token in (b"", forged, b"garbage"):
            request = datatransfer_pb2.ReadBlockRequest(
                block_pool="ns1",
                block=common_pb2.Block(block_id=block.block_id, gen_stamp=block.gen_stamp),
                access_token=token,
            )
            with pytest.raises(grpc.RpcError) as e:
                list(stub.ReadBlock(request, timeout=5))
            assert isinstance(from_rpc_error(e.value), AccessDenied)


WRITER = """
import os, sys, time
from client import Client
fs = Client(addresses=sys.argv[1].split(","))
f = fs.open("/crashed", "wb")
f.write(b"a" * 100_000)
f.hflush()
print("flushed", flush=True)
time.sleep(60)
"""


def test_a_crashed_writers_file_is_recovered_after_the_hard_limit(make_cluster):
    namespace = {**SMALL, "lease_soft_limit_s": 1.0, "lease_hard_limit_s": 3.0}
    cluster = start(make_cluster, namespace=namespace)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, ",".join(cluster.addresses)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert writer.stdout.readline().strip() == "flushed"
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(10)
    with client_of(cluster) as fs:
        wait_until(
            lambda: not fs.stat("/crashed").under_construction, 30, "lease recovery", poll=0.5
        )
        assert fs.stat("/crashed").length == 100_000
        assert fs.read_bytes("/crashed") == b"a" * 100_000
        heals(fs)


def test_decommission_drains_a_datanode(make_cluster):
    cluster = start(make_cluster, datanodes=4)
    with client_of(cluster) as fs:
        data = os.urandom(3 * BLOCK)
        fs.write_bytes("/d", data)
        victim = cluster.datanode_nodes[0]
        fs.decommission(victim.address)
        wait_until(
            lambda: any(
                n.address == victim.address and n.admin_state == "decommissioned"
                for n in fs.datanodes()
            ),
            60,
            "decommissioned",
            poll=0.5,
        )
        victim.stop()
        assert fs.read_bytes("/d") == data
        heals(fs)
        fs.recommission(victim.address)
