"""Prometheus metrics both daemons share: the registry, the ``/metrics`` endpoint and
the RPC interceptor (docs/operations.md, "Metrics", lists every metric).

* ``new_registry()`` makes one ``CollectorRegistry`` per daemon, never the global
  default, so several daemons can run in one test process; it carries the
  standard ``process_*`` and ``python_info`` collectors (and no ``*_created``).
* ``MetricsServer(address, registry)`` binds at once (a port in use is an
  ``OSError`` that names ``metrics.address``), ``start()`` serves
  ``GET /metrics`` from a thread, ``stop()`` closes the socket.
* ``RpcMetrics(registry, labels)`` is a gRPC server interceptor: per call, the
  handling time by ``service`` and ``method`` (short names) and, for a failed
  call, an error count by ``code``: the hafs ``ErrorCode`` the status carries
  (``status.abort``), else the gRPC status name (``UNKNOWN`` for an exception
  that escaped the servicer, ``CANCELLED`` for a stream the caller dropped).
  It also keeps plain totals per service (``totals(service)``: calls and failed
  calls since start), which ``GetStatus`` reports without reading the registry.

Labels never carry a path or a user name: only names of nameservices, nodes,
services, methods and codes.

Imports: the standard library, grpc, prometheus_client and ``hafs_api``.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc
from google.rpc import status_pb2
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from hafs_api.errors import ErrorCode
from hafs_api.settings import parse_address
from hafs_api.v1 import common_pb2

log = logging.getLogger(__name__)

# Seconds: from half a millisecond (a local read) to a minute (a long block stream).
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
)  # fmt: skip
_DETAILS_KEY = "grpc-status-details-bin"
_HAFS_CODES = frozenset(code.value for code in ErrorCode)


def new_registry() -> CollectorRegistry:
    """A daemon's own registry, with the process and platform collectors.

    Also turns off prometheus_client's ``*_created`` series for the whole process:
    they double every counter and histogram and no dashboard or alert reads them.
    """
    disable_created_metrics()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


# -- the endpoint --------------------------------------------------------------------


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        pass


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name, which can hang for
        # seconds on an address no resolver knows (a network namespace's).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """``GET /metrics`` of ``registry`` on ``address`` ("host:port"; port 0: any)."""

    def __init__(self, address: str, registry: CollectorRegistry) -> None:
        host, port = parse_address(address, "metrics.address")
        host = host.strip("[]")
        metrics = make_wsgi_app(registry)

        def app(environ: dict, start_response: Callable) -> list[bytes]:
            if environ.get("PATH_INFO") == "/metrics":
                return metrics(environ, start_response)
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"hafs serves Prometheus metrics at /metrics\n"]

        server_class = _Server6 if ":" in host else _Server
        try:
            self._httpd = make_server(host, port, app, server_class, _Handler)
        except OSError as e:
            raise OSError(
                e.errno, f"metrics.address {address}: cannot listen ({e.strerror or e})"
            ) from None
        bound = self._httpd.server_address[1]
        self.address = f"{address.rpartition(':')[0]}:{bound}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5}, name="metrics"
        )
        self._thread.daemon = True
        self._thread.start()
        log.info("metrics at http://%s/metrics", self.address)

    def stop(self) -> None:
        """Stop serving (if started) and close the socket; safe to call twice."""
        if self._thread is not None:
            self._httpd.shutdown()  # waits for serve_forever; blocks if it never ran
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


# -- the RPC interceptor -----------------------------------------------------------------


def error_code(context: grpc.ServicerContext) -> str | None:
    """The failure a servicer left on ``context``: its hafs code, else the gRPC status
    name; None when the call succeeded (no status set, or OK)."""
    code = context.code()
    if code is None or code == grpc.StatusCode.OK:
        return None
    for key, value in context.trailing_metadata() or ():
        if key == _DETAILS_KEY:
            return _hafs_code(value) or code.name
    return code.name


def _hafs_code(raw: bytes) -> str | None:
    try:
        status = status_pb2.Status.FromString(raw)
    except Exception:  # not ours: the gRPC name will do
        return None
    detail = common_pb2.ErrorDetail()
    for any_detail in status.details:
        if any_detail.Unpack(detail) and detail.code in _HAFS_CODES:
            return detail.code
    return None


class CallTotals:
    """Calls one service answered and how many failed, since start (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = 0

    def add(self, failed: bool) -> None:
        with self._lock:
            self._calls += 1
            self._errors += failed

    def read(self) -> tuple[int, int]:
        """``(calls, errors)``."""
        with self._lock:
            return self._calls, self._errors


class _Method:
    """One RPC method's label values, histogram child and service totals, resolved once."""

    def __init__(self, rpc: RpcMetrics, path: str) -> None:
        service, _, method = path.lstrip("/").partition("/")
        self.service = service.rpartition(".")[2]
        self.method = method
        self.labels = (*rpc.const, self.service, self.method)
        self.seconds = rpc.seconds.labels(*self.labels)
        self._errors = rpc.errors
        self._totals = rpc.totals(self.service)

    def done(self, started: float, context: grpc.ServicerContext, fallback: str | None) -> None:
        self.seconds.observe(time.perf_counter() - started)
        code = error_code(context) or fallback
        self._totals.add(code is not None)
        if code is not None:
            self._errors.labels(*self.labels, code).inc()


class RpcMetrics(grpc.ServerInterceptor):
    """Time and error counts of every call a gRPC server handles (see module docstring).

    ``labels`` are constant labels of this daemon, e.g. ``{"nameservice": "ns1",
    "node": "nn1"}``.
    """

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        names = list(labels)
        self.const = tuple(labels.values())
        self.seconds = Histogram(
            "hafs_rpc_server_handling_seconds",
            "Time from a call's arrival to its last response, by service and method.",
            [*names, "service", "method"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.errors = Counter(
            "hafs_rpc_server_errors",
            "Calls that failed, by service, method and hafs error code (or gRPC status name).",
            [*names, "service", "method", "code"],
            registry=registry,
        )
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._totals: dict[str, CallTotals] = {}

    def totals(self, service: str) -> CallTotals:
        """The totals of ``service`` (its short name, e.g. ``ClientNamenode``)."""
        found = self._totals.get(service)
        if found is None:  # setdefault: two threads creating it keep one
            found = self._totals.setdefault(service, CallTotals())
        return found

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED; no label for it
            return None
        path = handler_call_details.method
        cached = self._handlers.get(path)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _wrap(handler, _Method(self, path))
        self._handlers[path] = (handler, wrapped)
        return wrapped


def _wrap(handler: grpc.RpcMethodHandler, method: _Method) -> grpc.RpcMethodHandler:
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, method),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _unary(handler.stream_unary, method),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, method),
            handler.request_deserializer,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        _streaming(handler.stream_stream, method),
        handler.request_deserializer,
        handler.response_serializer,
    )


def _unary(behavior: Callable, method: _Method) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            response = behavior(request, context)
        except BaseException:  # context.abort raises too: the status says which failure
            method.done(started, context, "UNKNOWN")
            raise
        method.done(started, context, None)
        return response

    return call


def _streaming(behavior: Callable, method: _Method) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            yield from behavior(request, context)
        except GeneratorExit:  # the caller went away mid-stream
            method.done(started, context, "CANCELLED")
            raise
        except BaseException:
            method.done(started, context, "UNKNOWN")
            raise
        method.done(started, context, None)

    return call
