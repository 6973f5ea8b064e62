"""The one exception tree of hafs, shared by the servers and the client.

Standard library only: the pure namespace core raises these, the RPC layer maps
them to gRPC statuses through the single table in ``hafs_api.status``, and the
client turns statuses back into the same classes.

Every error is an ``OSError`` and, where Python has a matching built-in, also a
subclass of it, so ordinary code (``except FileNotFoundError``) handles it::

    HafsError (OSError)                       code                  errno
    ├── FileNotFound (FileNotFoundError)      FILE_NOT_FOUND        ENOENT
    ├── FileAlreadyExists (FileExistsError)   FILE_ALREADY_EXISTS   EEXIST
    ├── ParentNotDirectory (NotADirectoryError) PARENT_NOT_DIRECTORY ENOTDIR
    ├── IsADirectory (IsADirectoryError)      IS_A_DIRECTORY        EISDIR
    ├── DirectoryNotEmpty                     DIRECTORY_NOT_EMPTY   ENOTEMPTY
    ├── AccessDenied (PermissionError)        ACCESS_DENIED         EACCES
    ├── InvalidPath (ValueError)              INVALID_PATH          EINVAL
    ├── InvalidArgument (ValueError)          INVALID_ARGUMENT      EINVAL
    ├── QuotaExceeded                         NS_QUOTA_EXCEEDED / DS_QUOTA_EXCEEDED  EDQUOT
    ├── LeaseConflict                         LEASE_CONFLICT        EBUSY
    ├── LeaseExpired                          LEASE_EXPIRED         EBADF
    ├── RecoveryInProgress    (retryable)     RECOVERY_IN_PROGRESS  EAGAIN
    ├── NotLeader             (retryable)     NOT_LEADER            EAGAIN
    ├── Unavailable           (retryable)     UNAVAILABLE           EAGAIN
    ├── DeadlineExceeded                      DEADLINE_EXCEEDED     ETIMEDOUT
    ├── RequestTooLarge                       REQUEST_TOO_LARGE     E2BIG
    ├── Unsupported                           UNSUPPORTED           ENOTSUP
    ├── StorageFull                           STORAGE_FULL          ENOSPC
    ├── ChecksumMismatch                      CHECKSUM_MISMATCH     EIO
    ├── BlockMissing                          BLOCK_MISSING         EIO
    ├── ReplicaNotFound                       REPLICA_NOT_FOUND     ENOENT
    ├── CrossNamespace                        CROSS_NAMESPACE       EXDEV
    ├── WrongNamespace        (retryable)     WRONG_NAMESPACE       EAGAIN
    ├── ReadOnlyMount (PermissionError)       READ_ONLY_MOUNT       EROFS
    ├── XAttrNotFound (LookupError)           XATTR_NOT_FOUND       ENODATA
    ├── XAttrExists (FileExistsError)         XATTR_EXISTS          EEXIST
    ├── SafeModeOn                            SAFE_MODE             EROFS
    └── InternalError                         INTERNAL              EIO
"""

from __future__ import annotations

import enum
import errno as _errno


class ErrorCode(enum.StrEnum):
    FILE_NOT_FOUND = "FILE_NOT_FOUND"
    FILE_ALREADY_EXISTS = "FILE_ALREADY_EXISTS"
    PARENT_NOT_DIRECTORY = "PARENT_NOT_DIRECTORY"
    IS_A_DIRECTORY = "IS_A_DIRECTORY"
    DIRECTORY_NOT_EMPTY = "DIRECTORY_NOT_EMPTY"
    ACCESS_DENIED = "ACCESS_DENIED"
    INVALID_PATH = "INVALID_PATH"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NS_QUOTA_EXCEEDED = "NS_QUOTA_EXCEEDED"
    DS_QUOTA_EXCEEDED = "DS_QUOTA_EXCEEDED"
    LEASE_CONFLICT = "LEASE_CONFLICT"
    LEASE_EXPIRED = "LEASE_EXPIRED"
    RECOVERY_IN_PROGRESS = "RECOVERY_IN_PROGRESS"
    NOT_LEADER = "NOT_LEADER"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    UNSUPPORTED = "UNSUPPORTED"
    STORAGE_FULL = "STORAGE_FULL"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    BLOCK_MISSING = "BLOCK_MISSING"
    REPLICA_NOT_FOUND = "REPLICA_NOT_FOUND"
    CROSS_NAMESPACE = "CROSS_NAMESPACE"
    WRONG_NAMESPACE = "WRONG_NAMESPACE"
    READ_ONLY_MOUNT = "READ_ONLY_MOUNT"
    XATTR_NOT_FOUND = "XATTR_NOT_FOUND"
    XATTR_EXISTS = "XATTR_EXISTS"
    SAFE_MODE = "SAFE_MODE"
    INTERNAL = "INTERNAL"


