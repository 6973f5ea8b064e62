"""Stand-in DataNodes for metadata tests: they register, heartbeat and report
replicas over a NameNode's real DatanodeNamenode service, but store nothing.

Use where a test needs files with blocks but not their bytes (listings,
attributes, restarts): ``stub.finalize(located, size)`` reports the block
finalized on its pipeline's DataNodes, as real ones do after a write.
"""

from __future__ import annotations

import grpc

from hafs_api.v1 import common_pb2, datanode_pb2, datanode_pb2_grpc, datatransfer_pb2


class DatanodeStub:
    def __init__(self, address: str, count: int = 3, block_pool: str = "ns1") -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = datanode_pb2_grpc.DatanodeNamenodeStub(self._channel)
        self.registrations = [
            datanode_pb2.DatanodeRegistration(
                datanode_id=f"stub-dn{i}",
                address=f"127.0.0.1:{1 + i}",
                rack=f"/rack{i % 2}",
                block_pool=block_pool,
                capacity_bytes=1 << 40,
            )
            for i in range(1, count + 1)
        ]
        for reg in self.registrations:
            self._stub.Register(datanode_pb2.RegisterRequest(registration=reg), timeout=10)
            self._stub.BlockReport(datanode_pb2.BlockReportRequest(registration=reg), timeout=10)
        self.heartbeat()

    def heartbeat(self) -> None:
        for reg in self.registrations:
            storage = datanode_pb2.StorageReport(
                storage_id="s", capacity_bytes=1 << 40, used_bytes=0, remaining_bytes=1 << 40
            )
            self._stub.Heartbeat(
                datanode_pb2.HeartbeatRequest(registration=reg, storages=[storage]), timeout=10
            )

    def finalize(self, located: common_pb2.LocatedBlock, num_bytes: int) -> None:
        by_id = {r.datanode_id: r for r in self.registrations}
        for location in located.locations:
            report = datanode_pb2.ReplicaReport(
                block=common_pb2.Block(
                    block_id=located.block.block_id,
                    gen_stamp=located.block.gen_stamp,
                    num_bytes=num_bytes,
                ),
                state=datatransfer_pb2.FINALIZED,
            )
            self._stub.BlockReceivedAndDeleted(
                datanode_pb2.BlockReceivedAndDeletedRequest(
                    registration=by_id[location.datanode_id], received=[report]
                ),
                timeout=10,
            )

    def close(self) -> None:
        self._channel.close()
