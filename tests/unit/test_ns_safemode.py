"""Safe mode in the pure core: what it refuses and allows, who may set it, the retry
cache, replication through the codec, and the store (both implementations, the
SQLite image and the schema upgrade from v4).

Each refused command is checked three ways: refused with ``SafeModeOn`` carrying
the reason while safe mode is on, leaving every table as it was; and applied
once safe mode is left (so the refusal was safe mode's, not the scenario's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from nsharness import ALICE, BS, SUPER, Namespace, build
from test_store_contract import seeded

from ha_namenode.namespace import codec, queries, safemode, xattrs
from ha_namenode.namespace.commands import (
    COMMANDS,
    REPORTED_FINALIZED,
    AbandonBlock,
    AddBlock,
    AddMount,
    Append,
    BeginBlockRecovery,
    BlockRef,
    CommitBlockRecovery,
    Complete,
    Create,
    Delete,
    Envelope,
    ExpireLeases,
    ExpireMaintenance,
    ExpireRetryCache,
    ExpungeTrash,
    Format,
    InstallMountTable,
    MarkCorrupt,
    Mkdir,
    RecoverLease,
    RegisterDatanode,
    RemoveMount,
    RemoveXAttr,
    Rename,
    RenewLease,
    ReportReplicas,
    SetDatanodeAdmin,
    SetOwner,
    SetPermission,
    SetQuota,
    SetReplication,
    SetSafeMode,
    SetTimes,
    SetXAttr,
    UpdatePipeline,
)
from ha_namenode.namespace.model import Failed, FileStatus, SafeMode
from ha_namenode.namespace.resolve import resolve
from ha_namenode.namespace.store import Store
from ha_namenode.persistence import SqlStore, restore_image, write_image
from ha_namenode.persistence.schema import SCHEMA_VERSION
from hafs_api.errors import AccessDenied, InvalidArgument, SafeModeOn, make_error

REASON = "upgrade to 0.2"


def open_block(ns: Namespace, path: str) -> tuple[int, int]:
    """(id, generation stamp) of the last block of ``path``."""
    with ns.store.read() as view:
        block = view.blocks(resolve(view, path).require().id)[-1]
    return block.id, block.gen_stamp


def scenario(ns: Namespace) -> None:
    """/d/, /f (closed, 100 bytes, user.a set), /open (one open block, holder w), dn1."""
    build(ns, "/d/", "/f")
    ns.do(SetXAttr("/f", "user.a", b"1"))
    ns.write("/open", [10], holder="w", close=False)
    ns.do(RegisterDatanode("dn1", "127.0.0.1:9866", "/r"))


def _commit_recovery(ns: Namespace) -> object:
    block_id, _ = open_block(ns, "/open")
    begun = ns.do(BeginBlockRecovery("/open", block_id))
    return CommitBlockRecovery("/open", block_id, begun.gen_stamp, 10, ("dn1",))


def _remove_mount(ns: Namespace) -> object:
    ns.do(AddMount("/m", "ns2"))
    return RemoveMount("/m")


def _recover_lease(ns: Namespace) -> object:
    ns.do(Create("/held", 0o644, "w2", 3, BS))  # open, no block: recovery closes it
    return RecoverLease("/held", "other")


# Each case sets up what it needs (safe mode off), then returns the command to refuse.
REFUSED: dict[str, Callable[[Namespace], object]] = {
    "mkdir": lambda ns: Mkdir("/new", 0o755),
    "create": lambda ns: Create("/new", 0o644, "c2", 3, BS),
    "add-block": lambda ns: AddBlock("/open", "w", previous=BlockRef(*open_block(ns, "/open"), 10)),
    "abandon-block": lambda ns: AbandonBlock("/open", "w", open_block(ns, "/open")[0]),
    "complete": lambda ns: Complete("/open", "w", last=BlockRef(*open_block(ns, "/open"), 10)),
    "append": lambda ns: Append("/f", "c2"),
    "rename": lambda ns: Rename("/f", "/g"),
    "delete": lambda ns: Delete("/f"),
    "expunge-trash": lambda ns: ExpungeTrash("hdfs", 0, immediate=True),
    "set-permission": lambda ns: SetPermission("/f", 0o600),
    "set-owner": lambda ns: SetOwner("/f", "alice"),
    "set-replication": lambda ns: SetReplication("/f", 2),
    "set-times": lambda ns: SetTimes("/f", 5, 5),
    "set-quota": lambda ns: SetQuota("/d", 10, None),
    "set-xattr": lambda ns: SetXAttr("/f", "user.b", b"2"),
    "remove-xattr": lambda ns: RemoveXAttr("/f", "user.a"),
    "recover-lease": _recover_lease,
    "expire-leases": lambda ns: ExpireLeases(0),
    "update-pipeline": lambda ns: UpdatePipeline("/open", "w", *open_block(ns, "/open"), ("dn1",)),
    "begin-block-recovery": lambda ns: BeginBlockRecovery("/open", open_block(ns, "/open")[0]),
    "commit-block-recovery": _commit_recovery,
    "add-mount": lambda ns: AddMount("/m", "ns2"),
    "remove-mount": _remove_mount,
}


def allowed_cases(ns: Namespace) -> list[object]:
    block_id, gen_stamp = open_block(ns, "/open")
    return [
        Format("other", "others"),
        ExpireRetryCache(),
        RegisterDatanode("dn2", "127.0.0.1:9867", "/r"),
        ReportReplicas("dn1", ((block_id, gen_stamp, 10, REPORTED_FINALIZED),)),
        MarkCorrupt(((block_id, gen_stamp, "dn1"),)),
        SetDatanodeAdmin("dn2", 2),
        ExpireMaintenance("dn2"),
        RenewLease("w"),
        InstallMountTable(5, (("/m", "ns2", False),)),
        SetSafeMode(True, "again"),
    ]


def test_every_command_is_either_refused_or_allowed_in_safe_mode() -> None:
    ns = Namespace()
    scenario(ns)
    refused = {type(make(ns)) for make in REFUSED.values()}
    allowed = {type(cmd) for cmd in allowed_cases(ns)}
    assert allowed == safemode.ALLOWED
    assert not refused & allowed
    assert refused | allowed == set(COMMANDS)


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_safe_mode_refuses_a_change_then_leaving_lets_it_apply(make) -> None:
    ns = Namespace()
    scenario(ns)
    cmd = make(ns)
    ns.do(SetSafeMode(True, REASON))
    failed = ns.fails(cmd, SafeModeOn)
    assert failed.code == "SAFE_MODE"
    assert REASON in failed.message and "by hdfs" in failed.message
    assert type(cmd).__name__ in failed.message
    assert failed.path == (getattr(cmd, "path", "") or getattr(cmd, "src", ""))
    ns.do(SetSafeMode(False))
    result = ns.run(cmd)
    assert not isinstance(result, Failed), result
    ns.check_invariants()


def test_what_keeps_the_block_map_true_still_applies(ns: Namespace) -> None:
    scenario(ns)
    ns.do(SetSafeMode(True, REASON))
    for cmd in allowed_cases(ns):
        result = ns.run(cmd)
        assert not isinstance(result, Failed), (cmd, result)
    with ns.store.read() as view:
        assert view.datanode("dn2").admin == 2
        assert [m.path for m in view.mounts()] == ["/m"]
        assert view.safe_mode().reason == REASON  # entering again kept the first entry


def test_reads_work_in_safe_mode(ns: Namespace) -> None:
    scenario(ns)
    ns.do(SetSafeMode(True, REASON))
    assert ns.stat("/f").length == 100
    assert ns.ls("/") == ["d", "f", "open"]
    assert ns.locations("/f").blocks[0].num_bytes == 100
    assert ns.summary("/").file_count == 2
    assert list(ns.read(xattrs.get_xattrs, "/f", SUPER, ())) == [("user.a", b"1")]
    assert ns.read(queries.listing, "/d", ALICE).entries == ()


def test_enter_and_leave_record_the_caller_and_the_leader_time(ns: Namespace) -> None:
    with ns.store.read() as view:
        assert view.safe_mode() == SafeMode()
    entered = ns.do(SetSafeMode(True, REASON))
    assert entered == SafeMode(True, REASON, "hdfs", ns.now)
    ns.advance(5000)
    assert ns.do(SetSafeMode(True, "another reason")) == entered  # already on: kept
    with ns.store.read() as view:
        assert view.safe_mode() == entered
    assert ns.do(SetSafeMode(False)) == SafeMode()
    assert ns.do(SetSafeMode(False)) == SafeMode()  # already off
    ns.do(Mkdir("/after", 0o755))


def test_only_the_superuser_enters_or_leaves(ns: Namespace) -> None:
    ns.fails(SetSafeMode(True, REASON), AccessDenied, ALICE)
    ns.do(SetSafeMode(True, REASON))
    failed = ns.fails(SetSafeMode(False), AccessDenied, ALICE)
    assert "Superuser privilege is required" in failed.message
    with ns.store.read() as view:
        assert view.safe_mode().on


def test_a_reason_too_long_is_refused(ns: Namespace) -> None:
    ns.fails(SetSafeMode(True, "x" * (safemode.MAX_REASON + 1)), InvalidArgument)
    assert ns.do(SetSafeMode(True, "x" * safemode.MAX_REASON)).on


def test_enter_and_leave_are_exactly_once_through_the_retry_cache(ns: Namespace) -> None:
    first = ns.run(SetSafeMode(True, REASON), client_id="admin", call_id=1)
    ns.advance(10)
    assert ns.run(SetSafeMode(False), client_id="admin", call_id=2) == SafeMode()
    before = ns.state()
    assert ns.run(SetSafeMode(True, REASON), client_id="admin", call_id=1) == first
    assert ns.state() == before  # the retry did not enter again
    assert not ns.store._tables.safe_mode[""].on


def test_a_refusal_is_remembered_for_its_retries(ns: Namespace) -> None:
    ns.do(SetSafeMode(True, REASON))
    refused = ns.run(Mkdir("/a", 0o755), client_id="cl", call_id=5)
    assert refused.code == "SAFE_MODE"
    ns.do(SetSafeMode(False))
    assert ns.run(Mkdir("/a", 0o755), client_id="cl", call_id=5) == refused
    assert not ns.exists("/a")
    assert isinstance(ns.run(Mkdir("/a", 0o755), client_id="cl", call_id=6), FileStatus)


def test_a_change_ordered_after_entering_in_one_batch_is_refused(ns: Namespace) -> None:
    before, on, after = ns.batch(
        [
            Envelope(Mkdir("/before", 0o755), SUPER, ns.now),
            Envelope(SetSafeMode(True, REASON), SUPER, ns.now),
            Envelope(Mkdir("/after", 0o755), SUPER, ns.now),
        ]
    )
    assert isinstance(before, FileStatus) and on.on
    assert isinstance(make_error(after.code, after.message), SafeModeOn)
    assert ns.exists("/before") and not ns.exists("/after")


def test_replicas_applying_the_same_entries_agree_on_safe_mode() -> None:
    leader, follower = Namespace(), Namespace()
    entries = [
        codec.encode_batch([Envelope(SetSafeMode(True, "ü reason"), SUPER, 7, "a", 1)]),
        codec.encode_batch([Envelope(Mkdir("/x", 0o755), SUPER, 8, "a", 2)]),
    ]
    results = [[r for r in ns.apply_raw(e)] for ns in (leader, follower) for e in entries]
    assert results[:2] == results[2:]
    assert results[0] == [SafeMode(True, "ü reason", "hdfs", 7)]
    assert results[1][0].code == "SAFE_MODE"
    for ns in (leader, follower):
        with ns.store.read() as view:
            assert view.safe_mode() == SafeMode(True, "ü reason", "hdfs", 7)
    assert leader.state() == follower.state()


# ---- the store ------------------------------------------------------------------------


def test_safe_mode_round_trips_and_rolls_back(store: Store) -> None:
    seeded(store)
    with store.read() as view:
        assert view.safe_mode() == SafeMode()
    on = SafeMode(True, "disk ü", "hdfs", 1_700_000_000_000)
    with store.write(2) as txn:
        txn.set_safe_mode(on)
        assert txn.safe_mode() == on  # visible inside the transaction
        with pytest.raises(RuntimeError), txn.savepoint():
            txn.set_safe_mode(SafeMode())
            assert not txn.safe_mode().on
            raise RuntimeError("undo")
        assert txn.safe_mode() == on  # the rolled-back change is forgotten at once
    with pytest.raises(RuntimeError), store.write(3) as txn:
        txn.set_safe_mode(SafeMode())
        raise RuntimeError("abort")
    with store.read() as view:
        assert view.safe_mode() == on and type(view.safe_mode().on) is bool
    with store.write(3) as txn:
        txn.set_safe_mode(SafeMode())
    with store.read() as view:
        assert view.safe_mode() == SafeMode()


def test_safe_mode_survives_an_image_and_a_restart(tmp_path) -> None:
    store = SqlStore(tmp_path / "live.db")
    seeded(store)
    on = SafeMode(True, REASON, "hdfs", 5)
    with store.write(2) as txn:
        txn.set_safe_mode(on)
    info = write_image(store, tmp_path / "image")
    store.close()
    store = SqlStore(tmp_path / "live.db")  # a restart
    try:
        with store.read() as view:
            assert view.safe_mode() == on
    finally:
        store.close()
    restore_image(info.path, tmp_path / "restored.db")  # a new replica from the image
    store = SqlStore(tmp_path / "restored.db")
    try:
        assert store.applied_index() == 2
        with store.read() as view:
            assert view.safe_mode() == on
    finally:
        store.close()


def test_a_v4_database_is_upgraded_in_place(tmp_path) -> None:
    path = tmp_path / "live.db"
    store = SqlStore(path)
    seeded(store)
    store.close()
    with sqlite3.connect(path) as conn:  # what schema v4 wrote: no safe_mode table
        conn.execute("DROP TABLE safe_mode")  # nor datanodes.maintenance_expiry (v6)
        conn.execute("ALTER TABLE datanodes DROP COLUMN maintenance_expiry")
        conn.execute("UPDATE meta SET value = 4 WHERE key = 'schema_version'")
    store = SqlStore(path)
    try:
        with store.read() as view:
            assert view.safe_mode() == SafeMode()
            assert view.meta("schema_version") == SCHEMA_VERSION == 6
        with store.write(2) as txn:
            txn.set_safe_mode(SafeMode(True, "", "hdfs", 1))
        with store.read() as view:
            assert view.safe_mode().on
    finally:
        store.close()


def test_the_applier_on_sqlite_refuses_in_safe_mode(tmp_path) -> None:
    from ha_namenode.namespace.applier import StateMachine

    store = SqlStore(tmp_path / "live.db")
    machine = StateMachine(store)
    try:
        for index, cmd in enumerate(
            [Format("hdfs", "supergroup"), SetSafeMode(True, REASON), Mkdir("/a", 0o755)], 1
        ):
            [result] = machine.apply(index, codec.encode_batch([Envelope(cmd, SUPER, 1)]))
        assert isinstance(result, Failed) and result.code == "SAFE_MODE"
        assert REASON in result.message
        [done] = machine.apply(4, codec.encode_batch([Envelope(SetSafeMode(False), SUPER, 2)]))
        assert done == SafeMode()
        [made] = machine.apply(5, codec.encode_batch([Envelope(Mkdir("/a", 0o755), SUPER, 3)]))
        assert isinstance(made, FileStatus)
    finally:
        store.close()
