"""The hafs Python client: ``Client``, its value types and the hafs error tree.

::

    from client import Client
    with Client(["127.0.0.1:8020", "127.0.0.1:8021"], user="alice") as fs:
        fs.mkdir("/data", parents=True)
        for status in fs.ls("/data"):
            print(status.mode_string, status.path)

A ``Client`` made from a config with several nameservices routes each path to
the nameservice that owns it by the mount table (``Mount``, ``MountTable``;
``Client.mounts``, ``add_mount``, ``remove_mount``), see ``client.router``.

Importing this package is light: ``Client`` (and with it gRPC) loads on first
use, so ``import client`` costs only the standard library. The errors are
``hafs_api.errors``' classes, which also subclass the matching built-ins
(``FileNotFoundError``, ``FileExistsError``, ``PermissionError``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from client.admin import BlockHealth, DatanodeReport, FileHealth, FsckReport
from client.balancer import BalancerNode, BalancerStatus
from client.config import ClientConfig, ConfigError
from client.metasave import MetaSaveReport
from client.retry import RetryPolicy
from client.safemode import SafeModeStatus
from client.types import (
    BlockLocation,
    CheckpointInfo,
    ContentSummary,
    ExpungeResult,
    FileChecksum,
    FileStatus,
    MountChange,
    NodeStatus,
    ServerDefaults,
)
from hafs_api.errors import (
    AccessDenied,
    BlockMissing,
    ChecksumMismatch,
    CrossNamespace,
    DeadlineExceeded,
    DirectoryNotEmpty,
    DsQuotaExceeded,
    FileAlreadyExists,
    FileNotFound,
    HafsError,
    InternalError,
    InvalidArgument,
    InvalidPath,
    IsADirectory,
    LeaseConflict,
    LeaseExpired,
    NotLeader,
    NsQuotaExceeded,
    ParentNotDirectory,
    QuotaExceeded,
    ReadOnlyMount,
    RecoveryInProgress,
    ReplicaNotFound,
    RequestTooLarge,
    SafeModeOn,
    StorageFull,
    Unavailable,
    Unsupported,
    WrongNamespace,
    XAttrExists,
    XAttrNotFound,
)
from hafs_api.mounts import Mount, MountTable

if TYPE_CHECKING:
    from client.client import Client

__all__ = [
    "AccessDenied",
    "BalancerNode",
    "BalancerStatus",
    "BlockHealth",
    "BlockLocation",
    "BlockMissing",
    "CheckpointInfo",
    "ChecksumMismatch",
    "Client",
    "ClientConfig",
    "ConfigError",
    "ContentSummary",
    "CrossNamespace",
    "DatanodeReport",
    "DeadlineExceeded",
    "DirectoryNotEmpty",
    "DsQuotaExceeded",
    "ExpungeResult",
    "FileAlreadyExists",
    "FileChecksum",
    "FileHealth",
    "FileNotFound",
    "FileStatus",
    "FsckReport",
    "HafsError",
    "InternalError",
    "InvalidArgument",
    "InvalidPath",
    "IsADirectory",
    "LeaseConflict",
    "LeaseExpired",
    "MetaSaveReport",
    "Mount",
    "MountChange",
    "MountTable",
    "NodeStatus",
    "NotLeader",
    "NsQuotaExceeded",
    "ParentNotDirectory",
    "QuotaExceeded",
    "ReadOnlyMount",
    "RecoveryInProgress",
    "ReplicaNotFound",
    "RequestTooLarge",
    "RetryPolicy",
    "SafeModeOn",
    "SafeModeStatus",
    "ServerDefaults",
    "StorageFull",
    "Unavailable",
    "Unsupported",
    "WrongNamespace",
    "XAttrExists",
    "XAttrNotFound",
]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from client.client import Client

        return Client
    raise AttributeError(f"module 'client' has no attribute {name!r}")
