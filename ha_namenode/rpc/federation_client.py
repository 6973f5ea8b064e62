"""``GrpcPeers``: a NameNode's calls to the NameNodes of other nameservices.

The gRPC side of ``ha_namenode.federation.service.Peers``: fetching the mount
table (``GetMountTable``, asked of every NameNode of the nameservice at once),
pushing it (``InstallMountTable``) and creating a mount point (``Mkdir`` and
``SetQuota`` as the superuser, with mount version 0: a direct call that skips
the ownership check) on a nameservice's leader.

Leader calls try the last known leader first, follow NOT_LEADER hints, and move
on from NameNodes that do not answer; every call has a short deadline
(``federation.rpc_timeout_s``). Channels are cached per address.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import grpc

from hafs_api import mounts
from hafs_api.errors import DeadlineExceeded, HafsError, InvalidArgument, NotLeader, Unavailable
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2, namenode_pb2_grpc

T = TypeVar("T")
ROUNDS = 3  # passes over a nameservice's NameNodes while it elects a leader
ROUND_PAUSE_S = 0.3


RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class GrpcPeers:
    def __init__(
        self, nameservices: dict[str, tuple[str, ...]], timeout_s: float, client_id: str
    ) -> None:
        self._addresses = {name: tuple(addresses) for name, addresses in nameservices.items()}
        self._timeout = timeout_s
        self._client_id = client_id
        self._calls = itertools.count(1)
        self._leaders: dict[str, str] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="mount-fetch")

    def _channel(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                # Reconnect within 100 ms to 1 s of a peer coming up: a nameservice that
                # started after this one must not be failed fast for gRPC's backoff.
                channel = self._channels[address] = grpc.insecure_channel(
                    address, options=RECONNECT
                )
            return channel

    def _members(self, nameservice: str) -> tuple[str, ...]:
        addresses = self._addresses.get(nameservice)
        if not addresses:
            raise InvalidArgument(f"unknown nameservice {nameservice!r}")
        return addresses

    def _on_leader(self, nameservice: str, call: Callable[[grpc.Channel], T]) -> T:
        """Run ``call`` on the nameservice's leader, wherever it is."""
        members = self._members(nameservice)
        errors: list[str] = []
        for round_ in range(ROUNDS):
            if round_:
                time.sleep(ROUND_PAUSE_S)  # an election: give it a moment
            known = self._leaders.get(nameservice)
            queue = deque([known, *members] if known else members)
            tried: set[str] = set()
            electing = False  # some NameNode answered, but none leads yet
            while queue:
                address = queue.popleft()
                if address in tried:
                    continue
                tried.add(address)
                try:
                    result = call(self._channel(address))
                except grpc.RpcError as e:
                    err = from_rpc_error(e)
                    if isinstance(err, NotLeader):
                        electing = True
                        if err.leader_hint and err.leader_hint not in tried:
                            queue.appendleft(err.leader_hint)
                    elif not isinstance(err, Unavailable | DeadlineExceeded):
                        raise err from None
                    errors.append(f"{address}: {err}")
                    continue
                self._leaders[nameservice] = address
                return result
            if not electing:  # nobody answered at all: the nameservice is down
                break
        raise Unavailable(f"no leader of nameservice {nameservice} answered: {'; '.join(errors)}")

    # ---- the Peers interface ------------------------------------------------------

    def fetch_table(self, nameservice: str, wanted: int) -> mounts.MountTable:
        members = self._members(nameservice)
        futures = [self._pool.submit(self._get_table, address) for address in members]
        best: mounts.MountTable | None = None
        errors: list[str] = []
        try:
            for future in as_completed(futures, timeout=self._timeout + 1.0):
                try:
                    table = future.result()
                except HafsError as e:
                    errors.append(str(e))
                    continue
                if wanted and table.version >= wanted:
                    return table
                if best is None or table.version > best.version:
                    best = table
        except FutureTimeout:
            errors.append("no answer in time")
        if best is None:
            raise Unavailable(
                f"no NameNode of nameservice {nameservice} gave its mount table: "
                + "; ".join(errors)
            )
        return best

    def _get_table(self, address: str) -> mounts.MountTable:
        stub = admin_pb2_grpc.HaAdminStub(self._channel(address))
        try:
            reply = stub.GetMountTable(
                admin_pb2.GetMountTableRequest(), timeout=self._timeout, wait_for_ready=True
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return mounts.from_proto(reply.table)

    def install_table(self, nameservice: str, table: mounts.MountTable) -> int:
        request = admin_pb2.InstallMountTableRequest(
            table=mounts.to_proto(table, common_pb2.MountTable)
        )

        def call(channel: grpc.Channel) -> int:
            stub = admin_pb2_grpc.HaAdminStub(channel)
            return stub.InstallMountTable(
                request, timeout=self._timeout, wait_for_ready=True
            ).version

        return self._on_leader(nameservice, call)

    def make_mount_point(
        self, nameservice: str, path: str, user: str, ns_quota: int | None, ds_quota: int | None
    ) -> None:
        mkdir = namenode_pb2.MkdirRequest(
            header=self._header(user), path=path, permission=0o755, parents=True, exist_ok=True
        )
        self._on_leader(
            nameservice,
            lambda ch: namenode_pb2_grpc.ClientNamenodeStub(ch).Mkdir(
                mkdir, timeout=self._timeout, wait_for_ready=True
            ),
        )
        if ns_quota is None and ds_quota is None:
            return
        quota = namenode_pb2.SetQuotaRequest(header=self._header(user), path=path)
        if ns_quota is not None:
            quota.ns_quota = ns_quota
        if ds_quota is not None:
            quota.ds_quota = ds_quota
        self._on_leader(
            nameservice,
            lambda ch: namenode_pb2_grpc.ClientNamenodeStub(ch).SetQuota(
                quota, timeout=self._timeout, wait_for_ready=True
            ),
        )

    def _header(self, user: str) -> common_pb2.RequestHeader:
        """One call's header: the same call id on every retry of it (the retry cache)."""
        return common_pb2.RequestHeader(
            client_id=self._client_id, call_id=next(self._calls), user=user, mount_version=0
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
