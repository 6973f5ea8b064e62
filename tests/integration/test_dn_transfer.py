"""The DataTransfer service of real in-process DataNodes on 127.0.0.1: the write
pipeline and its acks on failure, reads, tokens, recovery, checksums, a full disk.

The DataNodes' nameservice points at a port nobody listens on: their actors
keep looking for a leader quietly while the data path works on its own.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos.cluster import free_port, wait_until
from datanode.config import DataNodeConfig
from datanode.node import DataNode
from datanode.pipeline import Timeouts
from datanode.transfer import DataTransferService, TransferServer
from hafs_api import checksum, tokens
from hafs_api.errors import AccessDenied, InvalidArgument
from hafs_api.status import from_rpc_error
from hafs_api.v1 import common_pb2, datatransfer_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt

pytestmark = pytest.mark.integration

POOL = "ns1"
SECRET = "test-block-token-secret"
BPC = 512
PACKET = 16 * 1024
ISSUER = tokens.TokenIssuer(SECRET.encode(), POOL)
S, E = dt.SUCCESS, dt.ERROR


def dn_config(
    tmp_path, name: str, namenodes: list[str] | None = None, secret: str = SECRET, **datanode
) -> DataNodeConfig:
    return DataNodeConfig.from_dict(
        {
            "datanode": {
                "rpc_address": "127.0.0.1:0",
                "data_dirs": [str(tmp_path / name)],
                "heartbeat_interval_s": 0.2,
                **datanode,
            },
            "nameservices": {
                POOL: {
                    "namenodes": namenodes or [f"127.0.0.1:{free_port()}"],
                    "block_token_secret": secret,
                }
            },
        }
    )


@pytest.fixture
def start_node(tmp_path):
    """Start DataNodes on demand; stop every one still running after the test."""
    nodes: list[DataNode] = []

    def start(name: str, **kwargs) -> DataNode:
        node = DataNode.from_config(dn_config(tmp_path, name, **kwargs)).start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        stop_node(node)


def stop_node(node: DataNode) -> None:
    if not getattr(node, "_test_stopped", False):
        node._test_stopped = True
        node.stop()


@pytest.fixture
def three(start_node):
    return [start_node(f"dn{i}") for i in range(1, 4)]


def info(node: DataNode) -> common_pb2.DatanodeInfo:
    return common_pb2.DatanodeInfo(
        datanode_id=node.datanode_id, address=node.address, rack="/default-rack"
    )


def token(block_id: int, *modes: str, **kwargs) -> bytes:
    return ISSUER.issue(block_id, modes or (tokens.WRITE,), term=1, **kwargs)


def replica(node: DataNode, block_id: int):
    return node.pools[POOL].pool.get(block_id)


class PipelineWriter:
    """A test-side writer over the raw stub: send packets, read acks as they come."""

    def __init__(self, first: DataNode, header: dt.WriteHeader) -> None:
        self.header = header
        self.channel = grpc.insecure_channel(first.address)
        self.outbox: queue.Queue = queue.Queue()
        self.acks: queue.Queue = queue.Queue()
        self.seqno = 0
        self.offset = header.block.num_bytes
        self.acked = header.block.num_bytes  # bytes every node acknowledged
        self.sizes: dict[int, int] = {}
        self.ended = False
        self.outbox.put(dt.WritePacket(header=header, seqno=0))
        stub = datatransfer_pb2_grpc.DataTransferStub(self.channel)
        self.call = stub.WriteBlock(iter(self.outbox.get, None), timeout=60)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for ack in self.call:
                self.acks.put(ack)
        except grpc.RpcError as e:
            self.acks.put(e)
        self.acks.put(None)

    def send(self, data: bytes, *, last: bool = False, sync: bool = False, bad_sum=False) -> int:
        self.seqno += 1
        sums = checksum.compute(data, self.offset, self.header.bytes_per_checksum or BPC)
        if bad_sum:
            sums = bytes([sums[0] ^ 0xFF]) + sums[1:]
        self.outbox.put(
            dt.WritePacket(
                seqno=self.seqno,
                offset=self.offset,
                data=data,
                checksums=sums,
                last=last,
                sync=sync,
            )
        )
        self.sizes[self.seqno] = len(data)
        self.offset += len(data)
        return self.seqno

    def ack(self, timeout: float = 15.0) -> dt.WriteAck | None:
        """The next ack; None once the stream has ended (an RpcError if it failed)."""
        if self.ended:
            return None
        ack = self.acks.get(timeout=timeout)
        self.ended = ack is None
        if isinstance(ack, dt.WriteAck) and all(s == S for s in ack.statuses):
            self.acked += self.sizes.get(ack.seqno, 0)
        return ack

    def close(self) -> None:
        self.outbox.put(None)
        self.call.cancel()
        self.reader.join(timeout=10)
        self.channel.close()


def header(
    block_id: int,
    gen_stamp: int,
    targets: list[DataNode],
    *,
    stage: int = dt.CREATE,
    num_bytes: int = 0,
    previous: int = 0,
    access: bytes | None = None,
) -> dt.WriteHeader:
    mode = tokens.COPY if stage == dt.REPLICATION else tokens.WRITE
    return dt.WriteHeader(
        block_pool=POOL,
        block=common_pb2.Block(block_id=block_id, gen_stamp=gen_stamp, num_bytes=num_bytes),
        previous_gen_stamp=previous,
        stage=stage,
        targets=[info(n) for n in targets],
        access_token=token(block_id, mode) if access is None else access,
        client_name="test-writer",
        bytes_per_checksum=BPC,
    )


def write_block(pipeline: list[DataNode], block_id: int, gen_stamp: int, data: bytes, **kw):
    """Write ``data`` through ``pipeline`` as one block; every ack, header's first."""
    writer = PipelineWriter(pipeline[0], header(block_id, gen_stamp, pipeline[1:], **kw))
    try:
        acks = [writer.ack()]
        if acks[0] is None or any(s != S for s in acks[0].statuses):
            return acks
        start = kw.get("num_bytes", 0)
        pieces = [data[i : i + PACKET] for i in range(start, len(data), PACKET)] or [b""]
        for i, piece in enumerate(pieces):
            writer.send(piece, last=i == len(pieces) - 1)
        for _ in pieces:
            acks.append(writer.ack())
        return acks
    finally:
        writer.close()


