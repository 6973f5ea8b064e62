"""The balancer's calls of the HaAdmin servicer: StartBalancer, GetBalancerStatus and
StopBalancer, mixed into ``AdminService``.

Leader only, like the other DataNode calls (``_blocks()`` raises NotLeader with
the leader's address elsewhere); starting and stopping need the superuser, and
starting is refused in safe mode (a run started before waits while it is on).
Request zeros take the defaults: threshold 10 %, and the ``[blocks]``
``balancer_bandwidth_bytes_per_s`` and ``balancer_max_concurrent_moves``.
"""

from __future__ import annotations

import math

from ha_namenode.blocks.balancer import DEFAULT_THRESHOLD
from ha_namenode.blocks.dispatcher import BalancerState, Dispatcher, Options, Status
from ha_namenode.blocks.manager import BlockManager
from ha_namenode.namespace.permission import check_superuser
from ha_namenode.rpc.errors import rpc
from hafs_api.errors import InvalidArgument, SafeModeOn
from hafs_api.v1 import admin_pb2 as pb

_STATE = {
    BalancerState.IDLE: pb.BALANCER_IDLE,
    BalancerState.RUNNING: pb.BALANCER_RUNNING,
    BalancerState.BALANCED: pb.BALANCER_BALANCED,
    BalancerState.STOPPED: pb.BALANCER_STOPPED,
    BalancerState.NO_PROGRESS: pb.BALANCER_NO_PROGRESS,
}


class BalancerCalls:
    """Needs ``_blocks()`` (the leader's BlockManager) and ``balancer`` from its host."""

    balancer: Dispatcher | None

    def _blocks(self) -> BlockManager:  # pragma: no cover - the host's
        raise NotImplementedError

    def _dispatcher(self) -> tuple[BlockManager, Dispatcher]:
        blocks = self._blocks()
        if self.balancer is None:
            raise InvalidArgument("this NameNode runs no balancer")
        return blocks, self.balancer

    @rpc
    def StartBalancer(self, request, context):
        blocks, balancer = self._dispatcher()
        check_superuser(blocks.ns.groups.caller(request.user), "start the balancer")
        threshold = request.threshold_percent or DEFAULT_THRESHOLD
        if not (math.isfinite(threshold) and 0 < threshold <= 100):
            raise InvalidArgument(f"threshold {threshold} is not a percentage in (0, 100]")
        safe = blocks.ns.view(lambda v: v.safe_mode())
        if safe.on:  # replicas are neither copied nor deleted in safe mode
            raise SafeModeOn(f"cannot start the balancer: safe mode is on ({safe.reason})")
        settings = blocks.settings
        options = Options(
            threshold,
            request.bandwidth_bytes_per_s or settings.balancer_bandwidth_bytes_per_s,
            request.max_concurrent_moves or settings.balancer_max_concurrent_moves,
            frozenset(request.exclude),
            request.user,
        )
        return to_proto(balancer.start(options))

    @rpc
    def GetBalancerStatus(self, request, context):
        _, balancer = self._dispatcher()
        return to_proto(balancer.status())

    @rpc
    def StopBalancer(self, request, context):
        blocks, balancer = self._dispatcher()
        check_superuser(blocks.ns.groups.caller(request.user), "stop the balancer")
        return to_proto(balancer.stop(request.user))


def to_proto(status: Status) -> pb.BalancerStatus:
    s = status.survey
    return pb.BalancerStatus(
        state=_STATE[status.state],
        threshold_percent=status.threshold,
        mean_used_percent=s.mean,
        moves_done=status.moves_done,
        moves_failed=status.moves_failed,
        moves_in_flight=status.moves_in_flight,
        bytes_moved=status.bytes_moved,
        bytes_left=s.bytes_left,
        started_ms=status.started_ms,
        iterations=status.iterations,
        nodes=[
            pb.BalancerNode(
                datanode_id=u.datanode, used_percent=u.used_percent, deviation_percent=u.deviation
            )
            for u in s.nodes
        ],
        message=status.message,
    )
