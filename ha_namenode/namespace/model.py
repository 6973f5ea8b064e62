"""Value types of the namespace: inodes, blocks, leases, safe mode, callers and results.

Pure data, standard library only. Rows are frozen; a change is a new value
written through the store.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

ROOT_ID = 1  # the root directory's inode id; its parent is 0 and its name ""
NO_QUOTA = -1


class Kind(enum.IntEnum):
    DIR = 1
    FILE = 2


@dataclass(frozen=True, slots=True)
class Inode:
    """One file or directory.

    Files: ``length`` is the sum of the known bytes of all blocks; ``uc_block``
    says the last block is under construction (charged a whole ``block_size``
    against space quotas until committed); ``holder`` is the lease holder while
    the file is open for writing.

    Directories: ``children`` counts entries. ``ns_quota``/``ds_quota`` are -1
    when unset; ``ns_used``/``ds_used`` are kept only while a quota is set and
    include the directory itself (HDFS semantics).
    """

    id: int
    parent: int
    name: str
    kind: Kind
    perm: int
    owner: str
    group: str
    mtime: int
    atime: int
    replication: int = 0
    block_size: int = 0
    length: int = 0
    holder: str = ""
    uc_block: bool = False
    children: int = 0
    ns_quota: int = NO_QUOTA
    ds_quota: int = NO_QUOTA
    ns_used: int = 0
    ds_used: int = 0

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR

    @property
    def is_file(self) -> bool:
        return self.kind is Kind.FILE

    @property
    def has_quota(self) -> bool:
        return self.ns_quota != NO_QUOTA or self.ds_quota != NO_QUOTA

    def replace(self, **changes) -> Inode:
        return dataclasses.replace(self, **changes)


INODE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Inode))


@dataclass(frozen=True, slots=True)
class Block:
    id: int
    inode: int
    index: int
    gen_stamp: int
    num_bytes: int


class ReplicaState(enum.IntEnum):
    EXPECTED = 0  # a pipeline target of an open block: not reported finalized yet
    FINALIZED = 1  # reported by its DataNode with the block's generation stamp
    CORRUPT = 2  # reported bad (a reader's or the scanner's checksum, a wrong length)


class AdminState(enum.IntEnum):
    IN_SERVICE = 1
    DECOMMISSIONING = 2  # its replicas are copied elsewhere; it takes no new ones
    DECOMMISSIONED = 3  # every block it held has enough replicas elsewhere
    # Maintenance (HDFS's): it may go down for a while without its replicas being copied,
    # as long as each of its blocks keeps ``maintenance_min_replicas`` live elsewhere.
    ENTERING_MAINTENANCE = 4  # copying the blocks that would fall below that minimum
    IN_MAINTENANCE = 5  # may be stopped; back in service when recommissioned or expired

    @property
    def maintenance(self) -> bool:
        return self in (AdminState.ENTERING_MAINTENANCE, AdminState.IN_MAINTENANCE)


@dataclass(frozen=True, slots=True)
class Replica:
    """Where a block is: the replicated location map (no block-report storm on failover)."""

    block: int
    datanode: str
    gen_stamp: int
    num_bytes: int
    state: ReplicaState


@dataclass(frozen=True, slots=True)
class Datanode:
    """A registered DataNode. Liveness is the leader's, not replicated state."""

    id: str
    address: str  # host:port of its data transfer service
    rack: str
    admin: AdminState = AdminState.IN_SERVICE
    maintenance_expiry: int = 0  # maintenance only: wall-clock ms it ends at; 0: never


@dataclass(frozen=True, slots=True)
class Invalidation:
    """A replica of a removed block, to be deleted from its DataNode."""

    block: int
    gen_stamp: int
    datanode: str


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    renewed: int  # leader time (ms) of the last renewal


@dataclass(frozen=True, slots=True)
class SafeMode:
    """The safe-mode flag (replicated): while ``on``, the namespace is read-only.

    ``set_by`` and ``since`` (leader time, ms) record who entered it and when;
    every field is empty while it is off.
    """

    on: bool = False
    reason: str = ""
    set_by: str = ""
    since: int = 0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a command runs as. The leader resolves groups and the superuser flag."""

    user: str
    groups: tuple[str, ...] = ()
    superuser: bool = False


# ---- results -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileStatus:
    path: str
    kind: Kind
    length: int
    replication: int
    block_size: int
    mtime: int
    atime: int
    perm: int
    owner: str
    group: str
    inode_id: int
    children: int
    under_construction: bool


@dataclass(frozen=True, slots=True)
class LocatedBlock:
    block_id: int
    gen_stamp: int
    num_bytes: int
    offset: int
    under_construction: bool
    targets: tuple[str, ...] = ()  # DataNode ids: pipeline targets, or replicas (good first)
    corrupt: tuple[str, ...] = ()  # DataNode ids of replicas known to be corrupt


@dataclass(frozen=True, slots=True)
class Listing:
    entries: tuple[FileStatus, ...]
    remaining: int


@dataclass(frozen=True, slots=True)
class BlockLocations:
    status: FileStatus
    blocks: tuple[LocatedBlock, ...]


@dataclass(frozen=True, slots=True)
class ContentSummary:
    length: int
    file_count: int
    directory_count: int
    ns_quota: int
    ns_used: int
    ds_quota: int
    space_consumed: int


@dataclass(frozen=True, slots=True)
class AppendResult:
    status: FileStatus
    last_block: LocatedBlock | None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    trash_path: str = ""  # where the path went, when it went to trash


@dataclass(frozen=True, slots=True)
class ExpungeResult:
    checkpoints: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaseRecoveryResult:
    closed: tuple[str, ...] = ()  # paths of files closed
    recovering: tuple[str, ...] = ()  # files whose open block needs block recovery first


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Replicas a DataNode reported that must go: unknown blocks, stale stamps."""

    invalidate: tuple[tuple[int, int], ...] = ()  # (block id, generation stamp)


@dataclass(frozen=True, slots=True)
class Done:
    """The result of a command that returns nothing but success."""

    value: bool = True


@dataclass(frozen=True, slots=True)
class Failed:
    """A command that failed with a domain error; the error is the result."""

    code: str
    message: str
    path: str = ""