class HafsError(OSError):
    """Root of every hafs error.

    ``retryable`` says whether the same call may succeed if sent again (to the
    leader named by ``leader_hint``, when there is one).
    """

    code: ErrorCode = ErrorCode.INTERNAL
    errno_value: int = _errno.EIO
    retryable: bool = False

    def __init__(
        self, message: str, path: str = "", *, leader_hint: str = "", mount_version: int = 0
    ) -> None:
        if path:
            super().__init__(self.errno_value, message, path)
        else:
            super().__init__(self.errno_value, message)
        self.message = message
        self.path = path
        self.leader_hint = leader_hint
        self.mount_version = mount_version  # WrongNamespace: the server's mount table version

    def __str__(self) -> str:
        return f"{self.message}: {self.path}" if self.path else self.message

    def __reduce__(self):  # keeps errors picklable (fsspec and dask move them)
        return (_rebuild, (self.code.value, self.message, self.path, self.leader_hint))


class FileNotFound(HafsError, FileNotFoundError):
    code = ErrorCode.FILE_NOT_FOUND
    errno_value = _errno.ENOENT


class FileAlreadyExists(HafsError, FileExistsError):
    code = ErrorCode.FILE_ALREADY_EXISTS
    errno_value = _errno.EEXIST


class ParentNotDirectory(HafsError, NotADirectoryError):
    code = ErrorCode.PARENT_NOT_DIRECTORY
    errno_value = _errno.ENOTDIR


class IsADirectory(HafsError, IsADirectoryError):
    code = ErrorCode.IS_A_DIRECTORY
    errno_value = _errno.EISDIR


class DirectoryNotEmpty(HafsError):
    code = ErrorCode.DIRECTORY_NOT_EMPTY
    errno_value = _errno.ENOTEMPTY


class AccessDenied(HafsError, PermissionError):
    code = ErrorCode.ACCESS_DENIED
    errno_value = _errno.EACCES


class InvalidPath(HafsError, ValueError):
    code = ErrorCode.INVALID_PATH
    errno_value = _errno.EINVAL


class InvalidArgument(HafsError, ValueError):
    code = ErrorCode.INVALID_ARGUMENT
    errno_value = _errno.EINVAL


class QuotaExceeded(HafsError):
    code = ErrorCode.NS_QUOTA_EXCEEDED
    errno_value = _errno.EDQUOT


class NsQuotaExceeded(QuotaExceeded):
    code = ErrorCode.NS_QUOTA_EXCEEDED


class DsQuotaExceeded(QuotaExceeded):
    code = ErrorCode.DS_QUOTA_EXCEEDED


class LeaseConflict(HafsError):
    """Another writer holds the file (HDFS AlreadyBeingCreatedException)."""

    code = ErrorCode.LEASE_CONFLICT
    errno_value = _errno.EBUSY


class LeaseExpired(HafsError):
    """The caller does not hold the write lease it claims (HDFS LeaseExpiredException)."""

    code = ErrorCode.LEASE_EXPIRED
    errno_value = _errno.EBADF


class RecoveryInProgress(HafsError):
    code = ErrorCode.RECOVERY_IN_PROGRESS
    errno_value = _errno.EAGAIN
    retryable = True


class NotLeader(HafsError):
    """This NameNode is not the leader; ``leader_hint`` names the one to ask."""

    code = ErrorCode.NOT_LEADER
    errno_value = _errno.EAGAIN
    retryable = True


class Unavailable(HafsError):
    code = ErrorCode.UNAVAILABLE
    errno_value = _errno.EAGAIN
    retryable = True


class DeadlineExceeded(HafsError, TimeoutError):
    code = ErrorCode.DEADLINE_EXCEEDED
    errno_value = _errno.ETIMEDOUT