def read_block(node: DataNode, block_id: int, gen_stamp: int, offset=0, length=0, access=None):
    with grpc.insecure_channel(node.address) as channel:
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        request = dt.ReadBlockRequest(
            block_pool=POOL,
            block=common_pb2.Block(block_id=block_id, gen_stamp=gen_stamp),
            offset=offset,
            length=length,
            access_token=token(block_id, tokens.READ) if access is None else access,
            client_name="test-reader",
        )
        out = bytearray()
        first = None
        for chunk in stub.ReadBlock(request, timeout=30):
            assert chunk.offset % BPC == 0 and chunk.bytes_per_checksum == BPC
            checksum.verify(chunk.data, chunk.checksums, chunk.offset, BPC)
            first = chunk.offset if first is None else first
            out += chunk.data
        start = offset - (first or 0)
        return bytes(out[start : start + length] if length else out[start:])


def payload(size: int, seed: int = 1) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


def statuses(ack) -> list[int]:
    return list(ack.statuses)


# -- the happy path ---------------------------------------------------------------------


def test_health_is_serving(three):
    with grpc.insecure_channel(three[0].address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hafs.DataNode"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_a_multi_packet_block_through_three_nodes_reads_back_from_each(three):
    data = payload(5 * PACKET + 777)  # ends mid-chunk
    acks = write_block(three, 101, 1, data)
    assert [a.seqno for a in acks] == list(range(7))
    assert all(statuses(a) == [S, S, S] for a in acks), acks
    for node in three:  # an acked final packet: every replica finalized, on every node
        found = replica(node, 101)
        assert (found.state, found.gen_stamp, found.num_bytes) == ("FINALIZED", 1, len(data))
        assert read_block(node, 101, 1) == data
    assert read_block(three[1], 101, 1, offset=1000, length=20000) == data[1000:21000]


def test_block_checksum_is_md5_of_the_chunk_checksums(three):
    data = payload(3 * PACKET + 5)
    write_block(three[:1], 102, 1, data)
    with grpc.insecure_channel(three[0].address) as channel:
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        response = stub.BlockChecksum(
            dt.BlockChecksumRequest(
                block_pool=POOL,
                block=common_pb2.Block(block_id=102, gen_stamp=1),
                access_token=token(102, tokens.READ),
            ),
            timeout=10,
        )
    assert response.md5 == hashlib.md5(checksum.compute(data, 0, BPC)).digest()
    assert (response.bytes_per_checksum, response.num_bytes) == (BPC, len(data))
    assert response.chunks == -(-len(data) // BPC)


def test_reads_past_the_end_are_invalid(three):
    write_block(three[:1], 103, 1, payload(1000))
    for offset, length in ((1001, 0), (900, 200)):
        with pytest.raises(grpc.RpcError) as caught:
            read_block(three[0], 103, 1, offset=offset, length=length)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert isinstance(from_rpc_error(caught.value), InvalidArgument)


# -- failures -----------------------------------------------------------------------------


def test_a_flipped_checksum_is_refused_and_no_replica_remains(three):
    writer = PipelineWriter(three[0], header(201, 1, three[1:]))
    try:
        assert statuses(writer.ack()) == [S, S, S]
        writer.send(payload(PACKET))
        writer.send(payload(PACKET, seed=2), bad_sum=True)
        writer.send(payload(100, seed=3), last=True)
        assert statuses(writer.ack()) == [S, S, S]
        bad = writer.ack()
        assert bad.seqno == 2
        assert bad.statuses[0] == dt.ERROR_CHECKSUM
        assert "checksum" in bad.message
        assert writer.ack() is None  # the stream ends after the error ack
    finally:
        writer.close()
    for node in three:
        wait_until(lambda n=node: replica(n, 201) is None, 10, "the bad replica to go")


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("missing", lambda: b""),
        ("forged", lambda: tokens.TokenIssuer(b"not-the-key", POOL).issue(301, ("WRITE",), 1)),
        ("expired", lambda: token(301, tokens.WRITE, now=time.time() - 3600)),
        ("wrong block", lambda: token(302, tokens.WRITE)),
        ("wrong mode", lambda: token(301, tokens.READ)),
        ("garbage", lambda: b"\xff\x00garbage"),
    ],
)
def test_bad_tokens_are_refused_on_write(three, case, make):
    acks = write_block(three, 301, 1, payload(100), access=make())
    assert len(acks) == 1
    assert statuses(acks[0]) == [dt.ERROR_ACCESS, E, E], case
    for node in three:
        assert replica(node, 301) is None


