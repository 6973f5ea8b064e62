"""Partitions really cut traffic: network namespaces (``chaos.netns``) proven with raw
sockets, then a 3-NameNode cluster whose isolated leader loses to the majority.

Needs root and ``ip netns`` (skipped otherwise). Every namespace, link and process
made here is removed by the fixtures, even when a test fails.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.cluster import node_role, os_process, wait_until
from chaos.configs import NAMESPACED_PORTS
from chaos.netns import CLIENT, Network, cleanup_stale, host_links, namespaces
from client import Client
from client.config import load
from hafs_api.errors import ErrorCode, HafsError
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

pytestmark = pytest.mark.integration

TCP_PORT, UDP_PORT = 7000, 7001
# A write through a leader cut from its majority: no leader known, not the leader, or
# a proposal that never commits.
CANNOT_COMMIT = (ErrorCode.UNAVAILABLE, ErrorCode.NOT_LEADER, ErrorCode.DEADLINE_EXCEEDED)

# A TCP echo server and a UDP receiver printing each datagram, on argv[1].
SERVER = f"""
import socket, sys, threading
host = sys.argv[1]
tcp = socket.create_server((host, {TCP_PORT}))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((host, {UDP_PORT}))
def echo(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
def serve():
    while True:
        threading.Thread(target=echo, args=(tcp.accept()[0],), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
print("ready", flush=True)
while True:
    print(udp.recvfrom(100)[0].decode(), flush=True)
"""

# Connect to argv[1] within argv[2] s: prints "connected" or the error's class name.
CONNECT = f"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], {TCP_PORT}), timeout=float(sys.argv[2])).close()
    print("connected")
except OSError as e:
    print(type(e).__name__)
"""

SEND = (
    "import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
    f".sendto(sys.argv[2].encode(), (sys.argv[1], {UDP_PORT}))"
)


def leftovers(net: Network) -> list[str]:
    """The network's namespaces and host link still there."""
    left = [n for n in namespaces() if n.startswith(net.prefix)]
    return left + [link for link in host_links() if link == net.host_link]


@pytest.fixture
def network():
    available = Network.available()
    if not available:
        pytest.skip(f"no network namespaces here: {available.reason}")
    cleanup_stale()
    net = Network()
    try:
        yield net
    finally:
        net.close()
    assert leftovers(net) == []


@pytest.fixture
def spawn():
    """Start processes; kill whatever is left after the test."""
    started: list[subprocess.Popen] = []

    def start(argv: list[str], **kwargs) -> subprocess.Popen:
        started.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait(10)


class Server:
    """SERVER in node ``name``'s namespace; ``received`` holds the datagrams it got."""

    def __init__(self, net: Network, name: str, spawn) -> None:
        self.address = net.address(name)
        argv = [*net.run_in(name), sys.executable, "-c", SERVER, self.address]
        self.process = spawn(argv, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.received: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.received.append(line.strip())


def connect(net: Network, src: str, dst: str, timeout: float = 0.5) -> str:
    argv = [*net.run_in(src), sys.executable, "-c", CONNECT, net.address(dst), str(timeout)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()


def send(net: Network, src: str, dst: str) -> str:
    """One datagram from ``src`` to ``dst``'s receiver; returns its text."""
    text = f"{src}->{dst}@{time.monotonic_ns()}"
    argv = [*net.run_in(src), sys.executable, "-c", SEND, net.address(dst), text]
    subprocess.run(argv, check=True, timeout=30)
    return text


def test_partitions_cut_tcp_and_one_way_cuts_one_direction(network, spawn):
    for name in ("a", "b"):
        network.add(name)
    servers = {name: Server(network, name, spawn) for name in ("a", "b")}
    for src, dst in [("a", "b"), ("b", "a"), (CLIENT, "a"), (CLIENT, "b")]:
        assert connect(network, src, dst) == "connected", (src, dst)

    # A partition drops packets silently: connects time out (never refused).
    network.partition([{"a"}, {"b"}])
    assert connect(network, "a", "b") == "TimeoutError"
    assert connect(network, "b", "a") == "TimeoutError"
    assert connect(network, CLIENT, "b") == "connected"  # not named: untouched
    network.heal()
    assert connect(network, "a", "b") == "connected"
    assert connect(network, "b", "a") == "connected"

    # One way a -> b: b's datagrams reach a, a's never reach b. TCP fails both ways
    # (a's SYN is lost; b's SYN arrives but a's SYN-ACK is lost).
    network.one_way("a", "b")
    lost, arrived = send(network, "a", "b"), send(network, "b", "a")
    wait_until(lambda: arrived in servers["a"].received, 5, "b's datagram at a")
    time.sleep(0.3)
    assert lost not in servers["b"].received
    assert connect(network, "a", "b") == "TimeoutError"
    assert connect(network, "b", "a") == "TimeoutError"
    network.heal()
    healed = send(network, "a", "b")
    wait_until(lambda: healed in servers["b"].received, 5, "a's datagram at b after heal")

    # An established connection stalls while cut and carries on after heal.
    with socket.create_connection((network.address("b"), TCP_PORT), 2) as conn:
        conn.sendall(b"one")
        assert conn.recv(10) == b"one"
        network.isolate("b", client=True)
        conn.settimeout(1)
        conn.sendall(b"two")
        with pytest.raises(TimeoutError):
            conn.recv(10)
        network.heal()
        conn.settimeout(10)
        assert conn.recv(10) == b"two"

    network.close()
    assert leftovers(network) == []
    network.close()  # idempotent


def mkdir_at(address: str, path: str, user: str, timeout: float) -> HafsError | None:
    """One Mkdir straight to ``address`` (no retry, no failover): None when it committed,
    else the error (a deadline is DEADLINE_EXCEEDED)."""
    header = common_pb2.RequestHeader(client_id="netns-test", call_id=1, user=user)
    request = namenode_pb2.MkdirRequest(header=header, path=path, permission=0o755)
    with grpc.insecure_channel(address) as channel:
        try:
            namenode_pb2_grpc.ClientNamenodeStub(channel).Mkdir(request, timeout=timeout)
        except grpc.RpcError as e:
            return from_rpc_error(e)
    return None


def test_an_isolated_leader_loses_to_the_majority_and_rejoins(network, make_cluster, superuser):
    cluster = make_cluster(namenodes=3, datanodes=1, network=network)
    for node in cluster.nodes:  # each in its own namespace, its pid the node's own
        host = network.address(node.node_id)
        assert node.address == f"{host}:{node.address.rsplit(':', 1)[1]}"
        namespace = Path("/run/netns") / network.namespaces[node.node_id]
        assert os.stat(f"/proc/{node.pid}/ns/net").st_ino == namespace.stat().st_ino
        found = os_process(node.pid)
        assert found is not None and str(node.config_path) in found[1]
        assert found[1].startswith(sys.executable)  # `ip netns exec` exec'd the node
        assert node.metrics_address == f"{host}:{NAMESPACED_PORTS['metrics']}"
    old = cluster.wait_leader(10)
    others = [n for n in cluster.namenode_nodes if n is not old]

    acked: list[float] = []  # when each write of the background writer returned
    errors: list[BaseException] = []
    stop = threading.Event()
    with Client(config=load(cluster.client_conf), user=superuser) as fs:
        fs.write_bytes("/before", b"written through the DataNode's namespace")

        def writer() -> None:
            for i in range(100_000):
                if stop.is_set():
                    return
                try:
                    fs.mkdir(f"/w/{i}", parents=True)
                except BaseException as e:
                    errors.append(e)
                    return
                acked.append(time.monotonic())

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_until(lambda: len(acked) >= 10, 10, "writes before the cut")
            network.isolate(old.node_id)  # from its peers and the DataNode; the client still
            cut_at = time.monotonic()  # reaches all three
            new = wait_until(
                lambda: next((n for n in others if node_role(n.address) == "active"), None),
                10,
                "a leader among the majority",
            )
            elected = time.monotonic() - cut_at
            # The metrics endpoints stay reachable from here; the cut shows in them.
            wait_until(lambda: reachable(old) == 1, 10, "the cut in the old leader's metrics")
            wait_until(lambda: reachable(new) == 2, 10, "the cut in the new leader's metrics")
            assert mkdir_at(new.address, "/majority", superuser, 5) is None
            # The old leader cannot commit: the call times out, or it has stepped down.
            refused = mkdir_at(old.address, "/minority", superuser, 3)
            assert refused is not None and refused.code in CANNOT_COMMIT, refused
            print(f"a write through the isolated leader: {refused.code}: {refused}")
            wait_until(
                lambda: node_role(old.address) != "active", 10, "the old leader to step down"
            )
            wait_until(lambda: acked and acked[-1] > cut_at + elected, 15, "writes after the cut")

            network.heal()
            healed_at = time.monotonic()
            wait_until(lambda: acked[-1] > healed_at, 10, "writes after the heal")
        finally:
            stop.set()
            thread.join(30)
        assert errors == [], errors
        gaps = [b - a for a, b in itertools.pairwise(acked)]
        print(f"new leader {elected:.2f} s after the cut; longest write gap {max(gaps):.2f} s")
        assert elected < 5
        # The old leader rejoins as a follower of the current leader, and catches up.
        wait_until(lambda: rejoined(cluster, old), 15, "the old leader to rejoin", poll=0.2)
        assert fs.read_bytes("/before") == b"written through the DataNode's namespace"
        assert fs.exists("/majority") and not fs.exists("/minority")
        assert len(fs.ls("/w")) == len(acked)

    # Signals sent to the recorded pid reach the node itself (`ip netns exec` exec'd it).
    old.signal(signal.SIGSTOP)
    assert old.wait_state("paused", 5)
    old.signal(signal.SIGCONT)
    assert old.wait_state("running", 5)
    assert old.kill() and old.process is not None
    assert old.process.returncode == -signal.SIGKILL


def reachable(node) -> float | None:
    """``hafs_raft_members_reachable`` from the node's /metrics (None if unreadable)."""
    try:
        with urllib.request.urlopen(f"http://{node.metrics_address}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "hafs_raft_members_reachable":
            return family.samples[0].value
    return None


def status(address: str) -> admin_pb2.GetStatusResponse | None:
    with grpc.insecure_channel(address) as channel:
        try:
            return admin_pb2_grpc.HaAdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=2
            )
        except grpc.RpcError:
            return None


def rejoined(cluster, node) -> bool:
    """``node`` follows the current leader in its term and has applied all it committed."""
    leader, mine = status(cluster.wait_leader(5).address), status(node.address)
    return (
        leader is not None
        and mine is not None
        and mine.state == admin_pb2.STANDBY
        and (mine.term, mine.leader_id) == (leader.term, leader.node_id)
        and mine.applied_index >= leader.commit_index
    )


# A run that crashed: it makes a network, starts a process in it and dies without
# closing it. Prints the network's prefix, host link and the process's pid.
CRASHED_RUN = """
import os, subprocess, sys
from chaos.netns import Network
net = Network(["x"])
sleeper = [*net.run_in("x"), sys.executable, "-c", "import time; time.sleep(60)"]
child = subprocess.Popen(sleeper, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(net.prefix, net.host_link, child.pid, flush=True)
os._exit(0)
"""


def test_cleanup_stale_removes_a_dead_runs_leftovers_and_nothing_of_a_live_one(network):
    network.add("live")
    done = subprocess.run(
        [sys.executable, "-c", CRASHED_RUN], capture_output=True, text=True, timeout=60, check=True
    )
    prefix, host_link, pid = done.stdout.split()
    try:
        assert {prefix + "net", prefix + "x"} <= set(namespaces())
        assert host_link in host_links()
        assert os_process(int(pid)) is not None
        removed = cleanup_stale()
        assert {prefix + "net", prefix + "x", host_link} <= set(removed)
        assert not [n for n in namespaces() if n.startswith(prefix)]
        assert host_link not in host_links()
        wait_until(lambda: os_process(int(pid)) is None, 5, "the dead run's process to go")
        assert network.namespaces["live"] in namespaces()  # our own, live: untouched
        assert network.host_link in host_links()
    finally:
        for name in namespaces():
            if name.startswith(prefix):
                subprocess.run(["ip", "netns", "delete", name], check=False)
        subprocess.run(["ip", "link", "delete", host_link], capture_output=True, check=False)
