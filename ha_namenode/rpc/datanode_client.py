"""``GrpcReplicaClient``: the leader's calls to DataNodes for block recovery.

The one place the NameNode calls a DataNode (``GetReplica``, ``RecoverReplica``
on its DataTransfer service). Channels are cached per address.
"""

from __future__ import annotations

import threading

import grpc

from ha_namenode.blocks.recovery import ReplicaInfo
from hafs_api.errors import ReplicaNotFound
from hafs_api.status import from_rpc_error
from hafs_api.v1 import common_pb2, datatransfer_pb2, datatransfer_pb2_grpc

TIMEOUT_S = 10.0


class GrpcReplicaClient:
    def __init__(self, block_pool: str) -> None:
        self.block_pool = block_pool
        self._stubs: dict[str, datatransfer_pb2_grpc.DataTransferStub] = {}
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()

    def _stub(self, address: str) -> datatransfer_pb2_grpc.DataTransferStub:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                channel = grpc.insecure_channel(address)
                self._channels.append(channel)
                stub = self._stubs[address] = datatransfer_pb2_grpc.DataTransferStub(channel)
            return stub

    def get_replica(self, address: str, block_id: int, token: bytes) -> ReplicaInfo | None:
        request = datatransfer_pb2.GetReplicaRequest(
            block_pool=self.block_pool, block_id=block_id, access_token=token
        )
        try:
            resp = self._stub(address).GetReplica(request, timeout=TIMEOUT_S)
        except grpc.RpcError as e:
            err = from_rpc_error(e)
            if isinstance(err, ReplicaNotFound):
                return None
            raise err from None
        return ReplicaInfo(
            resp.block.gen_stamp, resp.block.num_bytes, resp.state == datatransfer_pb2.FINALIZED
        )

    def recover_replica(
        self,
        address: str,
        block_id: int,
        gen_stamp: int,
        new_gen_stamp: int,
        length: int,
        token: bytes,
    ) -> int:
        request = datatransfer_pb2.RecoverReplicaRequest(
            block_pool=self.block_pool,
            block=common_pb2.Block(block_id=block_id, gen_stamp=gen_stamp),
            new_gen_stamp=new_gen_stamp,
            length=length,
            access_token=token,
        )
        try:
            resp = self._stub(address).RecoverReplica(request, timeout=TIMEOUT_S)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return resp.block.num_bytes

    def close(self) -> None:
        with self._lock:
            for channel in self._channels:
                channel.close()
            self._channels.clear()
            self._stubs.clear()
