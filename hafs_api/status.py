"""The one table that maps hafs errors to gRPC status codes, both ways.

A failed call carries a ``google.rpc.Status`` whose details hold one
``ErrorDetail`` (code, message, path, leader hint, retryable). Servers call
``abort(context, error)``; clients call ``from_rpc_error(exc)`` to get the same
``HafsError`` subclass back. Errors that did not come from a hafs server (a
dead connection, a deadline, an oversized message) are mapped from the bare
gRPC code.
"""

from __future__ import annotations

import grpc
from google.rpc import status_pb2
from grpc_status import rpc_status

from hafs_api.errors import ErrorCode, HafsError, make_error
from hafs_api.v1 import common_pb2

GRPC_CODE: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.FILE_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.FILE_ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.PARENT_NOT_DIRECTORY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.IS_A_DIRECTORY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DIRECTORY_NOT_EMPTY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ACCESS_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.INVALID_PATH: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NS_QUOTA_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.DS_QUOTA_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.LEASE_CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.LEASE_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.RECOVERY_IN_PROGRESS: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.NOT_LEADER: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorCode.REQUEST_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.UNSUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorCode.STORAGE_FULL: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.CHECKSUM_MISMATCH: grpc.StatusCode.DATA_LOSS,
    ErrorCode.BLOCK_MISSING: grpc.StatusCode.DATA_LOSS,
    ErrorCode.REPLICA_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.CROSS_NAMESPACE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.WRONG_NAMESPACE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.READ_ONLY_MOUNT: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.XATTR_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.XATTR_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.SAFE_MODE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}
assert set(GRPC_CODE) == set(ErrorCode), "every ErrorCode needs a gRPC status"

# For statuses without an ErrorDetail: produced by gRPC itself, not a hafs server.
_BARE: dict[grpc.StatusCode, ErrorCode] = {
    grpc.StatusCode.UNAVAILABLE: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCode.REQUEST_TOO_LARGE,
    grpc.StatusCode.UNIMPLEMENTED: ErrorCode.UNSUPPORTED,
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCode.ACCESS_DENIED,
    grpc.StatusCode.NOT_FOUND: ErrorCode.FILE_NOT_FOUND,
}


def to_status(error: HafsError) -> grpc.Status:
    detail = common_pb2.ErrorDetail(
        code=error.code.value,
        message=error.message,
        path=error.path,
        leader_hint=error.leader_hint,
        retryable=error.retryable,
        mount_version=error.mount_version,
    )
    status = status_pb2.Status(code=GRPC_CODE[error.code].value[0], message=str(error))
    status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def abort(context: grpc.ServicerContext, error: HafsError) -> None:
    """Fail the current call with ``error``; raises, as ``context.abort`` does."""
    context.abort_with_status(to_status(error))


def from_rpc_error(exc: grpc.RpcError) -> HafsError:
    """The hafs error a failed call stands for."""
    try:
        status = rpc_status.from_call(exc) if isinstance(exc, grpc.Call) else None
    except ValueError:  # a status whose details disagree with the call: not from hafs
        status = None
    if status is not None:
        for any_detail in status.details:
            detail = common_pb2.ErrorDetail()
            if any_detail.Unpack(detail):
                return make_error(
                    detail.code,
                    detail.message,
                    detail.path,
                    detail.leader_hint,
                    detail.mount_version,
                )
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    text = (exc.details() if isinstance(exc, grpc.Call) else "") or str(code)
    mapped = _BARE.get(code, ErrorCode.INTERNAL)
    if code == grpc.StatusCode.UNAVAILABLE:
        text = f"NameNode unreachable: {text}"
    return make_error(mapped, text)


__all__ = ["GRPC_CODE", "abort", "from_rpc_error", "to_status"]