def test_a_target_that_refuses_the_token_fails_the_header(three, start_node):
    odd = start_node("odd", secret="another-secret")  # its key differs: it refuses
    acks = write_block([three[0], odd, three[1]], 303, 1, payload(100))
    assert len(acks) == 1
    assert statuses(acks[0]) == [S, dt.ERROR_ACCESS, E]
    assert "forged" in acks[0].message
    for node in (three[0], odd, three[1]):  # the pipeline never formed: nothing stays
        wait_until(lambda n=node: replica(n, 303) is None, 10, "the unformed replica to go")


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("missing", lambda: b""),
        ("forged", lambda: tokens.TokenIssuer(b"not-the-key", POOL).issue(310, ("READ",), 1)),
        ("expired", lambda: token(310, tokens.READ, now=time.time() - 3600)),
        ("wrong block", lambda: token(311, tokens.READ)),
        ("wrong mode", lambda: token(310, tokens.WRITE)),
    ],
)
def test_bad_tokens_are_refused_on_read(three, case, make):
    write_block(three[:1], 310, 1, payload(100))
    with pytest.raises(grpc.RpcError) as caught:
        read_block(three[0], 310, 1, access=make())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, case
    assert isinstance(from_rpc_error(caught.value), AccessDenied)


def test_a_copy_token_may_read(three):
    write_block(three[:1], 312, 1, payload(100))
    assert read_block(three[0], 312, 1, access=token(312, tokens.COPY)) == payload(100)


