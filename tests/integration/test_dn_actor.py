"""The DataNode protocol against fake NameNodes on 127.0.0.1: registration, reports,
heartbeats, leader hints, terms, and the delete and replicate commands.

``FakeNameNode`` is an in-process ``DatanodeNamenodeServicer`` that records every
call and hands out queued commands with the next heartbeat; ``hint`` makes it
answer NOT_LEADER naming another address.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from test_dn_transfer import (
    POOL,
    S,
    info,
    payload,
    read_block,
    replica,
    statuses,
    stop_node,
    token,
    write_block,
)

from chaos.cluster import wait_until
from datanode.config import DataNodeConfig
from datanode.node import DataNode
from hafs_api import checksum, tokens
from hafs_api.errors import NotLeader
from hafs_api.status import abort
from hafs_api.v1 import common_pb2, datanode_pb2, datanode_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt

pytestmark = pytest.mark.integration

SECRET = "test-block-token-secret"
INTERVAL = 0.2


class FakeNameNode(datanode_pb2_grpc.DatanodeNamenodeServicer):
    def __init__(self, term: int = 1) -> None:
        self.term = term
        self.hint = ""  # non-empty: refuse every call as NOT_LEADER, naming this leader
        self.calls: list[tuple[str, object, float]] = []
        self.commands: dict[str, list[datanode_pb2.DatanodeCommand]] = {}  # by DataNode id
        self.lock = threading.Lock()
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        datanode_pb2_grpc.add_DatanodeNamenodeServicer_to_server(self, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait(5)

    def _record(self, kind: str, request, context) -> None:
        if self.hint:
            abort(context, NotLeader("not the leader", leader_hint=self.hint))
        with self.lock:
            self.calls.append((kind, request, time.monotonic()))

    def of(self, kind: str, datanode_id: str = "") -> list:
        with self.lock:
            return [
                (request, at)
                for k, request, at in self.calls
                if k == kind
                and (not datanode_id or request.registration.datanode_id == datanode_id)
            ]

    def command(self, node: DataNode, term: int | None = None, **kwargs) -> None:
        """Send ``node`` a command with its next heartbeat."""
        with self.lock:
            self.commands.setdefault(node.datanode_id, []).append(
                datanode_pb2.DatanodeCommand(term=self.term if term is None else term, **kwargs)
            )

    def Register(self, request, context):
        self._record("register", request, context)
        return datanode_pb2.RegisterResponse(term=self.term, bytes_per_checksum=512)

    def Heartbeat(self, request, context):
        self._record("heartbeat", request, context)
        with self.lock:
            commands = self.commands.pop(request.registration.datanode_id, [])
        return datanode_pb2.HeartbeatResponse(term=self.term, commands=commands)

    def BlockReport(self, request, context):
        self._record("report", request, context)
        return datanode_pb2.BlockReportResponse(term=self.term)

    def BlockReceivedAndDeleted(self, request, context):
        self._record("incremental", request, context)
        return datanode_pb2.BlockReceivedAndDeletedResponse(term=self.term)


@pytest.fixture
def fakes():
    made: list[FakeNameNode] = []

    def make(term: int = 1) -> FakeNameNode:
        made.append(FakeNameNode(term))
        return made[-1]

    yield make
    for fake in made:
        fake.stop()


@pytest.fixture
def start_node(tmp_path):
    nodes: list[DataNode] = []

    def start(name: str, namenodes: list[str]) -> DataNode:
        config = DataNodeConfig.from_dict(
            {
                "datanode": {
                    "rpc_address": "127.0.0.1:0",
                    "data_dirs": [str(tmp_path / name)],
                    "heartbeat_interval_s": INTERVAL,
                    "rack": "/r1",
                },
                "nameservices": {POOL: {"namenodes": namenodes, "block_token_secret": SECRET}},
            }
        )
        nodes.append(DataNode.from_config(config).start())
        return nodes[-1]

    yield start
    for node in nodes:
        stop_node(node)


def received(fake: FakeNameNode, node: DataNode, block_id: int, state=dt.FINALIZED):
    return [
        (r, at)
        for r, at in fake.of("incremental", node.datanode_id)
        for rep in r.received
        if rep.block.block_id == block_id and rep.state == state
    ]


def deleted(fake: FakeNameNode, node: DataNode, block_id: int):
    return [
        r
        for r, _ in fake.of("incremental", node.datanode_id)
        for b in r.deleted
        if b.block_id == block_id
    ]


def test_registers_reports_and_heartbeats(fakes, start_node):
    fake = fakes(term=3)
    node = start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "a full report")
    (registration, _), *_ = fake.of("register")
    reg = registration.registration
    assert reg.datanode_id == node.datanode_id
    assert reg.address == node.address
    assert (reg.rack, reg.block_pool, reg.software_version) == ("/r1", POOL, "0.1.0")
    assert reg.capacity_bytes > 0
    assert fake.of("report")[0][1] >= fake.of("register")[0][1]  # registered, then reported
    first = len(fake.of("heartbeat"))
    time.sleep(1.0)
    beats = fake.of("heartbeat")[first:]
    assert 3 <= len(beats) <= 8, len(beats)  # every ~0.2 s
    beat = beats[-1][0]
    assert beat.term == 3
    assert beat.storages and beat.storages[0].capacity_bytes > 0
    assert beat.failed_volumes == 0
    assert len(fake.of("register")) == 1  # nothing made it register again


def test_an_incremental_report_follows_a_write_within_a_second(fakes, start_node):
    fake = fakes()
    node = start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "registration")
    acks = write_block([node], 11, 1, payload(5000))
    done = time.monotonic()
    assert all(statuses(a) == [S] for a in acks)
    report, at = wait_until(lambda: received(fake, node, 11), 5, "the received report")[0]
    assert at - done < 1.0
    (rep,) = [r for r in report.received if r.block.block_id == 11]
    assert (rep.block.gen_stamp, rep.block.num_bytes) == (1, 5000)


def test_full_report_lists_finalized_and_rbw_replicas(fakes, start_node):
    fake = fakes()
    node = start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "registration")
    write_block([node], 21, 1, payload(1000))
    pool = node.pools[POOL].pool
    with pool.create(22, 1, 512) as writer:  # a replica still being written
        writer.write(0, b"x" * 10, checksum.compute(b"x" * 10, 0, 512))
        fake.command(node, full_report=datanode_pb2.FullReportCommand())
        reports = wait_until(lambda: fake.of("report")[1:], 5, "the second full report")
        states = {r.block.block_id: r.state for r in reports[0][0].replicas}
        writer.abort()
    assert states == {21: dt.FINALIZED, 22: dt.RBW}


def test_follows_the_leader_hint_and_leader_changes(fakes, start_node):
    first, second = fakes(term=1), fakes(term=2)
    first.hint = second.address  # only `first` is configured; it points at `second`
    node = start_node("dn1", [first.address])
    wait_until(lambda: second.of("report"), 10, "a full report to the hinted leader")
    assert second.of("register")[0][0].registration.datanode_id == node.datanode_id
    # leadership moves back to `first` under a newer term
    first.term = 3
    first.hint = ""
    second.hint = first.address
    wait_until(lambda: first.of("report"), 10, "a full report to the new leader")
    wait_until(lambda: first.of("heartbeat"), 5, "heartbeats to the new leader")
    assert first.of("heartbeat")[-1][0].term == 3
    assert node.actors[POOL].leader == first.address


def test_a_newer_term_makes_it_register_again(fakes, start_node):
    fake = fakes(term=1)
    start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "registration")
    fake.term = 2  # a new leader term at the same address
    wait_until(lambda: len(fake.of("register")) == 2, 5, "a second registration")
    wait_until(lambda: len(fake.of("report")) == 2, 5, "a second full report")


def test_delete_command_and_refusing_an_older_term(fakes, start_node):
    fake = fakes(term=5)
    node = start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "registration")
    write_block([node], 31, 1, payload(3000))
    block = common_pb2.Block(block_id=31, gen_stamp=1, num_bytes=3000)
    fake.command(node, term=4, delete=datanode_pb2.DeleteCommand(blocks=[block]))
    wait_until(lambda: node.actors[POOL].refused_commands == 1, 5, "the stale command refused")
    assert replica(node, 31) is not None
    fake.command(node, delete=datanode_pb2.DeleteCommand(blocks=[block]))
    wait_until(lambda: replica(node, 31) is None, 5, "the replica deleted")
    wait_until(lambda: deleted(fake, node, 31), 5, "the deletion reported")


def test_replicate_command_copies_to_targets(fakes, start_node):
    fake = fakes(term=2)
    source = start_node("dn1", [fake.address])
    targets = [start_node("dn2", [fake.address]), start_node("dn3", [fake.address])]
    data = payload(3 * 1024 * 1024 + 123)  # several packets
    assert all(statuses(a) == [S] for a in write_block([source], 41, 7, data))
    fake.command(
        source,
        replicate=datanode_pb2.ReplicateCommand(
            block=common_pb2.Block(block_id=41, gen_stamp=7, num_bytes=len(data)),
            targets=[info(t) for t in targets],
            access_token=token(41, tokens.COPY),
        ),
    )
    for target in targets:
        wait_until(lambda t=target: received(fake, t, 41), 15, "the copy reported")
        found = replica(target, 41)
        assert (found.state, found.gen_stamp, found.num_bytes) == ("FINALIZED", 7, len(data))
        assert read_block(target, 41, 7) == data
    wait_until(lambda: source.replicator.copied == 1, 5, "the copy counted")
    assert source.replicator.active() == 0


def test_replicate_with_a_bad_token_leaves_no_copy(fakes, start_node):
    fake = fakes()
    source = start_node("dn1", [fake.address])
    target = start_node("dn2", [fake.address])
    write_block([source], 51, 1, payload(2000))
    fake.command(
        source,
        replicate=datanode_pb2.ReplicateCommand(
            block=common_pb2.Block(block_id=51, gen_stamp=1, num_bytes=2000),
            targets=[info(target)],
            access_token=token(51, tokens.WRITE),  # not COPY
        ),
    )
    wait_until(lambda: source.replicator.failed == 1, 10, "the copy to fail")
    assert replica(target, 51) is None


def test_a_corrupt_replica_found_by_the_scanner_is_reported(fakes, start_node, tmp_path):
    fake = fakes()
    node = start_node("dn1", [fake.address])
    wait_until(lambda: fake.of("report"), 10, "registration")
    write_block([node], 61, 1, payload(3000))
    (path,) = [
        p
        for p in (tmp_path / "dn1").rglob("blk_61_1*")
        if "finalized" in p.parts and p.suffix != ".meta"
    ]
    raw = bytearray(path.read_bytes())
    raw[1234] ^= 0xFF
    path.write_bytes(bytes(raw))
    node.scanner.scan_once()
    (report, _), *_ = wait_until(
        lambda: received(fake, node, 61, dt.CORRUPT), 5, "the corrupt replica reported"
    )
    (rep,) = [r for r in report.received if r.block.block_id == 61 and r.state == dt.CORRUPT]
    assert (rep.block.gen_stamp, rep.block.num_bytes) == (1, 3000)


def test_the_process_registers_and_stops_on_sigterm(fakes, tmp_path):
    fake = fakes()
    config = tmp_path / "dn.toml"
    config.write_text(
        f'[datanode]\nrpc_address = "127.0.0.1:0"\ndata_dirs = ["{tmp_path / "d"}"]\n'
        "heartbeat_interval_s = 0.2\n"
        f'[nameservices.{POOL}]\nnamenodes = ["{fake.address}"]\n'
        f'block_token_secret = "{SECRET}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "datanode", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: fake.of("heartbeat"), 20, "the process to heartbeat")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "serving on 127.0.0.1:" in out
    assert "datanode.node: DataNode" in err and "stopped" in err


def test_the_process_refuses_a_bad_config(tmp_path):
    config = tmp_path / "dn.toml"
    config.write_text('[datanode]\nrack = "no-slash"\n')
    result = subprocess.run(
        [sys.executable, "-m", "datanode", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "datanode.rack" in result.stderr
