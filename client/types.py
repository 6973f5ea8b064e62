"""Client-side value types: what the client returns, as frozen dataclasses.

Pure standard library (no protobuf, no gRPC): ``client.convert`` builds these
from wire messages. Times are integers in **milliseconds since the Unix epoch**
(UTC), exactly as on the wire and as HDFS's ``FileStatus`` keeps them; the
formatting code turns them into dates. Permissions are ints (``0o1777`` bits).

``to_dict()`` gives the JSON shape ``hactl --json`` prints: field names as
here, permission as an octal string (``"755"``, ``"1777"``, like WebHDFS).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from hafs_api.mounts import MountTable

DIRECTORY = "directory"
FILE = "file"

STICKY = 0o1000


def permission_string(permission: int) -> str:
    """``rwxr-xr-x`` for ``0o755``; the sticky bit shows as ``t`` (``T`` without o+x)."""
    chars = []
    for shift in (6, 3, 0):
        bits = (permission >> shift) & 7
        chars.append("r" if bits & 4 else "-")
        chars.append("w" if bits & 2 else "-")
        chars.append("x" if bits & 1 else "-")
    if permission & STICKY:
        chars[-1] = "t" if permission & 1 else "T"
    return "".join(chars)


def octal_string(permission: int) -> str:
    """``"755"``, or ``"1777"`` with the sticky bit: HDFS's ``%a`` and WebHDFS's shape."""
    return format(permission & 0o7777, "o").rjust(3, "0")


@dataclass(frozen=True, slots=True)
class FileStatus:
    path: str
    kind: str  # "file" or "directory"
    length: int
    replication: int  # 0 for directories
    block_size: int  # 0 for directories
    mtime: int  # ms since the epoch
    atime: int  # ms since the epoch
    permission: int
    owner: str
    group: str
    inode_id: int = 0
    children: int = 0
    under_construction: bool = False

    @property
    def name(self) -> str:
        return "" if self.path == "/" else self.path.rsplit("/", 1)[1]

    @property
    def is_dir(self) -> bool:
        return self.kind == DIRECTORY

    @property
    def is_file(self) -> bool:
        return self.kind == FILE

    @property
    def mode_string(self) -> str:
        """Like ``ls -l``: ``drwxr-xr-x``, ``-rw-r--r--``, ``drwxrwxrwt``."""
        return ("d" if self.is_dir else "-") + permission_string(self.permission)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["permission"] = octal_string(self.permission)
        return data


@dataclass(frozen=True, slots=True)
class ContentSummary:
    """Totals under ``path`` (the path itself included), as ``hdfs dfs -count`` shows them."""

    path: str
    length: int
    file_count: int
    directory_count: int
    ns_quota: int  # -1: none
    ns_used: int  # files + directories
    ds_quota: int  # -1: none; bytes with all replicas
    space_consumed: int  # bytes with all replicas

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One NameNode as ``hactl ha status`` shows it.

    ``state`` is ``active``, ``standby``, ``candidate``, ``unknown`` or
    ``unreachable`` (then ``error`` says why and the numbers are 0). ``lag`` is
    how many entries this node has yet to apply to catch up with the active
    node's commit index (``None`` when unreachable or no node is active).
    ``state_index`` and ``log_digest`` are the node's replicated state, read
    together: the last log index applied to its store and the hash chain of the
    entries applied up to there (equal at equal indexes on replicas that applied
    the same log prefix).

    The counters (``hactl top``): ``client_calls`` and ``client_errors`` are the
    client RPCs this NameNode process answered since it started and how many
    failed; ``files``, ``directories`` and ``blocks`` its replica's namespace
    (counted at most once a second); the block health
    (``under_replicated_blocks``, ``missing_blocks``, ``corrupt_blocks``,
    ``pending_replication``) and DataNodes (``live_datanodes``,
    ``stale_datanodes``, ``dead_datanodes``) are the leader's view, 0 elsewhere.
    """

    address: str
    state: str
    node_id: str = ""
    nameservice: str = ""
    term: int = 0
    commit_index: int = 0
    applied_index: int = 0
    leader_id: str = ""
    leader_address: str = ""
    uptime_ms: int = 0
    software_version: str = ""
    lag: int | None = None
    error: str = ""
    state_index: int = 0
    log_digest: int = 0
    client_calls: int = 0
    client_errors: int = 0
    files: int = 0
    directories: int = 0
    blocks: int = 0
    under_replicated_blocks: int = 0
    missing_blocks: int = 0
    corrupt_blocks: int = 0
    pending_replication: int = 0
    live_datanodes: int = 0
    stale_datanodes: int = 0
    dead_datanodes: int = 0

    @property
    def reachable(self) -> bool:
        return self.state != "unreachable"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class ServerDefaults:
    block_size: int
    replication: int
    bytes_per_checksum: int
    trash_interval_ms: int
    listing_limit: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class ExpungeResult:
    """What ``expunge`` did: the checkpoint ``Current`` became, and checkpoints removed."""

    checkpoint: str | None
    removed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "removed": list(self.removed)}


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """An image a NameNode wrote on request (``hactl ha checkpoint``)."""

    address: str
    image_path: str
    applied_index: int
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class BlockLocation:
    """One block of a file and where its replicas are (``hdfs fsck -files -blocks -locations``).

    ``offset`` and ``length`` are in bytes within the file; ``hosts`` are the
    DataNodes' data transfer addresses and ``datanode_ids`` their ids, nearest first.
    """

    block_id: int
    gen_stamp: int
    offset: int
    length: int
    hosts: tuple[str, ...]
    datanode_ids: tuple[str, ...]
    under_construction: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hosts"] = list(self.hosts)
        data["datanode_ids"] = list(self.datanode_ids)
        return data


@dataclass(frozen=True, slots=True)
class FileChecksum:
    """A file's checksum as HDFS computes it: MD5 over the blocks' MD5s of their CRC32Cs.

    Equal contents written with equal block size and bytes per checksum give equal
    values; ``algorithm`` names both (``MD5-of-3MD5-of-512CRC32C``).
    """

    algorithm: str
    value: bytes
    length: int

    @property
    def hex(self) -> str:
        return self.value.hex()

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "bytes": self.value.hex(), "length": self.length}


def mount_table_dict(table: MountTable) -> dict[str, Any]:
    """The JSON shape of a mount table (``hactl mount list --json``)."""
    return {
        "version": table.version,
        "default_nameservice": table.default,
        "mounts": [
            {"path": m.path, "nameservice": m.nameservice, "read_only": m.read_only}
            for m in table.mounts
        ],
    }


class MountChange(NamedTuple):
    """What ``add_mount``/``remove_mount`` return: the new table, and the nameservices
    that have not installed it yet (the default's leader keeps retrying them)."""

    table: MountTable
    pending: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**mount_table_dict(self.table), "pending": list(self.pending)}


__all__ = [
    "DIRECTORY",
    "FILE",
    "BlockLocation",
    "CheckpointInfo",
    "ContentSummary",
    "ExpungeResult",
    "FileChecksum",
    "FileStatus",
    "MountChange",
    "NodeStatus",
    "ServerDefaults",
    "mount_table_dict",
    "octal_string",
    "permission_string",
]