def test_a_dead_middle_node_is_reported_and_pipeline_recovery_continues(three):
    first, middle, last = three
    data = payload(6 * PACKET + 300)
    writer = PipelineWriter(first, header(401, 1, [middle, last]))
    try:
        assert statuses(writer.ack()) == [S, S, S]
        for i in range(3):
            writer.send(data[i * PACKET : (i + 1) * PACKET])
        for _ in range(3):
            assert statuses(writer.ack()) == [S, S, S]
        stop_node(middle)
        writer.send(data[3 * PACKET : 4 * PACKET])
        failed = writer.ack(timeout=20)
        assert statuses(failed) == [S, E, E], failed
        assert writer.ack(timeout=10) is None  # the stream ends with the error ack
    finally:
        writer.close()
    acked = writer.acked
    assert acked == 3 * PACKET
    assert replica(first, 401).state == "RBW"  # kept for recovery
    # the writer drops exactly the failed node and goes on under a new gen stamp
    acks = write_block(
        [first, last],
        401,
        2,
        data,
        stage=dt.PIPELINE_RECOVERY,
        num_bytes=acked,
        previous=1,
    )
    assert all(statuses(a) == [S, S] for a in acks), acks
    for node in (first, last):
        found = replica(node, 401)
        assert (found.state, found.gen_stamp, found.num_bytes) == ("FINALIZED", 2, len(data))
        assert read_block(node, 401, 2) == data


def test_an_unreachable_target_fails_the_header(start_node):
    first = start_node("dn1")
    ghost = common_pb2.DatanodeInfo(datanode_id="ghost", address=f"127.0.0.1:{free_port()}")
    h = header(402, 1, [])
    h.targets.append(ghost)
    writer = PipelineWriter(first, h)
    try:
        started = time.monotonic()
        assert statuses(writer.ack(timeout=20)) == [S, E]
        assert time.monotonic() - started < 10
    finally:
        writer.close()
    wait_until(lambda: replica(first, 402) is None, 10, "the unformed replica to go")


def test_a_writer_that_vanishes_leaves_no_stream_behind(three):
    writer = PipelineWriter(three[0], header(403, 1, three[1:]))
    assert statuses(writer.ack()) == [S, S, S]
    writer.send(payload(PACKET))
    assert statuses(writer.ack()) == [S, S, S]
    writer.close()  # cancels mid-block
    names = lambda: {t.name for t in threading.enumerate()}  # noqa: E731
    wait_until(lambda: not {"dn-write-in", "dn-write-down"} & names(), 10, "the pumps to end")
    for node in three:  # an unfinished replica stays RBW for lease recovery
        assert replica(node, 403).state == "RBW"
    # and the pipeline still takes new blocks
    assert all(statuses(a) == [S, S, S] for a in write_block(three, 404, 1, payload(999)))


def test_append_to_a_finalized_replica(three):
    data = payload(2 * PACKET + 100)
    more = payload(PACKET + 4321, seed=9)
    write_block(three, 501, 1, data)
    acks = write_block(three, 501, 2, data + more, stage=dt.APPEND, num_bytes=len(data), previous=1)
    assert all(statuses(a) == [S, S, S] for a in acks), acks
    for node in three:
        found = replica(node, 501)
        assert (found.state, found.gen_stamp) == ("FINALIZED", 2)
        assert read_block(node, 501, 2) == data + more


