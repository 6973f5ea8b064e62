"""A 50 MiB streamed write and read through the Python API, while the NameNode
leader and a DataNode are SIGKILLed in the middle of each: both complete with
the right bytes (issue 5: transparent failover everywhere)."""

from __future__ import annotations

import hashlib
import os

import pytest

from chaos.cluster import LocalCluster
from client import Client

pytestmark = pytest.mark.integration

MiB = 1 << 20
BLOCK = 4 * MiB
SIZE = 50 * MiB
NAMESPACE = {"trash_interval_s": 0, "min_block_size": MiB, "default_block_size": BLOCK}


def datanode_at(cluster: LocalCluster, address: str):
    return next(n for n in cluster.datanode_nodes if n.address == address)


def test_a_streamed_write_and_read_survive_a_leader_and_a_datanode_kill(make_cluster):
    cluster = make_cluster(namenodes=3, datanodes=4, namespace=NAMESPACE)
    chunks = [os.urandom(MiB) for _ in range(SIZE // MiB)]
    killed = []
    with Client(addresses=cluster.addresses) as fs:
        with fs.open("/stream", "wb") as f:
            for i, chunk in enumerate(chunks):
                f.write(chunk)
                if i == 10:
                    killed.append(cluster.wait_leader(5))
                    killed[-1].kill()
                if i == 25:
                    f.flush()
                    open_block = fs.block_locations("/stream")[-1]
                    killed.append(datanode_at(cluster, open_block.hosts[-1]))
                    killed[-1].kill()
        expected = hashlib.sha256(b"".join(chunks)).hexdigest()
        assert fs.stat("/stream").length == SIZE
        for node in killed:  # back to three NameNodes and four DataNodes
            node.start()

        digest = hashlib.sha256()
        with fs.open("/stream", "rb") as f:
            for i in range(len(chunks)):
                digest.update(f.read(MiB))
                if i == 10:
                    cluster.wait_leader(10).kill()
                if i == 25:
                    upcoming = fs.block_locations("/stream", (i + 1) * MiB, 1)[0]
                    datanode_at(cluster, upcoming.hosts[0]).kill()
            assert f.read() == b""
        assert digest.hexdigest() == expected
