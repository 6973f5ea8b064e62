"""The client's data path against in-process fakes (``fake_cluster``) over real gRPC.

Round trips, seeks and ranged reads, read failover (dead DataNode, DataNode
dying mid-stream, corrupt replica reported), write pipeline recovery, header
refusal (abandon and exclude), Complete retries, appends to a partial block,
NameNode failover during a write (lost replies retried through the retry
cache), put/get of trees, file checksums and lease renewal. Blocks are 64 KiB,
512 bytes per checksum, packets 8 KiB with a window of 4.
"""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest
from fake_cluster import FakeCluster

from client.filecopy import COPYING
from client.pipeline import BlockPipeline, first_bad
from client.transfer import DataPath
from client.types import BlockLocation
from hafs_api.errors import (
    BlockMissing,
    DeadlineExceeded,
    HafsError,
    InvalidArgument,
    LeaseExpired,
)
from hafs_api.v1 import common_pb2
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import namenode_pb2 as pb

BLOCK = 64 * 1024
BPC = 512
PACKET = 8192


@pytest.fixture
def cluster():
    started = FakeCluster().start()
    yield started
    started.stop()


@pytest.fixture
def fs(cluster):
    return cluster.client()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blocks_of(cluster, path):
    return cluster.namenode.files[path].blocks


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, BPC - 1, BPC, BPC + 1, PACKET + 3, BLOCK, BLOCK + 1, 3 * BLOCK + 777],
    ids=lambda n: f"{n}B",
)
def test_round_trip(cluster, fs, size):
    data = os.urandom(size)
    fs.write_bytes("/data/f", data)
    assert sha(fs.read_bytes("/data/f")) == sha(data)
    with fs.open("/data/f") as f:
        assert sha(f.read()) == sha(data)
    blocks = blocks_of(cluster, "/data/f")
    assert [b.num_bytes for b in blocks] == [min(BLOCK, size - i) for i in range(0, size, BLOCK)]
    assert fs.stat("/data/f").length == size
    assert cluster.namenode.files["/data/f"].holder is None  # completed
    for block in blocks:  # every replica finalized with the same bytes
        replicas = [dn.replica(block.block_id) for dn in cluster.datanodes[:3]]
        assert all(r.finalized and len(r.data) == block.num_bytes for r in replicas)


def test_packets_are_chunk_aligned_and_at_most_a_packet(cluster, fs):
    with fs.open("/f", "wb") as f:
        for piece in (b"x" * 1000, b"y" * 30000, b"z" * 100000):
            f.write(piece)
    packets = [p for p in cluster.datanodes[0].packets if p[2]]
    assert sum(length for _, _, length, _ in packets) == 131000
    for block_id, offset, length, last in packets:
        assert length <= PACKET
        assert offset % BPC == 0
        end = offset + length
        assert end % BPC == 0 or last, (block_id, offset, length)
    lasts = [p for p in cluster.datanodes[0].packets if p[3]]
    assert len(lasts) == 2  # one final packet per block


def test_small_writes_flush_and_tell(cluster, fs):
    data = os.urandom(20000)
    with fs.open("/f", "wb") as f:
        for i in range(0, len(data), 333):
            assert f.write(data[i : i + 333]) == len(data[i : i + 333])
            f.flush()
        assert f.tell() == len(data)
    assert fs.read_bytes("/f") == data


def test_hflush_makes_bytes_visible_on_every_datanode_before_close(cluster, fs):
    with fs.open("/f", "wb") as f:
        f.write(b"a" * 1000)  # a partial chunk, resumed mid-chunk after the hflush
        f.hflush()
        block_id = blocks_of(cluster, "/f")[0].block_id
        for dn in cluster.datanodes[:3]:
            assert bytes(dn.replica(block_id).data) == b"a" * 1000
        f.write(b"b" * 1000)
        f.hsync()
        assert all(dn.syncs >= 1 for dn in cluster.datanodes[:3])
    assert fs.read_bytes("/f") == b"a" * 1000 + b"b" * 1000


def test_bad_modes_and_options(fs):
    with pytest.raises(InvalidArgument):
        fs.open("/f", "r")
    with pytest.raises(InvalidArgument):
        fs.open("/f", "wb", block_size=1000)  # not a multiple of bytes per checksum
    with pytest.raises(InvalidArgument):
        fs.open("/f", "rb", buffer_size=0)