def test_get_and_recover_replica_truncate_and_finalize(three):
    node = three[0]
    data = payload(3 * PACKET)
    writer = PipelineWriter(node, header(601, 1, []))
    try:
        assert statuses(writer.ack()) == [S]
        writer.send(data[:PACKET])
        writer.send(data[PACKET:], sync=True)
        assert statuses(writer.ack()) == [S]
        assert statuses(writer.ack()) == [S]
    finally:
        writer.close()  # no final packet: the replica stays being written
    with grpc.insecure_channel(node.address) as channel:
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        got = stub.GetReplica(
            dt.GetReplicaRequest(block_pool=POOL, block_id=601, access_token=token(601, "RECOVER")),
            timeout=10,
        )
        assert got.state == dt.RBW
        assert (got.block.gen_stamp, got.block.num_bytes) == (1, len(data))
        with pytest.raises(grpc.RpcError) as caught:  # a WRITE token may not recover
            stub.GetReplica(
                dt.GetReplicaRequest(block_pool=POOL, block_id=601, access_token=token(601)),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        recovered = stub.RecoverReplica(
            dt.RecoverReplicaRequest(
                block_pool=POOL,
                block=common_pb2.Block(block_id=601, gen_stamp=1),
                new_gen_stamp=5,
                length=PACKET + 1000,
                access_token=token(601, "RECOVER"),
            ),
            timeout=10,
        )
    assert (recovered.block.gen_stamp, recovered.block.num_bytes) == (5, PACKET + 1000)
    found = replica(node, 601)
    assert (found.state, found.gen_stamp, found.num_bytes) == ("FINALIZED", 5, PACKET + 1000)
    assert read_block(node, 601, 5) == data[: PACKET + 1000]


def test_a_full_disk_answers_disk_full_and_leaves_nothing(start_node):
    tiny = start_node("tiny", capacity_bytes=8192)
    acks = write_block([tiny], 701, 1, payload(4 * PACKET))
    refused = [a for a in acks if a is not None and any(s != S for s in a.statuses)]
    assert refused and statuses(refused[0]) == [dt.ERROR_DISK_FULL], acks
    wait_until(lambda: replica(tiny, 701) is None, 10, "the partial replica to go")
    assert tiny.pools[POOL].pool.replicas() == []


# -- timeouts: a stalled downstream, a silent caller ----------------------------------------


class Stall(datatransfer_pb2_grpc.DataTransferServicer):
    """A downstream that takes packets and never acks them (nor, maybe, the header)."""

    def __init__(self, ack_header: bool) -> None:
        self.ack_header = ack_header

    def WriteBlock(self, request_iterator, context):
        next(request_iterator)
        if self.ack_header:
            yield dt.WriteAck(seqno=0, statuses=[S])
        for _ in request_iterator:
            pass


@pytest.fixture
def impatient(three):
    """A second server over the first node's block pools with one-second timeouts, and
    a stalling fake DataNode of each kind."""
    node = three[0]
    service = DataTransferService(
        node.pools, lambda pool, info: None, PACKET, Timeouts(connect_s=1, ack_s=1, idle_s=1)
    )
    server = TransferServer("127.0.0.1:0", 8, service, PACKET)
    stalls = {}
    try:
        server.start()
        for ack_header in (False, True):
            stall = grpc.server(ThreadPoolExecutor(max_workers=4))
            datatransfer_pb2_grpc.add_DataTransferServicer_to_server(Stall(ack_header), stall)
            port = stall.add_insecure_port("127.0.0.1:0")
            stall.start()
            stalls[ack_header] = (stall, common_pb2.DatanodeInfo(address=f"127.0.0.1:{port}"))
        front = type("Front", (), {"address": server.address})()
        yield node, front, stalls[False][1], stalls[True][1]
    finally:
        for stall, _ in stalls.values():
            stall.stop(0).wait(5)
        server.stop()


def test_a_downstream_that_never_acks_the_header_is_an_error(impatient):
    node, front, mute, _ = impatient
    h = header(801, 1, [])
    h.targets.append(mute)
    writer = PipelineWriter(front, h)
    try:
        started = time.monotonic()
        assert statuses(writer.ack()) == [S, E]
        assert time.monotonic() - started < 5
    finally:
        writer.close()
    wait_until(lambda: replica(node, 801) is None, 10, "the unformed replica to go")


def test_a_downstream_that_stops_acking_is_an_error(impatient):
    node, front, _, deaf = impatient
    h = header(802, 1, [])
    h.targets.append(deaf)
    writer = PipelineWriter(front, h)
    try:
        assert statuses(writer.ack()) == [S, S]
        writer.send(payload(PACKET))
        assert statuses(writer.ack()) == [S, E]
        assert writer.ack() is None
    finally:
        writer.close()
    assert replica(node, 802).state == "RBW"  # kept for pipeline recovery


def test_a_silent_caller_is_cut_off(impatient):
    node, front, _, _ = impatient
    writer = PipelineWriter(front, header(803, 1, []))
    try:
        assert statuses(writer.ack()) == [S]
        writer.send(payload(100))
        assert statuses(writer.ack()) == [S]
        failed = writer.acks.get(timeout=10)  # then nothing more is sent
        assert isinstance(failed, grpc.RpcError)
        assert failed.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        writer.close()
    assert replica(node, 803).state == "RBW"
