"""The replicated commands: one frozen dataclass per verb, and the envelope.

Everything the outcome depends on is in the command or envelope: the leader
stamps the time, the caller's identity and superuser flag, and any setting
(lease limits, trash interval) before it proposes. Apply reads nothing else.
Inode ids, block ids and generation stamps come from counters in the store,
which every replica advances identically.

Adding a command: a new dataclass here, a handler in the applier's table, a
codec registration (automatic for the classes listed in ``COMMANDS``). Never
rename a command or a field: journals and retry caches hold them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from ha_namenode.namespace.model import Caller


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block as the writer reports it: id, generation stamp and final length."""

    block_id: int
    gen_stamp: int
    num_bytes: int


# ---- namespace bootstrap -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Format:
    """Create the root directory if the namespace is empty."""

    superuser: str
    supergroup: str


# ---- directories and names ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mkdir:
    path: str
    perm: int
    parents: bool = False
    exist_ok: bool = False


@dataclass(frozen=True, slots=True)
class Rename:
    src: str
    dst: str
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class Delete:
    path: str
    recursive: bool = False
    skip_trash: bool = False
    trash_interval: int = 0  # ms; 0 disables trash (the leader's setting)


@dataclass(frozen=True, slots=True)
class ExpungeTrash:
    """Checkpoint ``.Trash/Current`` and delete checkpoints older than ``interval``.

    ``user`` empty means every user's trash (the leader's emptier).
    """

    user: str = ""
    interval: int = 0
    immediate: bool = False


# ---- files and blocks ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Create:
    path: str
    perm: int
    holder: str
    replication: int
    block_size: int
    overwrite: bool = False
    create_parent: bool = False
    soft_limit: int = 60_000  # ms: another writer may take over after this


@dataclass(frozen=True, slots=True)
class AddBlock:
    path: str
    holder: str
    file_id: int = 0
    previous: BlockRef | None = None
    targets: tuple[str, ...] = ()  # DataNode ids the leader chose: the pipeline, in order


@dataclass(frozen=True, slots=True)
class AbandonBlock:
    path: str
    holder: str
    block_id: int
    file_id: int = 0


@dataclass(frozen=True, slots=True)
class Complete:
    """Close the file once every block has ``min_replication`` finalized replicas.

    Before that the result is ``Done(False)`` and nothing changes: the writer retries.
    """

    path: str
    holder: str
    file_id: int = 0
    last: BlockRef | None = None
    min_replication: int = 0  # 0: no check (commands journaled before replicas existed)


@dataclass(frozen=True, slots=True)
class Append:
    path: str
    holder: str
    soft_limit: int = 60_000


@dataclass(frozen=True, slots=True)
class RenewLease:
    holder: str


@dataclass(frozen=True, slots=True)
class RecoverLease:
    path: str
    holder: str


@dataclass(frozen=True, slots=True)
class ExpireLeases:
    """Close the files of every holder not renewed within ``hard_limit`` ms."""

    hard_limit: int


# ---- DataNodes and replicas ------------------------------------------------------

# A reported replica: (block id, generation stamp, bytes, kind).
REPORTED_FINALIZED = 1
REPORTED_RBW = 2
REPORTED_CORRUPT = 3


@dataclass(frozen=True, slots=True)
class RegisterDatanode:
    datanode: str
    address: str
    rack: str


@dataclass(frozen=True, slots=True)
class ReportReplicas:
    """A DataNode's report: incremental (received, deleted) or full (its whole pool).

    ``received`` holds (block id, generation stamp, bytes, REPORTED_*) tuples. A
    full report replaces every location of the DataNode.
    """

    datanode: str
    received: tuple[tuple[int, int, int, int], ...] = ()
    deleted: tuple[tuple[int, int], ...] = ()  # (block id, generation stamp)
    full: bool = False


@dataclass(frozen=True, slots=True)
class MarkCorrupt:
    """Replicas found bad: (block id, generation stamp, DataNode id) each."""

    replicas: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True, slots=True)
class SetDatanodeAdmin:
    """An operator's (or the leader's) admin state change.

    ``ENTERING_MAINTENANCE`` carries the wall-clock ms the maintenance ends at (0:
    never); asked again of a node already in maintenance, it only changes the expiry.
    ``only_from`` (an ``AdminState``, 0: any) makes the change conditional: the
    leader's own transitions (drained, maintenance reached) re-check on apply that
    no operator changed the state meanwhile.
    """

    datanode: str
    admin: int  # model.AdminState
    maintenance_expiry: int = 0
    only_from: int = 0


@dataclass(frozen=True, slots=True)
class ExpireMaintenance:
    """Back in service: the node's maintenance expiry has passed by the envelope's time
    (re-checked on apply, so an expiry extended meanwhile wins)."""

    datanode: str


