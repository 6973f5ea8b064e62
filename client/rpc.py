"""One nameservice's NameNodes as a single, failover-aware RPC endpoint.

``NamenodeConnection`` keeps a lazily created gRPC channel per NameNode
address, a guess of which one leads, and a retry policy. ``call()`` makes one
*logical* call:

* it fills the ``RequestHeader`` (``client_id``, ``user`` and a ``call_id``
  taken once from a counter, so every retry of a mutation carries the same id
  and the NameNodes' retry cache answers a duplicate with the first result);
* each attempt goes to the current leader guess with a per-attempt timeout
  (``min(attempt_timeout, time left)``);
* ``NOT_LEADER`` with a hint moves the guess to the hinted address (retried at
  once by the policy); ``UNAVAILABLE``, ``NOT_LEADER`` without a hint and an
  attempt that timed out rotate the guess to the next configured address;
* every ``grpc.RpcError`` becomes a ``HafsError`` through
  ``hafs_api.status.from_rpc_error`` (an attempt's timeout becomes a retryable
  ``Unavailable``: the overall deadline belongs to the policy);
* ``mount_version`` goes into the header (the mount table version the caller
  routed by; 0: direct access). ``WRONG_NAMESPACE`` is raised at once, not
  retried here: asking the same nameservice again cannot help, so the caller
  (``client.router``) refreshes its mount table and routes the call again.

Thread-safe: one connection may serve many threads. With ``client.transfer``
(the DataNode channels), the only client module that imports ``grpc``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from typing import Any

import grpc

from client.retry import Attempt, RetryPolicy
from hafs_api.errors import (
    DeadlineExceeded,
    HafsError,
    InvalidArgument,
    NotLeader,
    RequestTooLarge,
    Unavailable,
    WrongNamespace,
)
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2_grpc, common_pb2, namenode_pb2_grpc

log = logging.getLogger(__name__)

CLIENT_NAMENODE = "ClientNamenode"
HA_ADMIN = "HaAdmin"
_STUBS = {
    CLIENT_NAMENODE: namenode_pb2_grpc.ClientNamenodeStub,
    HA_ADMIN: admin_pb2_grpc.HaAdminStub,
}
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_ATTEMPT_TIMEOUT = 20.0


class _Elsewhere(Exception):
    """Carries a ``WrongNamespace`` past the retry policy (which would retry it)."""

    def __init__(self, error: WrongNamespace) -> None:
        super().__init__(str(error))
        self.error = error


class NamenodeConnection:
    def __init__(
        self,
        nameservice: str,
        addresses: Sequence[str],
        *,
        user: str,
        client_id: str,
        retry: RetryPolicy | None = None,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if not addresses:
            raise ValueError(f"nameservice {nameservice!r} has no NameNode addresses")
        self.nameservice = nameservice
        self.addresses = tuple(addresses)
        self.user = user
        self.client_id = client_id
        self.retry = retry or RetryPolicy()
        self.attempt_timeout = attempt_timeout
        self.max_message_bytes = max_message_bytes
        self._call_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._leader = self.addresses[0]
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[tuple[str, str], Any] = {}
        self._closed = False

    @property
    def leader(self) -> str:
        """The address the next call goes to first."""
        with self._lock:
            return self._leader

    def call(
        self,
        method: str,
        request: Any,
        *,
        mutation: bool,
        service: str = CLIENT_NAMENODE,
        mount_version: int = 0,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Make one logical call, retried by the policy; returns the response message.

        ``request.header`` (when the message has one) is filled in place, with
        ``mount_version``. Reads and mutations are retried alike: a mutation's
        retries carry its one ``call_id``, so a NameNode that already applied it
        answers from its retry cache. ``mutation`` marks the call in the retry
        log lines. ``WrongNamespace`` is raised without retrying. ``retry``
        replaces the connection's policy for this call.
        """
        call_id = self.next_call_id()
        if "header" in request.DESCRIPTOR.fields_by_name:
            request.header.CopyFrom(
                common_pb2.RequestHeader(
                    client_id=self.client_id,
                    call_id=call_id,
                    user=self.user,
                    mount_version=mount_version,
                )
            )
        self._check_size(method, request)

        def attempt(state: Attempt) -> Any:
            address = state.leader_hint or self.leader
            if state.number > 1:
                kind = "mutation" if mutation else "read"
                log.debug(
                    "retrying %s %s (%s, call_id %d): attempt %d to %s",
                    service,
                    method,
                    kind,
                    call_id,
                    state.number,
                    address,
                )
            timeout = min(self.attempt_timeout, state.remaining)
            try:
                return self._invoke(address, service, method, request, timeout)
            except WrongNamespace as err:
                raise _Elsewhere(err) from None
            except HafsError as err:
                self._observe(address, err)
                raise

        try:
            return (retry or self.retry).run(attempt, what=method)
        except _Elsewhere as elsewhere:
            raise elsewhere.error from None

    def next_call_id(self) -> int:
        """A call id unique within this connection's client id: what ``call()`` puts in a
        request header, for requests that carry their retry-cache key themselves."""
        return next(self._call_ids)

    def call_at(
        self, address: str, method: str, request: Any, *, timeout: float, service: str = HA_ADMIN
    ) -> Any:
        """One attempt against one address, no retries (status of a given node)."""
        self._check_size(method, request)
        return self._invoke(address, service, method, request, timeout)

    def close(self) -> None:
        with self._lock:
            channels = list(self._channels.values())
            self._channels.clear()
            self._stubs.clear()
            self._closed = True
        for channel in channels:
            channel.close()

    def _check_size(self, method: str, request: Any) -> None:
        size = request.ByteSize()
        if size > self.max_message_bytes:
            raise RequestTooLarge(
                f"{method} request is {size} bytes, over the limit of "
                f"{self.max_message_bytes} bytes per message"
            )

    def _invoke(self, address: str, service: str, method: str, request: Any, timeout: float) -> Any:
        stub_method = getattr(self._stub(address, service), method)
        try:
            return stub_method(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self._translate(exc, address, method, timeout) from exc

    def _translate(
        self, exc: grpc.RpcError, address: str, method: str, timeout: float
    ) -> HafsError:
        err = from_rpc_error(exc)
        if isinstance(err, DeadlineExceeded):
            return Unavailable(
                f"NameNode {address} did not answer {method} within {timeout:.3g}s: {err.message}"
            )
        if type(err) is Unavailable:
            return Unavailable(f"{err.message} ({address})", err.path)
        return err

    def _observe(self, address: str, err: HafsError) -> None:
        """Move the leader guess after a failed attempt at ``address``."""
        with self._lock:
            if isinstance(err, NotLeader) and err.leader_hint:
                if self._leader != err.leader_hint:
                    log.info(
                        "%s: %s is not the leader; following hint %s",
                        self.nameservice,
                        address,
                        err.leader_hint,
                    )
                self._leader = err.leader_hint
            elif isinstance(err, NotLeader | Unavailable) and self._leader == address:
                index = self.addresses.index(address) if address in self.addresses else -1
                self._leader = self.addresses[(index + 1) % len(self.addresses)]
                log.info(
                    "%s: %s failed (%s); trying %s next",
                    self.nameservice,
                    address,
                    err.code.value,
                    self._leader,
                )

    def _stub(self, address: str, service: str) -> Any:
        key = (address, service)
        with self._lock:
            if self._closed:
                raise InvalidArgument("the client is closed")
            stub = self._stubs.get(key)
            if stub is None:
                channel = self._channels.get(address)
                if channel is None:
                    channel = grpc.insecure_channel(address, options=self._options())
                    self._channels[address] = channel
                stub = self._stubs[key] = _STUBS[service](channel)
            return stub

    def _options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            # A restarted NameNode should be reachable again within a second or
            # two, not after gRPC's default reconnect backoff of up to 120 s.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]

    def __repr__(self) -> str:
        return f"NamenodeConnection({self.nameservice!r}, {list(self.addresses)!r})"


__all__ = ["CLIENT_NAMENODE", "HA_ADMIN", "NamenodeConnection"]