class RequestTooLarge(HafsError):
    code = ErrorCode.REQUEST_TOO_LARGE
    errno_value = _errno.E2BIG


class Unsupported(HafsError):
    code = ErrorCode.UNSUPPORTED
    errno_value = _errno.ENOTSUP


class StorageFull(HafsError):
    code = ErrorCode.STORAGE_FULL
    errno_value = _errno.ENOSPC


class ChecksumMismatch(HafsError):
    """Data did not match its CRC32C checksums (in transit or on disk)."""

    code = ErrorCode.CHECKSUM_MISMATCH
    errno_value = _errno.EIO


class BlockMissing(HafsError):
    """No replica of a block could be read: every location failed or was corrupt."""

    code = ErrorCode.BLOCK_MISSING
    errno_value = _errno.EIO


class ReplicaNotFound(HafsError):
    """A DataNode has no replica of the block (or not with that generation stamp)."""

    code = ErrorCode.REPLICA_NOT_FOUND
    errno_value = _errno.ENOENT


class CrossNamespace(HafsError):
    """A rename whose source and destination are in different nameservices (like EXDEV):
    copy and delete instead (``hactl fs -mv --copy``)."""

    code = ErrorCode.CROSS_NAMESPACE
    errno_value = _errno.EXDEV


class WrongNamespace(HafsError):
    """The path belongs to another nameservice (its mount table says so).

    ``mount_version`` is the server's table version: refresh the mount table to at
    least that version and send the call where the table routes it.
    """

    code = ErrorCode.WRONG_NAMESPACE
    errno_value = _errno.EAGAIN
    retryable = True


class ReadOnlyMount(HafsError, PermissionError):
    """A change under a mount point that is read-only."""

    code = ErrorCode.READ_ONLY_MOUNT
    errno_value = _errno.EROFS


class XAttrNotFound(HafsError, LookupError):
    """The extended attribute is not set on the path (get, remove, or a REPLACE set)."""

    code = ErrorCode.XATTR_NOT_FOUND
    errno_value = _errno.ENODATA


class XAttrExists(HafsError, FileExistsError):
    """The extended attribute is set already (a set with the CREATE flag)."""

    code = ErrorCode.XATTR_EXISTS
    errno_value = _errno.EEXIST


class SafeModeOn(HafsError):
    """The nameservice is in safe mode: the namespace is read-only until an
    administrator leaves it (``hactl safemode leave``). Not retried: it lasts as long
    as the operator wants."""

    code = ErrorCode.SAFE_MODE
    errno_value = _errno.EROFS


class InternalError(HafsError):
    code = ErrorCode.INTERNAL
    errno_value = _errno.EIO


_BY_CODE: dict[ErrorCode, type[HafsError]] = {}
for _cls in (
    FileNotFound,
    FileAlreadyExists,
    ParentNotDirectory,
    IsADirectory,
    DirectoryNotEmpty,
    AccessDenied,
    InvalidPath,
    InvalidArgument,
    NsQuotaExceeded,
    DsQuotaExceeded,
    LeaseConflict,
    LeaseExpired,
    RecoveryInProgress,
    NotLeader,
    Unavailable,
    DeadlineExceeded,
    RequestTooLarge,
    Unsupported,
    StorageFull,
    ChecksumMismatch,
    BlockMissing,
    ReplicaNotFound,
    CrossNamespace,
    WrongNamespace,
    ReadOnlyMount,
    XAttrNotFound,
    XAttrExists,
    SafeModeOn,
    InternalError,
):
    _BY_CODE[_cls.code] = _cls
assert set(_BY_CODE) == set(ErrorCode), "every ErrorCode needs exactly one class"


def error_class(code: str | ErrorCode) -> type[HafsError]:
    """The class for a wire code; unknown codes (a newer server) become InternalError."""
    try:
        return _BY_CODE[ErrorCode(code)]
    except ValueError:
        return InternalError


def make_error(
    code: str | ErrorCode,
    message: str,
    path: str = "",
    leader_hint: str = "",
    mount_version: int = 0,
):
    return error_class(code)(message, path, leader_hint=leader_hint, mount_version=mount_version)


def _rebuild(code: str, message: str, path: str, leader_hint: str) -> HafsError:
    return make_error(code, message, path, leader_hint)