@dataclass(frozen=True, slots=True)
class UpdatePipeline:
    """A new generation stamp for the open block, kept by ``datanodes`` only."""

    path: str
    holder: str
    block_id: int
    gen_stamp: int  # the stamp the writer had: refuses a stale or repeated recovery
    datanodes: tuple[str, ...]
    file_id: int = 0


@dataclass(frozen=True, slots=True)
class BeginBlockRecovery:
    """Lease recovery of a file whose last block is open: bump its generation stamp."""

    path: str
    block_id: int


@dataclass(frozen=True, slots=True)
class CommitBlockRecovery:
    """Finalize the open block at the length the replicas agreed on, and close the file."""

    path: str
    block_id: int
    gen_stamp: int
    num_bytes: int
    datanodes: tuple[str, ...]


# ---- attributes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetPermission:
    path: str
    perm: int


@dataclass(frozen=True, slots=True)
class SetOwner:
    path: str
    owner: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class SetReplication:
    path: str
    replication: int


@dataclass(frozen=True, slots=True)
class SetTimes:
    path: str
    mtime: int = -1
    atime: int = -1


@dataclass(frozen=True, slots=True)
class SetQuota:
    path: str
    ns_quota: int | None = None  # None: unchanged; -1: clear
    ds_quota: int | None = None


# ---- extended attributes -------------------------------------------------------------

XATTR_CREATE = 1  # the attribute must not be set yet (HDFS XAttrSetFlag.CREATE)
XATTR_REPLACE = 2  # the attribute must be set already (XAttrSetFlag.REPLACE); 0: either
MAX_XATTR_SIZE = 16384  # HDFS dfs.namenode.fs-limits.max-xattr-size
MAX_XATTRS_PER_INODE = 32  # HDFS dfs.namenode.fs-limits.max-xattrs-per-inode


@dataclass(frozen=True, slots=True)
class SetXAttr:
    """Set extended attribute ``name`` of ``path`` to ``value`` (``setXAttr``).

    ``flag`` is 0, XATTR_CREATE or XATTR_REPLACE. With ``compare`` the value is
    set only if the current one equals ``expected`` (None: not set); a mismatch
    is the result ``Done(False)``, not an error. ``max_size`` and ``max_count``
    are the leader's limits (``[namespace]``).
    """

    path: str
    name: str
    value: bytes = b""
    flag: int = 0
    compare: bool = False
    expected: bytes | None = None
    max_size: int = MAX_XATTR_SIZE
    max_count: int = MAX_XATTRS_PER_INODE


@dataclass(frozen=True, slots=True)
class RemoveXAttr:
    path: str
    name: str


# ---- federation: the mount table ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddMount:
    """Mount ``path`` on ``nameservice`` (or change that mount): the table's version + 1.

    Proposed only in the default nameservice, which holds the authoritative table.
    """

    path: str
    nameservice: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class RemoveMount:
    path: str


@dataclass(frozen=True, slots=True)
class InstallMountTable:
    """Replace this nameservice's copy of the table when ``version`` is newer (else a no-op).

    ``mounts`` holds (path, nameservice, read_only) tuples, as the authority holds them.
    """

    version: int
    mounts: tuple[tuple[str, str, bool], ...] = ()


# ---- administration -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetSafeMode:
    """Enter (``on``) or leave safe mode; superuser only (``namespace.safemode``).

    Who and when are the envelope's caller and time. Entering while on, or
    leaving while off, changes nothing and returns the current state.
    """

    on: bool
    reason: str = ""


# ---- housekeeping ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpireRetryCache:
    pass


@dataclass(frozen=True, slots=True)
class Envelope:
    """One command with who sent it, when, and its retry-cache key."""

    command: object
    caller: Caller
    now: int  # leader time in ms
    client_id: str = ""  # empty for commands the leader makes itself
    call_id: int = 0


COMMANDS: tuple[type, ...] = (
    Format,
    Mkdir,
    Rename,
    Delete,
    ExpungeTrash,
    Create,
    AddBlock,
    AbandonBlock,
    Complete,
    Append,
    RenewLease,
    RecoverLease,
    ExpireLeases,
    SetPermission,
    SetOwner,
    SetReplication,
    SetTimes,
    SetQuota,
    ExpireRetryCache,
    RegisterDatanode,
    ReportReplicas,
    MarkCorrupt,
    SetDatanodeAdmin,
    UpdatePipeline,
    BeginBlockRecovery,
    CommitBlockRecovery,
    AddMount,
    RemoveMount,
    InstallMountTable,
    SetXAttr,
    RemoveXAttr,
    SetSafeMode,
    ExpireMaintenance,
)