def test_xb_refuses_an_existing_file_and_wb_overwrites(fs):
    fs.write_bytes("/f", b"one")
    with pytest.raises(FileExistsError):
        fs.open("/f", "xb")
    with pytest.raises(FileExistsError):
        fs.write_bytes("/f", b"two", overwrite=False)
    fs.write_bytes("/f", b"three")
    assert fs.read_bytes("/f") == b"three"


def test_missing_file_and_directory_cannot_be_read(fs):
    with pytest.raises(FileNotFoundError):
        fs.open("/nope")
    fs.mkdir("/dir")
    with pytest.raises(IsADirectoryError):
        fs.read_bytes("/dir")


def test_an_exception_in_the_with_block_still_closes_the_file(cluster, fs):
    with pytest.raises(RuntimeError), fs.open("/f", "wb") as f:
        f.write(b"partial")
        raise RuntimeError("boom")
    assert cluster.namenode.files["/f"].holder is None
    assert fs.read_bytes("/f") == b"partial"
    assert not fs.leases.open_paths()
    f.close()  # closing twice is harmless
    with pytest.raises(ValueError):
        f.write(b"more")


# -- reads ---------------------------------------------------------------------------


@pytest.fixture
def three_blocks(fs):
    data = os.urandom(3 * BLOCK + 1234)
    fs.write_bytes("/f", data)
    return data


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (0, 1),
        (BLOCK - 10, BLOCK + 10),
        (BLOCK, 2 * BLOCK),
        (100, 3 * BLOCK + 5),
        (-50, None),
        (None, -BLOCK),
        (3 * BLOCK + 1000, 10**9),
        (500, 400),
    ],
)
def test_ranged_reads(fs, three_blocks, start, end):
    assert fs.read_bytes("/f", start, end) == three_blocks[start:end]


def test_seek_tell_and_reads_across_block_boundaries(fs, three_blocks):
    with fs.open("/f", buffer_size=1000) as f:
        assert f.seekable() and f.readable()
        f.seek(BLOCK - 10)
        assert f.read(20) == three_blocks[BLOCK - 10 : BLOCK + 10]
        assert f.tell() == BLOCK + 10
        f.seek(5)
        assert f.read(7) == three_blocks[5:12]
        f.seek(-100, io.SEEK_END)
        assert f.read() == three_blocks[-100:]
        assert f.read(10) == b""
        f.seek(2 * BLOCK + 3)
        f.seek(10, io.SEEK_CUR)
        assert f.read(BLOCK) == three_blocks[2 * BLOCK + 13 : 3 * BLOCK + 13]
        f.seek(10**9)
        assert f.read(1) == b""


def test_sequential_reads_keep_one_stream_per_block(cluster, fs, three_blocks):
    with fs.open("/f", buffer_size=4096) as f:
        while f.read(1000):
            pass
    reads = [r for dn in cluster.datanodes for r in dn.reads]
    assert len(reads) == 4
    assert sorted(r.offset for r in reads) == [0, 0, 0, 0]


def test_read_fails_over_from_a_dead_datanode(cluster, fs, three_blocks):
    cluster.datanodes[0].kill()
    assert fs.read_bytes("/f") == three_blocks
    assert len(cluster.datanodes[1].reads) == 4


def test_read_fails_over_when_a_datanode_dies_mid_stream(cluster, fs, three_blocks):
    cluster.datanodes[0].die_after_chunks = 3
    with fs.open("/f", buffer_size=1000) as f:
        assert f.read() == three_blocks
    assert cluster.datanodes[1].reads[0].offset > 0  # resumed where the stream broke


def test_corrupt_replica_is_reported_and_skipped(cluster, fs, three_blocks):
    second = blocks_of(cluster, "/f")[1]
    cluster.datanodes[0].corrupt(second.block_id, 1000)
    assert fs.read_bytes("/f") == three_blocks
    assert cluster.namenode.bad_replicas == [(second.block_id, "dn0")]
    reports = cluster.namenode.called("ReportBadBlocks")
    assert reports[0].replicas[0].block.gen_stamp == second.gen_stamp


