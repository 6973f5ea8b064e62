"""The DatanodeNamenode servicer: registration, heartbeats with commands, block reports.

Only the leader answers (others: NOT_LEADER with its address, which DataNodes
follow). Every command in a heartbeat reply carries the leader's term; block
tokens in replicate commands are minted for the copy (COPY mode).
"""

from __future__ import annotations

from ha_namenode.blocks.manager import BlockManager, DeleteBlocks, ReplicateBlock, SendFullReport
from ha_namenode.blocks.registry import Stats
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.model import Datanode
from ha_namenode.rpc import convert
from ha_namenode.rpc.errors import rpc
from hafs_api import tokens
from hafs_api.errors import InvalidArgument
from hafs_api.v1 import common_pb2, datanode_pb2, datanode_pb2_grpc, datatransfer_pb2

_KIND = {
    datatransfer_pb2.FINALIZED: c.REPORTED_FINALIZED,
    datatransfer_pb2.RBW: c.REPORTED_RBW,
    datatransfer_pb2.CORRUPT: c.REPORTED_CORRUPT,
}


class DatanodeService(datanode_pb2_grpc.DatanodeNamenodeServicer):
    def __init__(self, manager: BlockManager) -> None:
        self.manager = manager

    def _identity(self, registration: datanode_pb2.DatanodeRegistration) -> str:
        if not registration.datanode_id:
            raise InvalidArgument("the registration has no DataNode id")
        if registration.block_pool != self.manager.block_pool:
            raise InvalidArgument(
                f"block pool {registration.block_pool!r} is not this nameservice's "
                f"({self.manager.block_pool!r})"
            )
        return registration.datanode_id

    @rpc
    def Register(self, request, context):
        reg = request.registration
        datanode = self._identity(reg)
        if not reg.address:
            raise InvalidArgument("the registration has no data transfer address")
        term = self.manager.register(Datanode(datanode, reg.address, reg.rack or "/default-rack"))
        bpc = self.manager.ns.config.namespace.bytes_per_checksum
        return datanode_pb2.RegisterResponse(term=term, bytes_per_checksum=bpc)

    @rpc
    def Heartbeat(self, request, context):
        datanode = self._identity(request.registration)
        storages = request.storages
        stats = Stats(
            capacity=sum(s.capacity_bytes for s in storages if not s.failed),
            used=sum(s.used_bytes for s in storages if not s.failed),
            remaining=sum(s.remaining_bytes for s in storages if not s.failed),
            transfers=request.active_transfers,
            failed_volumes=request.failed_volumes,
        )
        term, commands = self.manager.heartbeat(datanode, stats)
        if commands is None:
            out = [datanode_pb2.DatanodeCommand(term=term, reregister={})]
        else:
            out = [self._command(term, command) for command in commands]
        return datanode_pb2.HeartbeatResponse(term=term, commands=out)

    def _command(self, term: int, command: object) -> datanode_pb2.DatanodeCommand:
        if isinstance(command, DeleteBlocks):
            blocks = [common_pb2.Block(block_id=b, gen_stamp=g) for b, g in command.blocks]
            return datanode_pb2.DatanodeCommand(term=term, delete={"blocks": blocks})
        if isinstance(command, ReplicateBlock):
            return datanode_pb2.DatanodeCommand(
                term=term,
                replicate=datanode_pb2.ReplicateCommand(
                    block=common_pb2.Block(
                        block_id=command.block_id,
                        gen_stamp=command.gen_stamp,
                        num_bytes=command.num_bytes,
                    ),
                    targets=[convert.datanode_info(n) for n in command.targets],
                    access_token=self.manager.token(command.block_id, tokens.COPY),
                ),
            )
        if isinstance(command, SendFullReport):
            return datanode_pb2.DatanodeCommand(term=term, full_report={})
        raise TypeError(f"unknown DataNode command {command!r}")

    @rpc
    def BlockReport(self, request, context):
        datanode = self._identity(request.registration)
        received = [_reported(r) for r in request.replicas]
        term = self.manager.report(datanode, received, full=True)
        return datanode_pb2.BlockReportResponse(term=term)

    @rpc
    def BlockReceivedAndDeleted(self, request, context):
        datanode = self._identity(request.registration)
        received = [_reported(r) for r in request.received]
        deleted = [(b.block_id, b.gen_stamp) for b in request.deleted]
        term = self.manager.report(datanode, received, deleted)
        return datanode_pb2.BlockReceivedAndDeletedResponse(term=term)


def _reported(report: datanode_pb2.ReplicaReport) -> tuple[int, int, int, int]:
    kind = _KIND.get(report.state)
    if kind is None:
        raise InvalidArgument(f"replica of block {report.block.block_id} has no state")
    return (report.block.block_id, report.block.gen_stamp, report.block.num_bytes, kind)
