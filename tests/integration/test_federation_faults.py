"""Federation under faults: two nameservices of 3 NameNodes each and 3 DataNodes shared.

Losing one group's quorum makes only its paths unavailable, with a clear error,
while the other group keeps working from the same client. Leaders of both groups
killed at once in the middle of a mixed workload lose no acknowledged write.
"""

from __future__ import annotations

import threading
import time

import pytest

from chaos.cluster import wait_until
from client import Client, RetryPolicy
from client.config import load
from hafs_api.errors import HafsError

pytestmark = pytest.mark.integration

SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": 64 * 1024}


@pytest.fixture
def fed(make_cluster):
    return make_cluster(nameservices=2, namenodes=3, datanodes=3, namespace=SMALL)


def routing_client(fed, deadline: float = 30.0) -> Client:
    return Client(config=load(fed.client_conf), retry=RetryPolicy(deadline=deadline))


def test_losing_one_quorum_leaves_the_other_nameservice_usable(fed):
    with routing_client(fed, deadline=4.0) as fs:
        fs.add_mount("/data", "ns2")
        fs.write_bytes("/data/before", b"ns2")
        fs.write_bytes("/home/before", b"ns1")
        for node in fed.namenode_nodes_of("ns2")[:2]:  # two of three: no quorum
            node.kill()
        started = time.monotonic()
        with pytest.raises(HafsError) as lost:
            fs.read_bytes("/data/before")
        assert lost.value.retryable or "within" in str(lost.value)
        assert time.monotonic() - started < 20  # the client's deadline, not a hang
        # Every path of ns1 still works, from the same client and process.
        fs.write_bytes("/home/after", b"still ns1")
        assert fs.read_bytes("/home/before") == b"ns1"
        assert sorted(fs.ls("/home", detail=False)) == ["/home/after", "/home/before"]
        fs.mkdir("/home/d")
        fs.rename("/home/after", "/home/d/after")
        assert fs.read_bytes("/home/d/after") == b"still ns1"


def test_failovers_in_both_groups_at_once_lose_nothing(fed):
    with routing_client(fed) as fs:
        fs.add_mount("/data", "ns2")
        fs.mkdir("/home")
    acknowledged: list[tuple[str, bytes]] = []
    failures: list[str] = []
    stop = threading.Event()

    def workload(prefix: str) -> None:
        with routing_client(fed) as client:
            i = 0
            while not stop.is_set() and i < 400:  # bounded in count and in time
                path, body = f"{prefix}/f{i}", f"{prefix}:{i}".encode()
                try:
                    client.write_bytes(path, body)
                    client.stat(path)
                    client.mkdir(f"{prefix}-dirs/d{i}", parents=True)
                except HafsError as err:  # an outcome unknown to us: not acknowledged
                    failures.append(f"{path}: {err}")
                else:
                    acknowledged.append((path, body))
                i += 1

    threads = [threading.Thread(target=workload, args=(p,)) for p in ("/home", "/data")]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acknowledged) >= 20, 30, "the workload to get going", poll=0.1)
        leaders = fed.leaders(10)
        for node in leaders.values():  # both groups at once
            node.kill()
        count = len(acknowledged)
        wait_until(lambda: len(acknowledged) >= count + 20, 60, "writes after the failovers")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures[:5]
    with routing_client(fed) as fs:
        for path, body in acknowledged:
            assert fs.read_bytes(path) == body, path
        owners = {fs.nameservice_of(path) for path, _ in acknowledged}
        assert owners == {"ns1", "ns2"}