def test_every_replica_failing_raises_block_missing_after_one_refetch(cluster, fs, three_blocks):
    first = blocks_of(cluster, "/f")[0]
    for dn in cluster.datanodes[:3]:
        dn.corrupt(first.block_id, 7)
    before = len(cluster.namenode.called("GetBlockLocations"))
    with pytest.raises(BlockMissing) as caught:
        fs.read_bytes("/f", 0, 10)
    message = str(caught.value)
    assert f"block {first.block_id}" in message
    assert all(f"dn{i}" in message for i in range(3))
    assert "checksum mismatch" in message
    assert len(cluster.namenode.called("GetBlockLocations")) == before + 2  # open + refetch
    assert sorted(dn for _, dn in cluster.namenode.bad_replicas) == ["dn0", "dn1", "dn2"]


def test_a_dead_cluster_is_block_missing_not_a_hang(cluster, fs, three_blocks):
    for dn in cluster.datanodes:
        dn.kill()
    with pytest.raises(BlockMissing, match="unreachable"):
        fs.read_bytes("/f")


# -- write pipeline failures ---------------------------------------------------------


@pytest.mark.parametrize("dying", [0, 1, 2])
def test_a_datanode_dying_mid_write_is_recovered(cluster, fs, dying):
    cluster.datanodes[dying].die_after_packets = 3
    data = os.urandom(2 * BLOCK + 5000)
    fs.write_bytes("/f", data)
    updates = cluster.namenode.called("UpdatePipeline")
    assert len(updates) == 1
    assert list(updates[0].datanodes) == [f"dn{i}" for i in range(3) if i != dying]
    assert updates[0].block.num_bytes % PACKET == 0  # what every node acknowledged
    first = blocks_of(cluster, "/f")[0]
    assert first.gen_stamp != updates[0].block.gen_stamp  # a new stamp
    head = cluster.datanodes[1 if dying == 0 else 0]
    recovery = [h for h in head.headers if h.stage == dt.PIPELINE_RECOVERY]
    assert len(recovery) == 1
    assert recovery[0].previous_gen_stamp == updates[0].block.gen_stamp
    assert recovery[0].block.gen_stamp == first.gen_stamp
    assert recovery[0].block.num_bytes == updates[0].block.num_bytes
    assert fs.read_bytes("/f") == data
    assert f"dn{dying}" not in first.locations
    assert len(first.locations) == 2


def test_writes_fail_when_every_pipeline_node_dies(cluster, fs):
    for dn in cluster.datanodes[:3]:
        dn.die_after_packets = 1
    f = fs.open("/f", "wb")
    with pytest.raises(OSError, match="every DataNode of the pipeline") as caught:
        f.write(os.urandom(BLOCK))
        f.close()
    assert isinstance(caught.value, HafsError)
    with pytest.raises(HafsError):
        f.write(b"more")  # the writer stays failed
    f.close()  # releases the lease ticket without completing
    assert not fs.leases.open_paths()
    assert cluster.namenode.files["/f"].holder is not None  # left to lease recovery


def test_a_refused_header_abandons_the_block_and_excludes_the_node(cluster, fs):
    cluster.datanodes[0].refuse_header = True
    data = os.urandom(1000)
    fs.write_bytes("/f", data)
    abandoned = cluster.namenode.called("AbandonBlock")
    assert len(abandoned) == 1
    adds = cluster.namenode.called("AddBlock")
    assert [list(a.excluded_datanodes) for a in adds] == [[], ["dn0"]]
    assert blocks_of(cluster, "/f")[0].locations == ["dn1", "dn2", "dn3"]
    assert fs.read_bytes("/f") == data


def test_a_downstream_refusal_excludes_that_node(cluster, fs):
    cluster.datanodes[2].refuse_header = True
    fs.write_bytes("/f", b"x" * 100)
    adds = cluster.namenode.called("AddBlock")
    assert list(adds[1].excluded_datanodes) == ["dn2"]


def test_no_datanode_available_is_a_clear_error(cluster, fs):
    cluster.namenode.no_datanodes = True
    with pytest.raises(HafsError, match="no DataNode is available"):
        fs.write_bytes("/f", b"data")


# -- NameNode behaviour ----------------------------------------------------------------


