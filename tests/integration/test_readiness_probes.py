"""Readiness probes (gRPC health service ``hafs.ready``) on a real 3-NameNode cluster:
every node ready; with two NameNodes paused (SIGSTOP) the third loses its leader and
stops being ready, and so does the DataNode; resumed, all are ready again. Liveness
("") stays SERVING throughout on the running node."""

from __future__ import annotations

import signal

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos.cluster import wait_until
from hafs_api.readiness import READY_SERVICE

pytestmark = pytest.mark.integration


def health(address: str, service: str = READY_SERVICE) -> str:
    """``SERVING``, ``NOT_SERVING`` (or another status name), or the gRPC error's name."""
    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1.0
            )
        except grpc.RpcError as e:
            return e.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


def test_ready_only_with_a_leader_and_again_after_it_returns(make_cluster):
    cluster = make_cluster(namenodes=3, datanodes=1)
    leader = cluster.wait_leader()
    (datanode,) = cluster.datanode_nodes
    everyone = [*cluster.namenode_nodes, datanode]
    for node in everyone:
        wait_until(lambda a=node.address: health(a) == "SERVING", 10, f"{node.node_id} ready")
    survivor = next(n for n in cluster.namenode_nodes if n is not leader)
    paused = [n for n in cluster.namenode_nodes if n is not survivor]
    try:
        for node in paused:
            node.signal(signal.SIGSTOP)
        # An election timeout (<= 0.6 s) without the leader: a candidate with no leader.
        wait_until(lambda: health(survivor.address) == "NOT_SERVING", 10, "the survivor not ready")
        assert health(survivor.address, "") == "SERVING"  # alive all the same
        # The DataNode's heartbeat to the paused leader times out (5 s): not registered.
        wait_until(lambda: health(datanode.address) == "NOT_SERVING", 20, "the DataNode not ready")
        assert health(datanode.address, "") == "SERVING"
    finally:
        for node in paused:
            node.signal(signal.SIGCONT)
    for node in everyone:
        wait_until(lambda a=node.address: health(a) == "SERVING", 30, f"{node.node_id} ready again")
    assert cluster.wait_leader(10) in cluster.namenode_nodes
