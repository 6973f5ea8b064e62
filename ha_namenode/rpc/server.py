"""The NameNode's gRPC server: the client, admin and DataNode services, health checking,
message limits, and interceptors (the RPC metrics).

Health: services ``""`` and the client service are liveness (``set_serving``: SERVING
from start to stop); ``hafs.ready`` is readiness (``set_ready``, kept current by the
NameNode's ``ReadinessLoop``; NOT_SERVING until the first check).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ha_namenode.rpc.admin_service import AdminService
from ha_namenode.rpc.client_service import ClientService
from ha_namenode.rpc.datanode_service import DatanodeService
from hafs_api.readiness import READY_SERVICE
from hafs_api.v1 import admin_pb2_grpc, datanode_pb2_grpc, namenode_pb2_grpc

log = logging.getLogger(__name__)
CLIENT_SERVICE = "hafs_api.v1.ClientNamenode"


class RpcServer:
    def __init__(
        self,
        address: str,
        workers: int,
        max_message_bytes: int,
        client: ClientService,
        admin: AdminService,
        datanodes: DatanodeService,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
            options=options,
            interceptors=list(interceptors),
        )
        namenode_pb2_grpc.add_ClientNamenodeServicer_to_server(client, self._server)
        admin_pb2_grpc.add_HaAdminServicer_to_server(admin, self._server)
        datanode_pb2_grpc.add_DatanodeNamenodeServicer_to_server(datanodes, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.health.set(READY_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        self.address = f"{address.rpartition(':')[0]}:{self.port}"

    def start(self) -> None:
        self._server.start()
        log.info("serving on %s", self.address)

    def set_serving(self, serving: bool) -> None:
        for service in ("", CLIENT_SERVICE):
            self.health.set(service, _status(serving))

    def set_ready(self, ready: bool) -> None:
        self.health.set(READY_SERVICE, _status(ready))

    def stop(self, grace: float = 2.0) -> None:
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait(grace + 1)


def _status(serving: bool) -> int:
    if serving:
        return health_pb2.HealthCheckResponse.SERVING
    return health_pb2.HealthCheckResponse.NOT_SERVING