def test_complete_is_retried_until_the_replicas_are_reported(cluster, fs):
    cluster.namenode.complete_false = 2
    fs.write_bytes("/f", b"data")
    assert len(cluster.namenode.called("Complete")) == 3
    call_ids = {r.header.call_id for r in cluster.namenode.called("Complete")}
    assert len(call_ids) == 3  # each a new call, not a retry of the same one
    assert fs.read_bytes("/f") == b"data"


def test_complete_gives_up_at_the_deadline(cluster):
    fs = cluster.client(deadline=0.3)
    cluster.namenode.complete_false = 10**6
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="replicas of its last block"):
        fs.write_bytes("/f", b"data")
    assert time.monotonic() - start < 2


def test_lost_namenode_replies_mid_write_are_invisible(cluster, fs):
    cluster.namenode.lose_reply = {"Create": 1, "AddBlock": 2, "Complete": 1}
    data = os.urandom(2 * BLOCK + 10)
    fs.write_bytes("/f", data)
    assert fs.read_bytes("/f") == data
    assert len(blocks_of(cluster, "/f")) == 3  # no block allocated twice
    creates = cluster.namenode.called("Create")
    assert len(creates) == 2 and creates[0].header.call_id == creates[1].header.call_id


def test_append_continues_a_partial_last_block(cluster, fs):
    head, tail = os.urandom(1000), os.urandom(BLOCK)
    fs.write_bytes("/f", head)
    fs.append_bytes("/f", tail)
    assert fs.read_bytes("/f") == head + tail
    blocks = blocks_of(cluster, "/f")
    assert [b.num_bytes for b in blocks] == [BLOCK, 1000]
    appends = [h for h in cluster.datanodes[0].headers if h.stage == dt.APPEND]
    assert len(appends) == 1
    assert appends[0].block.num_bytes == 1000 and appends[0].previous_gen_stamp == 0
    first_append_packet = next(p for p in cluster.datanodes[0].packets if p[1] == 1000)
    assert first_append_packet[2] == PACKET - 1000 % BPC  # ends on a chunk boundary


def test_append_with_no_data_finalizes_the_reopened_block(cluster, fs):
    fs.write_bytes("/f", b"abc")
    with fs.open("/f", "ab") as f:
        assert f.tell() == 3
    assert cluster.namenode.files["/f"].holder is None
    assert fs.read_bytes("/f") == b"abc"


def test_append_after_a_full_block_and_to_a_missing_file(cluster, fs):
    data = os.urandom(BLOCK)
    fs.write_bytes("/f", data)
    fs.append_bytes("/f", b"more")
    assert fs.read_bytes("/f") == data + b"more"
    assert [b.num_bytes for b in blocks_of(cluster, "/f")] == [BLOCK, 4]
    fs.append_bytes("/new", b"created")
    assert fs.read_bytes("/new") == b"created"


def test_lease_is_renewed_while_a_file_is_open_and_stops_after(cluster, fs):
    fs.leases.interval = 0.02
    with fs.open("/f", "wb") as f:
        f.write(b"x")
        deadline = time.monotonic() + 5
        while not cluster.namenode.called("RenewLease") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cluster.namenode.called("RenewLease")
        assert fs.leases.open_paths() == ["/f"]
    deadline = time.monotonic() + 5
    while fs.leases.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not fs.leases.running


def test_recover_lease_closes_an_abandoned_file(cluster, fs):
    writer = fs.open("/f", "wb")
    writer.write(b"x" * 3000)
    writer.hflush()
    other = cluster.client()
    assert other.recover_lease("/f") is True
    assert cluster.namenode.files["/f"].holder is None
    assert other.read_bytes("/f") == b"x" * 3000
    with pytest.raises(LeaseExpired):
        writer.close()  # the first writer lost its lease
    assert not fs.leases.open_paths()


# -- put, get, checksum, locations -------------------------------------------------------


def make_tree(root):
    files = {
        "a.bin": os.urandom(BLOCK + 100),
        "empty": b"",
        "sub/b.txt": b"hello\n",
        "sub/deeper/c.bin": os.urandom(5000),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "emptydir").mkdir()
    return files


