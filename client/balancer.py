"""The balancer's calls of ``Client`` (a mixin): start, status and stop on a nameservice's
leader, like ``hdfs balancer``.

Each nameservice has its own block pool, so its own balancer: the calls go to
this client's nameservice (its default one for a routing client); use
``Client(..., nameservice=NAME)`` for another. The run lives in that leader's
memory only: after a leader change the new leader reports ``idle`` (nothing
running) until someone starts it again.

Value types are frozen dataclasses, so scripts and ``--json`` output get plain data.
Imports: ``hafs_api`` and its generated messages (not grpc: ``hactl`` imports this).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hafs_api.v1 import admin_pb2

if TYPE_CHECKING:
    from client.rpc import NamenodeConnection

HA_ADMIN = "HaAdmin"  # client.rpc.HA_ADMIN; importing client.rpc here would load grpc

_STATES = {
    admin_pb2.BALANCER_IDLE: "idle",
    admin_pb2.BALANCER_RUNNING: "running",
    admin_pb2.BALANCER_BALANCED: "balanced",
    admin_pb2.BALANCER_STOPPED: "stopped",
    admin_pb2.BALANCER_NO_PROGRESS: "no_progress",
}


@dataclass(frozen=True)
class BalancerNode:
    datanode_id: str
    used_percent: float
    deviation_percent: float  # used_percent minus the mean


@dataclass(frozen=True)
class BalancerStatus:
    """A leader's balancer: ``state`` is idle (none started under this leader),
    running, balanced, stopped or no_progress (nothing could be moved, yet unbalanced)."""

    state: str
    threshold_percent: float
    mean_used_percent: float
    moves_done: int
    moves_failed: int
    moves_in_flight: int
    bytes_moved: int
    bytes_left: int  # bytes beyond the threshold still to move (estimate)
    started_ms: int  # wall clock; 0 when idle
    iterations: int
    nodes: tuple[BalancerNode, ...]
    message: str  # why it ended, when it did

    @property
    def finished(self) -> bool:
        return self.state in ("balanced", "stopped", "no_progress")


def balancer_status(msg: admin_pb2.BalancerStatus) -> BalancerStatus:
    return BalancerStatus(
        state=_STATES.get(msg.state, "unknown"),
        threshold_percent=msg.threshold_percent,
        mean_used_percent=msg.mean_used_percent,
        moves_done=msg.moves_done,
        moves_failed=msg.moves_failed,
        moves_in_flight=msg.moves_in_flight,
        bytes_moved=msg.bytes_moved,
        bytes_left=msg.bytes_left,
        started_ms=msg.started_ms,
        iterations=msg.iterations,
        nodes=tuple(
            BalancerNode(n.datanode_id, n.used_percent, n.deviation_percent) for n in msg.nodes
        ),
        message=msg.message,
    )


class BalancerAdmin:
    """Mixed into ``Client``: the balancer of this client's nameservice."""

    connection: NamenodeConnection
    user: str

    def start_balancer(
        self,
        threshold_percent: float = 0.0,
        *,
        bandwidth: int = 0,
        max_concurrent_moves: int = 0,
        exclude: Iterable[str] = (),
    ) -> BalancerStatus:
        """Start balancing (superuser): every DataNode's usage toward the mean until each
        is within ``threshold_percent`` of it (0: 10). ``bandwidth``: bytes per second of
        moves per DataNode; ``max_concurrent_moves``: per DataNode (0: the NameNodes'
        defaults); ``exclude``: DataNode ids or addresses left alone."""
        request = admin_pb2.StartBalancerRequest(
            threshold_percent=threshold_percent,
            bandwidth_bytes_per_s=bandwidth,
            max_concurrent_moves=max_concurrent_moves,
            user=self.user,
            exclude=list(exclude),
        )
        return self._balancer("StartBalancer", request, mutation=True)

    def balancer_status(self) -> BalancerStatus:
        return self._balancer("GetBalancerStatus", admin_pb2.GetBalancerStatusRequest())

    def stop_balancer(self) -> BalancerStatus:
        """Stop starting moves (superuser); moves in flight finish by themselves."""
        request = admin_pb2.StopBalancerRequest(user=self.user)
        return self._balancer("StopBalancer", request, mutation=True)

    def _balancer(self, method: str, request, mutation: bool = False) -> BalancerStatus:
        reply = self.connection.call(method, request, mutation=mutation, service=HA_ADMIN)
        return balancer_status(reply)
