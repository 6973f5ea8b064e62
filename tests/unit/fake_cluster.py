"""In-process fakes of a NameNode and DataNodes for the client's data-path tests.

``FakeCluster`` starts one ``FakeNamenode`` (ClientNamenode) and a few
``FakeDatanode``s (DataTransfer) as real gRPC servers on 127.0.0.1, so the
client runs its real channels, retries and streams against them.

* The NameNode keeps files and blocks in memory with the semantics the client
  relies on (leases, AddBlock with previous/excluded, AbandonBlock,
  UpdatePipeline, Complete that waits for a finalized replica, Append that
  reopens a partial last block, a retry cache keyed by (client_id, call_id)),
  issues real block tokens, and records every call. Faults: ``complete_false``
  (answer Complete with false N times), ``lose_reply`` (apply a mutation, then
  fail the attempt as a lost reply, as a leader change would), ``no_datanodes``.
* A DataNode verifies tokens and packet checksums for real, keeps replicas
  with per-chunk CRC32Cs, and forwards a pipeline to the next target with a
  real stub. Faults: ``refuse_header``, ``die_after_packets`` (then it is dead
  to every call), ``die_after_chunks`` (reads), ``kill()`` (stop the server),
  ``corrupt(block_id, offset)`` (flip a stored byte, keep its checksum).
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
from concurrent import futures
from dataclasses import dataclass, field

import crc32c
import grpc

from client import Client, RetryPolicy
from hafs_api import checksum, paths, tokens
from hafs_api.errors import (
    AccessDenied,
    FileAlreadyExists,
    FileNotFound,
    HafsError,
    InvalidArgument,
    IsADirectory,
    LeaseConflict,
    LeaseExpired,
    ReplicaNotFound,
    Unavailable,
)
from hafs_api.status import abort
from hafs_api.v1 import common_pb2, datatransfer_pb2_grpc, namenode_pb2_grpc
from hafs_api.v1 import datatransfer_pb2 as dt
from hafs_api.v1 import namenode_pb2 as pb

POOL = "ns1"
KEY = b"fake-cluster-secret"
CHUNKS_PER_READ = 4


def _serve(servicer, add) -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


# -- DataNode ------------------------------------------------------------------------


@dataclass
class Replica:
    gen_stamp: int
    bpc: int
    data: bytearray = field(default_factory=bytearray)
    crcs: list[int] = field(default_factory=list)
    finalized: bool = False

    def truncate(self, length: int) -> None:
        del self.data[length:]
        self.rechecksum(0)

    def rechecksum(self, offset: int) -> None:
        first = offset // self.bpc
        del self.crcs[first:]
        for start in range(first * self.bpc, len(self.data), self.bpc):
            self.crcs.append(crc32c.crc32c(bytes(self.data[start : start + self.bpc])))


class FakeDatanode(datatransfer_pb2_grpc.DataTransferServicer):
    def __init__(self, datanode_id: str) -> None:
        self.datanode_id = datanode_id
        self.replicas: dict[int, Replica] = {}
        self.lock = threading.Lock()
        self.headers: list[dt.WriteHeader] = []
        self.packets: list[tuple[int, int, int, bool]] = []  # block, offset, length, last
        self.reads: list[dt.ReadBlockRequest] = []
        self.syncs = 0
        self.refuse_header = False
        self.die_after_packets: int | None = None
        self.die_after_chunks: int | None = None
        self.dead = False
        self.server: grpc.Server | None = None
        self.address = ""

    def start(self) -> FakeDatanode:
        self.server, self.address = _serve(
            self, datatransfer_pb2_grpc.add_DataTransferServicer_to_server
        )
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(0).wait()
            self.server = None

    def kill(self) -> None:
        self.dead = True
        self.stop()

    def info(self) -> common_pb2.DatanodeInfo:
        return common_pb2.DatanodeInfo(datanode_id=self.datanode_id, address=self.address)

    def corrupt(self, block_id: int, offset: int) -> None:
        with self.lock:
            self.replicas[block_id].data[offset] ^= 0xFF

    def replica(self, block_id: int) -> Replica | None:
        with self.lock:
            return self.replicas.get(block_id)

    # -- writes --

    def WriteBlock(self, request_iterator, context):
        if self.dead:
            abort(context, Unavailable(f"{self.datanode_id} is dead"))
        header = next(request_iterator).header
        with self.lock:
            self.headers.append(header)
        try:
            tokens.verify(KEY, header.access_token, POOL, header.block.block_id, tokens.WRITE)
            replica = self._prepare(header)
        except HafsError as err:
            yield dt.WriteAck(seqno=0, statuses=[dt.ERROR_ACCESS], message=str(err))
            return
        if self.refuse_header:
            yield dt.WriteAck(seqno=0, statuses=[dt.ERROR], message=f"{self.datanode_id} refuses")
            return
        downstream = _Downstream(header) if header.targets else None
        try:
            down = downstream.ack(0) if downstream else []
            yield dt.WriteAck(seqno=0, statuses=[dt.SUCCESS, *down])
            if any(s != dt.SUCCESS for s in down):
                return
            for count, packet in enumerate(request_iterator, 1):
                if self.die_after_packets is not None and count > self.die_after_packets:
                    self.dead = True
                    abort(context, Unavailable(f"{self.datanode_id} died"))
                status = self._store(header.block.block_id, replica, packet)
                if status != dt.SUCCESS:
                    yield dt.WriteAck(seqno=packet.seqno, statuses=[status], message="bad packet")
                    return
                if downstream:
                    downstream.send(packet)
                    down = downstream.ack(packet.seqno)
                yield dt.WriteAck(seqno=packet.seqno, statuses=[dt.SUCCESS, *down])
                if any(s != dt.SUCCESS for s in down):
                    return
        finally:
            if downstream:
                downstream.close()

    def _prepare(self, header: dt.WriteHeader) -> Replica:
        block = header.block
        with self.lock:
            if header.stage == dt.CREATE:
                replica = Replica(block.gen_stamp, header.bytes_per_checksum)
            else:
                replica = self.replicas.get(block.block_id)
                if replica is None:
                    raise ReplicaNotFound(f"no replica of block {block.block_id}")
                if header.stage == dt.APPEND and not replica.finalized:
                    raise InvalidArgument("append to a replica being written")
                if header.stage == dt.PIPELINE_RECOVERY and replica.gen_stamp not in (
                    header.previous_gen_stamp,
                    block.gen_stamp,
                ):
                    raise InvalidArgument(f"replica has stamp {replica.gen_stamp}")
                if len(replica.data) < block.num_bytes:
                    raise InvalidArgument("replica is shorter than asked")
                replica.truncate(block.num_bytes)
                replica.gen_stamp, replica.finalized = block.gen_stamp, False
            self.replicas[block.block_id] = replica
            return replica

    def _store(self, block_id: int, replica: Replica, packet: dt.WritePacket) -> int:
        with self.lock:
            self.packets.append((block_id, packet.offset, len(packet.data), packet.last))
            if packet.offset != len(replica.data):
                return dt.ERROR
            try:
                checksum.verify(packet.data, packet.checksums, packet.offset, replica.bpc)
            except HafsError:
                return dt.ERROR_CHECKSUM
            replica.data += packet.data
            replica.rechecksum(packet.offset)
            self.syncs += packet.sync
            replica.finalized = replica.finalized or packet.last
            return dt.SUCCESS

    # -- reads --

    def ReadBlock(self, request, context):
        if self.dead:
            abort(context, Unavailable(f"{self.datanode_id} is dead"))
        try:
            tokens.verify(KEY, request.access_token, POOL, request.block.block_id, tokens.READ)
        except AccessDenied as err:
            abort(context, err)
        with self.lock:
            self.reads.append(request)
            replica = self.replicas.get(request.block.block_id)
            if replica is None or replica.gen_stamp != request.block.gen_stamp:
                abort(context, ReplicaNotFound(f"no replica of block {request.block.block_id}"))
            data, crcs, bpc = bytes(replica.data), list(replica.crcs), replica.bpc
        end = len(data) if request.length == 0 else min(request.offset + request.length, len(data))
        start = request.offset - request.offset % bpc
        for sent, first in enumerate(range(start, end, bpc * CHUNKS_PER_READ)):
            if self.die_after_chunks is not None and sent >= self.die_after_chunks:
                self.dead = True
                abort(context, Unavailable(f"{self.datanode_id} died"))
            stop = min(first + bpc * CHUNKS_PER_READ, len(data))
            sums = crcs[first // bpc : (stop + bpc - 1) // bpc]
            yield dt.ReadChunk(
                offset=first,
                data=data[first:stop],
                checksums=struct.pack(f">{len(sums)}I", *sums),
                bytes_per_checksum=bpc,
            )

    def BlockChecksum(self, request, context):
        if self.dead:
            abort(context, Unavailable(f"{self.datanode_id} is dead"))
        tokens.verify(KEY, request.access_token, POOL, request.block.block_id, tokens.READ)
        with self.lock:
            replica = self.replicas.get(request.block.block_id)
            if replica is None or not replica.finalized:
                abort(context, ReplicaNotFound(f"no replica of block {request.block.block_id}"))
            packed = struct.pack(f">{len(replica.crcs)}I", *replica.crcs)
            return dt.BlockChecksumResponse(
                md5=hashlib.md5(packed).digest(),
                bytes_per_checksum=replica.bpc,
                chunks=len(replica.crcs),
                num_bytes=len(replica.data),
            )


class _Downstream:
    """The rest of a pipeline, seen from one DataNode: a real WriteBlock call."""

    def __init__(self, header: dt.WriteHeader) -> None:
        forwarded = dt.WriteHeader()
        forwarded.CopyFrom(header)
        del forwarded.targets[:]
        forwarded.targets.extend(header.targets[1:])
        self.nodes = len(header.targets)
        self.channel = grpc.insecure_channel(header.targets[0].address)
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.requests.put(dt.WritePacket(header=forwarded, seqno=0))
        self.call = datatransfer_pb2_grpc.DataTransferStub(self.channel).WriteBlock(
            iter(self.requests.get, None)
        )

    def send(self, packet: dt.WritePacket) -> None:
        self.requests.put(packet)

    def ack(self, seqno: int) -> list[int]:
        try:
            ack = next(self.call)
        except (grpc.RpcError, StopIteration):
            return [dt.ERROR]
        if ack.seqno != seqno:
            return [dt.ERROR]
        return list(ack.statuses)

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.channel.close()


# -- NameNode ------------------------------------------------------------------------


@dataclass
class FakeBlock:
    block_id: int
    gen_stamp: int
    num_bytes: int = 0
    locations: list[str] = field(default_factory=list)


@dataclass
class FakeFile:
    inode_id: int
    block_size: int
    replication: int
    permission: int
    blocks: list[FakeBlock] = field(default_factory=list)
    holder: str | None = None

    @property
    def length(self) -> int:
        return sum(b.num_bytes for b in self.blocks)


class FakeNamenode(namenode_pb2_grpc.ClientNamenodeServicer):
    def __init__(self, cluster: FakeCluster, block_size: int, bpc: int, replication: int):
        self.cluster = cluster
        self.block_size, self.bpc, self.replication = block_size, bpc, replication
        self.issuer = tokens.TokenIssuer(KEY, POOL)
        self.lock = threading.RLock()
        self.dirs: set[str] = {"/"}
        self.files: dict[str, FakeFile] = {}
        self.calls: list[tuple[str, object]] = []
        self.cache: dict[tuple[str, int], object] = {}
        self.next_id = 1000
        self.complete_false = 0
        self.lose_reply: dict[str, int] = {}
        self.no_datanodes = False
        self.bad_replicas: list[tuple[int, str]] = []

    def called(self, method: str) -> list:
        with self.lock:
            return [request for name, request in self.calls if name == method]

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _record(self, method: str, request) -> None:
        copy = type(request)()
        copy.CopyFrom(request)
        with self.lock:
            self.calls.append((method, copy))

    def _mutate(self, method: str, request, context, apply):
        self._record(method, request)
        key = (request.header.client_id, request.header.call_id)
        with self.lock:
            response = self.cache.get(key)
            if response is None:
                try:
                    response = apply()
                except HafsError as err:
                    abort(context, err)
                self.cache[key] = response
            if self.lose_reply.get(method, 0) > 0:
                self.lose_reply[method] -= 1
                abort(context, Unavailable("leader changed; the outcome is unknown"))
            return response

    def _file(self, path: str, holder: str | None = None, file_id: int = 0) -> FakeFile:
        f = self.files.get(path)
        if f is None:
            raise FileNotFound("no such file", path)
        if holder is not None and f.holder != holder:
            raise LeaseExpired(f"{holder} does not hold the lease", path)
        if file_id and f.inode_id != file_id:
            raise FileNotFound(f"file id {file_id} is gone", path)
        return f

    def status(self, path: str, name: str | None = None) -> common_pb2.FileStatus:
        shown = path if name is None else name
        if path in self.dirs:
            return common_pb2.FileStatus(path=shown, kind=common_pb2.DIRECTORY, permission=0o755)
        f = self._file(path)
        return common_pb2.FileStatus(
            path=shown,
            kind=common_pb2.FILE,
            length=f.length,
            replication=f.replication,
            block_size=f.block_size,
            permission=f.permission,
            inode_id=f.inode_id,
            under_construction=f.holder is not None,
        )

    def located(self, f: FakeFile, block: FakeBlock, mode: str) -> common_pb2.LocatedBlock:
        offset = sum(b.num_bytes for b in f.blocks[: f.blocks.index(block)])
        nodes = {dn.datanode_id: dn for dn in self.cluster.datanodes}
        return common_pb2.LocatedBlock(
            block=common_pb2.Block(
                block_id=block.block_id, gen_stamp=block.gen_stamp, num_bytes=block.num_bytes
            ),
            offset=offset,
            locations=[nodes[dn].info() for dn in block.locations],
            under_construction=f.holder is not None and block is f.blocks[-1],
            term=1,
            access_token=self.issuer.issue(block.block_id, (mode,), term=1),
        )

    # -- namespace --

    def GetServerDefaults(self, request, context):
        return pb.GetServerDefaultsResponse(
            block_size=self.block_size, replication=self.replication, bytes_per_checksum=self.bpc
        )

    def GetFileInfo(self, request, context):
        with self.lock:
            try:
                return pb.GetFileInfoResponse(status=self.status(request.path))
            except HafsError as err:
                abort(context, err)

    def GetListing(self, request, context):
        with self.lock:
            if request.path not in self.dirs:
                abort(context, FileNotFound("no such directory", request.path))
            names = sorted(
                p for p in [*self.dirs, *self.files] if p != "/" and paths.parent(p) == request.path
            )
            entries = [self.status(p, paths.basename(p)) for p in names]
            return pb.GetListingResponse(entries=entries)

    def Mkdir(self, request, context):
        def apply():
            if request.path in self.files:
                raise FileAlreadyExists("a file", request.path)
            parts = paths.split(request.path)
            for depth in range(1, len(parts) + 1):
                self.dirs.add(paths.join(parts[:depth]))
            return pb.MkdirResponse(status=self.status(request.path))

        return self._mutate("Mkdir", request, context, apply)

    def Rename(self, request, context):
        def apply():
            self._file(request.src)
            if request.dst in self.dirs:
                raise IsADirectory("a directory", request.dst)
            if request.dst in self.files and not request.overwrite:
                raise FileAlreadyExists("exists", request.dst)
            self.files[request.dst] = self.files.pop(request.src)
            return pb.RenameResponse()

        return self._mutate("Rename", request, context, apply)

    def Delete(self, request, context):
        def apply():
            gone = [p for p in self.files if paths.is_ancestor(request.path, p)]
            if not gone and request.path not in self.dirs:
                raise FileNotFound("no such path", request.path)
            for p in gone:
                del self.files[p]
            self.dirs -= {d for d in self.dirs if d != "/" and paths.is_ancestor(request.path, d)}
            return pb.DeleteResponse()

        return self._mutate("Delete", request, context, apply)

    # -- files and blocks --

    def Create(self, request, context):
        def apply():
            path = request.path
            if path in self.dirs:
                raise IsADirectory("a directory", path)
            old = self.files.get(path)
            if old is not None and (not request.overwrite or old.holder):
                raise FileAlreadyExists("already exists", path)
            parts = paths.split(path)
            for depth in range(1, len(parts)):
                self.dirs.add(paths.join(parts[:depth]))
            self.files[path] = FakeFile(
                inode_id=self._id(),
                block_size=request.block_size or self.block_size,
                replication=request.replication or self.replication,
                permission=request.permission,
                holder=request.header.client_id,
            )
            return pb.CreateResponse(status=self.status(path))

        return self._mutate("Create", request, context, apply)

    def Append(self, request, context):
        def apply():
            f = self._file(request.path)
            if f.holder is not None:
                raise LeaseConflict(f"held by {f.holder}", request.path)
            f.holder = request.header.client_id
            response = pb.AppendResponse(status=self.status(request.path))
            last = f.blocks[-1] if f.blocks else None
            if last is not None and 0 < last.num_bytes < f.block_size:
                last.gen_stamp = self._id()
                response.last_block.CopyFrom(self.located(f, last, tokens.WRITE))
            return response

        return self._mutate("Append", request, context, apply)

    def AddBlock(self, request, context):
        def apply():
            f = self._file(request.path, request.header.client_id, request.file_id)
            if request.HasField("previous"):
                last = f.blocks[-1] if f.blocks else None
                prev = request.previous
                if last is None or (last.block_id, last.gen_stamp) != (
                    prev.block_id,
                    prev.gen_stamp,
                ):
                    raise InvalidArgument(f"previous block {prev.block_id} is not the last")
                last.num_bytes = prev.num_bytes
            elif f.blocks and f.blocks[-1].num_bytes < f.block_size:
                raise InvalidArgument("AddBlock without the previous block")
            candidates = [
                dn.datanode_id
                for dn in self.cluster.datanodes
                if dn.datanode_id not in request.excluded_datanodes
            ]
            block = FakeBlock(self._id(), self._id())
            if not self.no_datanodes:
                block.locations = candidates[: f.replication]
            f.blocks.append(block)
            located = self.located(f, block, tokens.WRITE)
            if self.no_datanodes:
                f.blocks.pop()
            return pb.AddBlockResponse(block=located)

        return self._mutate("AddBlock", request, context, apply)

    def AbandonBlock(self, request, context):
        def apply():
            f = self._file(request.path, request.header.client_id, request.file_id)
            if not f.blocks or f.blocks[-1].block_id != request.block.block_id:
                raise InvalidArgument(f"block {request.block.block_id} is not the last")
            f.blocks.pop()
            return pb.AbandonBlockResponse()

        return self._mutate("AbandonBlock", request, context, apply)

    def UpdatePipeline(self, request, context):
        def apply():
            f = self._file(request.path, request.header.client_id, request.file_id)
            block = f.blocks[-1]
            if (block.block_id, block.gen_stamp) != (
                request.block.block_id,
                request.block.gen_stamp,
            ):
                raise InvalidArgument("not the open block at its current stamp")
            block.gen_stamp = self._id()
            block.num_bytes = request.block.num_bytes
            block.locations = list(request.datanodes)
            return pb.UpdatePipelineResponse(block=self.located(f, block, tokens.WRITE))

        return self._mutate("UpdatePipeline", request, context, apply)

    def Complete(self, request, context):
        def apply():
            f = self._file(request.path, request.header.client_id, request.file_id)
            if request.HasField("last") != bool(f.blocks):
                raise InvalidArgument("Complete's last block does not match the file")
            if f.blocks:
                last = f.blocks[-1]
                if (last.block_id, last.gen_stamp) != (
                    request.last.block_id,
                    request.last.gen_stamp,
                ):
                    raise InvalidArgument(f"last block {request.last.block_id} is not the last")
                last.num_bytes = request.last.num_bytes
            if self.complete_false > 0:
                self.complete_false -= 1
                return pb.CompleteResponse(completed=False)
            for block in f.blocks:
                block.locations = [
                    dn.datanode_id for dn in self.cluster.datanodes if self._holds(dn, block)
                ]
                if not block.locations:
                    return pb.CompleteResponse(completed=False)
            f.holder = None
            return pb.CompleteResponse(completed=True)

        return self._mutate("Complete", request, context, apply)

    @staticmethod
    def _holds(dn: FakeDatanode, block: FakeBlock) -> bool:
        replica = dn.replica(block.block_id)
        return (
            not dn.dead
            and replica is not None
            and replica.finalized
            and replica.gen_stamp == block.gen_stamp
            and len(replica.data) == block.num_bytes
        )

    def GetBlockLocations(self, request, context):
        self._record("GetBlockLocations", request)
        with self.lock:
            try:
                status = self.status(request.path)
            except HafsError as err:
                abort(context, err)
            if status.kind == common_pb2.DIRECTORY:
                return pb.GetBlockLocationsResponse(status=status)
            f = self.files[request.path]
            end = f.length if request.length == 0 else request.offset + request.length
            blocks = []
            for block in f.blocks:
                located = self.located(f, block, tokens.READ)
                if located.offset + block.num_bytes > request.offset and located.offset < end:
                    bad = {dn for b, dn in self.bad_replicas if b == block.block_id}
                    kept = [n for n in located.locations if n.datanode_id not in bad]
                    del located.locations[:]
                    located.locations.extend(kept)
                    blocks.append(located)
            return pb.GetBlockLocationsResponse(status=status, blocks=blocks)

    def ReportBadBlocks(self, request, context):
        def apply():
            for replica in request.replicas:
                self.bad_replicas.append((replica.block.block_id, replica.datanode_id))
            return pb.ReportBadBlocksResponse()

        return self._mutate("ReportBadBlocks", request, context, apply)

    def RenewLease(self, request, context):
        return self._mutate("RenewLease", request, context, pb.RenewLeaseResponse)

    def RecoverLease(self, request, context):
        def apply():
            f = self._file(request.path)
            if f.holder is not None:
                for block in f.blocks:
                    replicas = [dn.replica(block.block_id) for dn in self.cluster.datanodes]
                    lengths = [len(r.data) for r in replicas if r is not None]
                    block.num_bytes = min(lengths, default=0)
                f.holder = None
            return pb.RecoverLeaseResponse(closed=True)

        return self._mutate("RecoverLease", request, context, apply)


# -- the cluster ---------------------------------------------------------------------


class FakeCluster:
    def __init__(
        self,
        datanodes: int = 4,
        *,
        block_size: int = 64 * 1024,
        bpc: int = 512,
        replication: int = 3,
    ) -> None:
        self.datanodes = [FakeDatanode(f"dn{i}") for i in range(datanodes)]
        self.namenode = FakeNamenode(self, block_size, bpc, replication)
        self.server: grpc.Server | None = None
        self.address = ""
        self.clients: list[Client] = []

    def start(self) -> FakeCluster:
        for dn in self.datanodes:
            dn.start()
        self.server, self.address = _serve(
            self.namenode, namenode_pb2_grpc.add_ClientNamenodeServicer_to_server
        )
        return self

    def client(self, *, deadline: float = 10.0, packet_size: int = 8192, window: int = 4) -> Client:
        retry = RetryPolicy(deadline=deadline, base_delay=0.001, max_delay=0.02)
        fs = Client([self.address], user="alice", retry=retry)
        fs.packet_size, fs.window = packet_size, window
        self.clients.append(fs)
        return fs

    def stop(self) -> None:
        for fs in self.clients:
            fs.close()
        if self.server is not None:
            self.server.stop(0).wait()
        for dn in self.datanodes:
            dn.stop()

    def replica_holders(self, block_id: int) -> list[str]:
        return [dn.datanode_id for dn in self.datanodes if dn.replica(block_id) is not None]