def test_put_and_get_a_tree(cluster, fs, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    done = []
    written = fs.put(src, "/up", threads=3, progress=done.append)
    assert sorted(written) == sorted(f"/up/{name}" for name in files)
    assert sum(done) == sum(len(d) for d in files.values())
    assert fs.exists("/up/emptydir")
    for name, data in files.items():
        assert fs.read_bytes(f"/up/{name}") == data
    assert not [p for p in cluster.namenode.files if COPYING in p]
    with pytest.raises(FileExistsError):
        fs.put(src / "a.bin", "/up/a.bin")
    fs.put(src / "a.bin", "/up/a.bin", overwrite=True)

    fs.mkdir("/existing")
    assert fs.put(src / "sub", "/existing") == ["/existing/sub/b.txt", "/existing/sub/deeper/c.bin"]

    got = []
    local = fs.get("/up", tmp_path / "down", threads=2, progress=got.append)
    assert sum(got) == sum(len(d) for d in files.values())
    assert len(local) == len(files)
    for name, data in files.items():
        assert (tmp_path / "down" / name).read_bytes() == data
    assert (tmp_path / "down" / "emptydir").is_dir()
    assert not list(tmp_path.rglob(f"*{COPYING}"))
    with pytest.raises(FileExistsError):
        fs.get("/up/sub/b.txt", tmp_path / "down" / "sub")
    (tmp_path / "into").mkdir()
    assert fs.get("/up/sub/b.txt", tmp_path / "into") == [str(tmp_path / "into" / "b.txt")]


def test_a_failed_put_leaves_no_copying_file(cluster, fs, tmp_path):
    local = tmp_path / "big"
    local.write_bytes(os.urandom(BLOCK))
    for dn in cluster.datanodes:
        dn.die_after_packets = 1
    with pytest.raises(OSError):
        fs.put(local, "/big")
    assert not [p for p in cluster.namenode.files if COPYING in p or p == "/big"]


def test_checksum_is_equal_for_equal_contents(fs):
    data = os.urandom(2 * BLOCK + 99)
    fs.write_bytes("/one", data)
    fs.write_bytes("/two", data)
    fs.write_bytes("/other", data[:-1] + bytes([data[-1] ^ 1]))
    one, two, other = fs.checksum("/one"), fs.checksum("/two"), fs.checksum("/other")
    assert one == two
    assert one.value != other.value
    assert one.algorithm == f"MD5-of-3MD5-of-{BPC}CRC32C"
    assert one.length == len(data) and len(one.hex) == 32
    fs.write_bytes("/empty", b"")
    assert fs.checksum("/empty").value == hashlib.md5(b"").digest()


def test_checksum_fails_over_between_locations(cluster, fs):
    fs.write_bytes("/f", b"data" * 100)
    expected = fs.checksum("/f")
    cluster.datanodes[0].kill()
    assert fs.checksum("/f") == expected


def test_block_locations(cluster, fs):
    fs.write_bytes("/f", os.urandom(BLOCK + 10))
    found = fs.block_locations("/f")
    assert [(b.offset, b.length) for b in found] == [(0, BLOCK), (BLOCK, 10)]
    assert all(isinstance(b, BlockLocation) for b in found)
    assert found[0].datanode_ids == ("dn0", "dn1", "dn2")
    assert found[0].hosts == tuple(dn.address for dn in cluster.datanodes[:3])
    assert fs.block_locations("/f", BLOCK + 1, 1) == found[1:]


# -- the pipeline alone, over a scripted stream ---------------------------------------------


class ScriptedStream:
    """A WriteStream that acks the oldest packet only when the pipeline waits for it."""

    def __init__(self, nodes: int, fail: dict[int, list[int]]) -> None:
        self.nodes = nodes
        self.fail = fail  # seqno -> statuses for its ack
        self.sent: list = []
        self.acked = 0
        self.most_in_flight = 0
        self.cancelled = False

    def send(self, packet) -> None:
        self.sent.append(packet)
        self.most_in_flight = max(self.most_in_flight, len(self.sent) - self.acked)

    def next_ack(self, wait: bool = True):
        if not wait or self.acked >= len(self.sent):
            return None
        packet = self.sent[self.acked]
        self.acked += 1
        statuses = self.fail.pop(packet.seqno, [dt.SUCCESS] * self.nodes)
        return dt.WriteAck(seqno=packet.seqno, statuses=statuses)

    def close(self) -> None:
        pass

    def cancel(self) -> None:
        self.cancelled = True


class ScriptedDatanodes:
    def __init__(self, fail: dict[int, list[int]]) -> None:
        self.fail = fail
        self.streams: list[tuple[str, dt.WritePacket, ScriptedStream]] = []

    def open_write(self, address, header):
        nodes = 1 + len(header.header.targets)
        stream = ScriptedStream(nodes, self.fail if not self.streams else {})
        self.streams.append((address, header, stream))
        stream.sent.append(dt.WritePacket(seqno=0))  # the header, acked first
        return stream


class ScriptedNamenode:
    def __init__(self) -> None:
        self.calls = []

    def call(self, method, request, *, mutation):
        self.calls.append((method, request))
        block = common_pb2.Block(
            block_id=request.block.block_id, gen_stamp=request.block.gen_stamp + 1
        )
        nodes = [node(dn) for dn in request.datanodes]
        return pb.UpdatePipelineResponse(
            block=common_pb2.LocatedBlock(block=block, locations=nodes)
        )


def node(datanode_id: str) -> common_pb2.DatanodeInfo:
    return common_pb2.DatanodeInfo(datanode_id=datanode_id, address=f"{datanode_id}:1")


def scripted_pipeline(fail: dict[int, list[int]], window: int = 3):
    datanodes = ScriptedDatanodes(fail)
    namenode = ScriptedNamenode()
    dp = DataPath(namenode, datanodes, "client", "ns1", PACKET, window, 1.0)
    located = common_pb2.LocatedBlock(
        block=common_pb2.Block(block_id=7, gen_stamp=70),
        locations=[node("dn0"), node("dn1"), node("dn2")],
    )
    pipeline = BlockPipeline(dp, located, path="/f", file_id=1, bytes_per_checksum=BPC)
    pipeline.open()
    return pipeline, datanodes, namenode


def test_the_window_bounds_packets_in_flight():
    pipeline, datanodes, _ = scripted_pipeline({}, window=3)
    for _ in range(10):
        pipeline.send(b"x" * BPC)
    pipeline.wait()
    stream = datanodes.streams[0][2]
    assert stream.most_in_flight == 3  # the window (the header was acked at open)
    assert pipeline.acked == 10 * BPC
    assert [p.seqno for p in stream.sent[1:]] == list(range(1, 11))


def test_a_failed_ack_recovers_on_the_survivors_and_resends_the_unacked():
    bad = [dt.SUCCESS, dt.ERROR_CHECKSUM, dt.SUCCESS]
    pipeline, datanodes, namenode = scripted_pipeline({3: bad}, window=4)
    for i in range(6):
        pipeline.send(bytes([i]) * BPC, last=i == 5)
    pipeline.wait()
    [(method, request)] = namenode.calls
    assert method == "UpdatePipeline"
    assert list(request.datanodes) == ["dn0", "dn2"]
    assert (request.block.gen_stamp, request.block.num_bytes) == (70, 2 * BPC)
    address, header, stream = datanodes.streams[1]
    assert address == "dn0:1"
    assert header.header.stage == dt.PIPELINE_RECOVERY
    assert header.header.previous_gen_stamp == 70
    assert header.header.block.gen_stamp == 71
    assert header.header.block.num_bytes == 2 * BPC
    assert [t.datanode_id for t in header.header.targets] == ["dn2"]
    resent = stream.sent[1:]
    assert [p.seqno for p in resent] == list(range(1, len(resent) + 1))  # renumbered
    assert resent[0].offset == 2 * BPC and resent[-1].last
    assert pipeline.acked == 6 * BPC and pipeline.block.gen_stamp == 71
    assert "dn1" in pipeline.failures[0] and "ERROR_CHECKSUM" in pipeline.failures[0]


def test_first_bad_names_the_first_failing_or_missing_status():
    ok = dt.SUCCESS
    assert first_bad(dt.WriteAck(statuses=[ok, ok, ok]), 3) is None
    assert first_bad(dt.WriteAck(statuses=[ok, dt.ERROR, dt.ERROR]), 3) == 1
    assert first_bad(dt.WriteAck(statuses=[ok]), 3) == 1
    assert first_bad(dt.WriteAck(statuses=[]), 3) == 0
