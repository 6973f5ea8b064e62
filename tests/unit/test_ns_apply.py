"""Namespace core scenarios: the applier (retry cache, bad input, never raising), the codec.

Every command goes through ``StateMachine.apply`` as an encoded log entry (see
``nsharness``). Each expected failure is checked for its exact error class and
for leaving every table as it was; the fixture checks the tables' invariants
(children counts, orphans, quota usage against a recount, leases) after each test.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from nsharness import (
    BS,
    FIRST_BLOCK,
    FIRST_GS,
    SUPER,
    Namespace,
    build,
)

from ha_namenode.namespace import applier, codec
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
from ha_namenode.namespace.model import (
    AppendResult,
    BlockLocations,
    Caller,
    ContentSummary,
    DeleteResult,
    Done,
    ExpungeResult,
    Failed,
    FileStatus,
    Kind,
    LeaseRecoveryResult,
    Listing,
    LocatedBlock,
    ReportResult,
    SafeMode,
)
from ha_namenode.namespace.store import StoreFailure
from hafs_api.errors import (
    InvalidPath,
)
from hafs_api.mounts import Mount, MountTable

# ---- retry cache ---------------------------------------------------------------------


def test_a_retried_create_returns_the_first_result_after_a_delete(ns: Namespace) -> None:
    cmd = Create("/f", 0o644, "c1", 3, BS)
    first = ns.run(cmd, client_id="cl", call_id=1)
    assert isinstance(first, FileStatus)
    ns.do(Delete("/f"))
    before = ns.state()
    ns.advance(1000)
    assert ns.run(cmd, client_id="cl", call_id=1) == first
    assert ns.state() == before and not ns.exists("/f")
    assert ns.run(cmd, client_id="cl", call_id=2).inode_id != first.inode_id
    assert ns.run(cmd, client_id="other", call_id=1) == Failed(
        "LEASE_CONFLICT", "c1 is already the holder of the file", "/f"
    )


def test_a_retried_failure_returns_the_first_failure(ns: Namespace) -> None:
    build(ns, "/d/")
    first = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=7)
    assert first.code == "FILE_ALREADY_EXISTS"
    ns.do(Delete("/d"))
    assert ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=7) == first
    assert not ns.exists("/d")


def test_duplicates_in_one_batch_apply_once(ns: Namespace) -> None:
    env = Envelope(Mkdir("/d", 0o755), SUPER, ns.now, "cl", 1)
    one, two = ns.batch([env, env])
    assert one == two and isinstance(one, FileStatus)


def test_expire_retry_cache_drops_entries_older_than_the_ttl() -> None:
    ns = Namespace(retry_ttl_ms=1000)
    first = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1)
    ns.advance(1000)
    assert ns.do(ExpireRetryCache()) == Done(False)
    assert ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1) == first
    ns.advance(1)
    assert ns.do(ExpireRetryCache()) == Done(True)
    assert set(ns.store._tables.retry) == set()
    again = ns.run(Mkdir("/d", 0o755), client_id="cl", call_id=1)
    assert again.code == "FILE_ALREADY_EXISTS"  # executed afresh
    ns.check_invariants()


# ---- bad input -----------------------------------------------------------------------


BAD_PATHS = {
    "relative": "a/b",
    "empty": "",
    "dotdot": "/a/../b",
    "dot": "/a/./b",
    "double-slash": "/a//b",
    "trailing-slash": "/a/",
    "nul": "/a\x00b",
    "name-256-bytes": "/" + "n" * 256,
    "name-256-utf8-bytes": "/" + "é" * 128,
    "path-over-8000-bytes": "/" + "/".join(["p" * 199] * 40) + "/q",
    "over-1000-components": "/d" * 1001,
    "surrogate": "/a\udc80b",
    "not-a-string": 5,
}
BAD_COMMANDS = {
    "mkdir": lambda p: Mkdir(p, 0o755, parents=True),
    "create": lambda p: Create(p, 0o644, "c1", 3, BS, create_parent=True),
    "delete": lambda p: Delete(p, recursive=True),
    "rename-src": lambda p: Rename(p, "/ok/x"),
    "rename-dst": lambda p: Rename("/ok", p),
    "set-permission": lambda p: SetPermission(p, 0o700),
    "append": lambda p: Append(p, "c1"),
}


def _ascii_payload(env: Envelope) -> bytes:
    """The batch with non-ASCII escaped, so that it can carry lone surrogates."""
    return json.dumps({"v": codec.FORMAT_VERSION, "e": [codec.to_plain(env)]}).encode()


@pytest.mark.parametrize("make", BAD_COMMANDS.values(), ids=BAD_COMMANDS.keys())
@pytest.mark.parametrize("path", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_bad_paths_are_invalid_and_change_nothing(ns: Namespace, path: str, make) -> None:
    build(ns, "/ok/")
    before = ns.state()
    [result] = ns.apply_body(_ascii_payload(Envelope(make(path), SUPER, ns.now, "cl", 1)))
    assert isinstance(result, Failed) and result.code == "INVALID_PATH", result
    assert ns.state() == before
    with pytest.raises(InvalidPath):
        ns.stat(path)


@pytest.mark.parametrize(
    "path",
    [
        "/" + "n" * 255,
        "/" + "é" * 127 + "e",
        "/" + "/".join(["p" * 199] * 40),
        "/d" * 1000,
        "/a b/ünï/.hidden/..x",
    ],
    ids=["name-255", "utf8-name-255", "path-8000", "1000-components", "odd-but-valid"],
)
def test_paths_at_the_limits_are_valid(ns: Namespace, path: str) -> None:
    ns.do(Mkdir(path, 0o755, parents=True))
    assert ns.stat(path).kind is Kind.DIR


# ---- no exception escapes apply ------------------------------------------------------


def test_an_unexpected_exception_is_internal_and_rolled_back(
    ns: Namespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = applier.HANDLERS[Mkdir]

    def crash(ctx, cmd):
        real(ctx, cmd)
        ctx.txn.set_meta("junk", 1)
        return 1 // 0

    monkeypatch.setitem(applier.HANDLERS, Mkdir, crash)
    before = ns.state()
    crashed, created = ns.batch(
        [
            Envelope(Mkdir("/x", 0o755), SUPER, ns.now, "cl", 1),
            Envelope(Create("/f", 0o644, "c1", 3, BS), SUPER, ns.now),
        ]
    )
    assert crashed == Failed("INTERNAL", "ZeroDivisionError: integer division or modulo by zero")
    assert isinstance(created, FileStatus)
    assert ns.store.applied_index() == ns.index
    assert not ns.exists("/x") and "junk" not in ns.state()["meta"]
    assert ns.state()["inodes"].keys() - before["inodes"].keys() == {created.inode_id}
    monkeypatch.undo()
    ns.do(Mkdir("/x", 0o755))  # later commands still apply
    assert ns.store.applied_index() == ns.index


def _envelope_json(**changes: object) -> dict:
    plain = codec.to_plain(Envelope(Mkdir("/x", 0o755), SUPER, 5, "cl", 1))
    plain.update(changes)
    return plain


INVALID_PAYLOADS = {
    "empty": b"",
    "not-json": b"not json",
    "not-utf8": b"\xff\xfe\x00",
    "list": b"[]",
    "null": b"null",
    "new-version": b'{"v": 2, "e": []}',
    "no-version": b'{"e": []}',
    "entries-int": b'{"v": 1, "e": 5}',
    "entries-null": b'{"v": 1, "e": null}',
    "entries-dict": b'{"v": 1, "e": {"_": "Done"}}',
    "entry-int": b'{"v": 1, "e": [1]}',
    "unknown-type": b'{"v": 1, "e": [{"_": "Nope"}]}',
    "not-envelope": b'{"v": 1, "e": [{"_": "Done", "value": true}]}',
    "bad-enum": b'{"v": 1, "e": [{"_": "FileStatus", "kind": 9}]}',
    "extra-field": json.dumps({"v": 1, "e": [_envelope_json(bogus=1)]}).encode(),
    "deep-json": b"[" * 100_000,
    "deep-values": b'{"v": 1, "e": [' + b"[" * 900 + b"]" * 900 + b"]}",
}


@pytest.mark.parametrize("payload", INVALID_PAYLOADS.values(), ids=INVALID_PAYLOADS.keys())
def test_an_invalid_body_is_refused_and_changes_nothing(ns: Namespace, payload: bytes) -> None:
    before, applied = ns.state(), ns.store.applied_index()
    with pytest.raises(StoreFailure, match="is corrupt"):
        ns.apply_body(payload)
    assert ns.store.applied_index() == applied
    assert ns.state() == before
    ns.do(Mkdir("/after", 0o755))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


GOOD = codec.encode_batch([Envelope(Mkdir("/x", 0o755), SUPER, 5, "cl", 1)])
BAD_FRAMES = {
    "empty": b"",
    "bare-json": b'{"v": 1, "e": []}',
    "short": GOOD[:6],
    "flipped-body": _flip(GOOD, len(GOOD) - 3),
    "flipped-crc": _flip(GOOD, 5),
    "truncated": GOOD[:-1],
}


@pytest.mark.parametrize("payload", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_a_corrupt_entry_is_refused_and_changes_nothing(ns: Namespace, payload: bytes) -> None:
    before, applied = ns.state(), ns.store.applied_index()
    with pytest.raises(StoreFailure):
        ns.apply_raw(payload)
    assert (ns.state(), ns.store.applied_index()) == (before, applied)


@pytest.mark.parametrize(
    "changes",
    [
        {"now": "x"},
        {"caller": "hdfs"},
        {"command": {"_": "Done", "value": True}},
        {"command": {"_": "Mkdir", "path": "/x", "perm": "rwx"}},
        {"caller": {"_": "Caller", "user": "u\udc80", "groups": [], "superuser": True}},
    ],
    ids=["now-str", "caller-str", "not-a-command", "perm-str", "unencodable-result"],
)
def test_a_malformed_envelope_fails_alone(ns: Namespace, changes: dict) -> None:
    before = ns.state()
    payload = json.dumps(
        {
            "v": 1,
            "e": [
                _envelope_json(**changes),
                _envelope_json(call_id=2, command=codec.to_plain(Mkdir("/ok", 0o755))),
            ],
        }
    ).encode()
    crashed, made = ns.apply_body(payload)
    assert crashed.code == "INTERNAL" and made.path == "/ok"
    assert ns.state()["inodes"].keys() - before["inodes"].keys() == {made.inode_id}
    assert ns.store.applied_index() == ns.index


def test_reapplying_an_applied_index_returns_none(ns: Namespace) -> None:
    build(ns, "/d/")
    before = ns.state()
    payload = codec.encode_batch([Envelope(Mkdir("/again", 0o755), SUPER, ns.now)])
    assert ns.machine.apply(ns.index, payload) is None
    assert ns.machine.apply(1, payload) is None
    assert ns.state() == before and ns.store.applied_index() == ns.index


def test_format_only_once(ns: Namespace) -> None:
    build(ns, "/d/")
    before = ns.state()
    assert ns.do(Format("other", "others")) == Done(False)
    assert ns.state() == before
    assert (ns.stat("/").owner, ns.stat("/").group, ns.stat("/").perm) == (
        "hdfs",
        "supergroup",
        0o755,
    )


# ---- codec ---------------------------------------------------------------------------


_STATUS = FileStatus("/f", Kind.FILE, 10, 3, BS, 1, 2, 0o644, "u", "g", 1000, 0, True)
_BLOCK = LocatedBlock(FIRST_BLOCK, FIRST_GS, 10, 0, True, ("dn1", "dn2"))
_REF = BlockRef(FIRST_BLOCK, FIRST_GS, 10)
ROUND_TRIP = [
    Format("hdfs", "supergroup"),
    Mkdir("/a", 0o1700, parents=True, exist_ok=True),
    Rename("/a", "/b", overwrite=True),
    Delete("/a", recursive=True, skip_trash=True, trash_interval=5),
    ExpungeTrash("u", 5, immediate=True),
    Create("/f", 0o600, "c", 2, 4096, overwrite=True, create_parent=True, soft_limit=5),
    AddBlock("/f", "c", 7, _REF, ("dn1", "dn2")),
    AbandonBlock("/f", "c", FIRST_BLOCK, 7),
    Complete("/f", "c", 7, _REF),
    Append("/f", "c", 5),
    RenewLease("c"),
    RecoverLease("/f", "c"),
    ExpireLeases(5),
    SetPermission("/f", 0o1777),
    SetOwner("/f", "o", "g"),
    SetReplication("/f", 2),
    SetTimes("/f", 1, 2),
    SetQuota("/d", 3, None),
    ExpireRetryCache(),
    RegisterDatanode("dn1", "127.0.0.1:9866", "/r1"),
    ReportReplicas("dn1", ((FIRST_BLOCK, FIRST_GS, 10, REPORTED_FINALIZED),), ((9, 1),), True),
    MarkCorrupt(((FIRST_BLOCK, FIRST_GS, "dn1"),)),
    SetDatanodeAdmin("dn1", 2),
    SetDatanodeAdmin("dn1", 4, maintenance_expiry=1_700_000_000_000, only_from=1),
    ExpireMaintenance("dn1"),
    UpdatePipeline("/f", "c", FIRST_BLOCK, FIRST_GS, ("dn2",), 7),
    BeginBlockRecovery("/f", FIRST_BLOCK),
    CommitBlockRecovery("/f", FIRST_BLOCK, FIRST_GS + 1, 10, ("dn1", "dn2")),
    Complete("/f", "c", 7, _REF, 1),
    AddMount("/data", "ns2", read_only=True),
    RemoveMount("/data"),
    InstallMountTable(4, (("/data", "ns2", True), ("/ü", "ns3", False))),
    SetXAttr("/f", "user.ü", bytes(range(256)), 1, True, b"", 100, 5),
    SetXAttr("/f", "trusted.t", b"", compare=True, expected=None),
    SetXAttr("/f", "user.x", b"\x00v", 2, True, b"\xff\x00"),
    RemoveXAttr("/f", "user.a"),
    SetSafeMode(True, "upgrade ü"),
    SetSafeMode(False),
    SafeMode(True, "upgrade", "hdfs", 5),
    SafeMode(),
    MountTable(4, "", (Mount("/data", "ns2", True), Mount("/ü", "ns3"))),
    Mount("/data", "ns2"),
    ReportResult(((FIRST_BLOCK, FIRST_GS),)),
    _REF,
    Envelope(Mkdir("/ü", 0o755), Caller("u", ("g", "h"), False), 5, "cl", 7),
    Caller("u", (), True),
    _STATUS,
    FileStatus("/", Kind.DIR, 0, 0, 0, 1, 2, 0o755, "u", "g", 1, 4, False),
    _BLOCK,
    Listing((_STATUS, _STATUS), 3),
    BlockLocations(_STATUS, (_BLOCK,)),
    ContentSummary(1, 2, 3, 4, 5, 6, 7),
    AppendResult(_STATUS, _BLOCK),
    AppendResult(_STATUS, None),
    DeleteResult("/t"),
    ExpungeResult(("/a",), ("/b", "/c")),
    LeaseRecoveryResult(("/f",), ("/g",)),
    LocatedBlock(FIRST_BLOCK, FIRST_GS, 10, 0, False, ("dn1",), ("dn2",)),
    Done(False),
    Failed("FILE_NOT_FOUND", "No such file", "/p"),
]


def test_round_trip_samples_cover_every_registered_type() -> None:
    assert {type(v) for v in ROUND_TRIP} == set(codec._REGISTRY.values())
    assert set(COMMANDS) <= {type(v) for v in ROUND_TRIP}


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_codec_round_trips(value: object) -> None:
    back = codec.loads(codec.dumps(value))
    assert back == value and type(back) is type(value)
    if isinstance(value, FileStatus):
        assert back.kind is value.kind


def test_an_admin_change_journaled_before_maintenance_decodes_with_the_defaults() -> None:
    old = b'{"_": "SetDatanodeAdmin", "datanode": "dn1", "admin": 2}'
    assert codec.loads(old) == SetDatanodeAdmin("dn1", 2, maintenance_expiry=0, only_from=0)


def test_batches_round_trip() -> None:
    envelopes = [Envelope(cmd, SUPER, i, f"c{i}", i) for i, cmd in enumerate(ROUND_TRIP[:19])]
    assert codec.decode_batch(codec.encode_batch(envelopes)) == envelopes


@pytest.mark.parametrize(
    "data",
    [
        b'{"_": "Inode", "id": 1}',
        b'{"_": "subprocess.Popen", "args": "sh"}',
        b'{"_": "__main__.Evil"}',
        b'{"id": 1}',
        b'{"_": 5}',
        b'{"_": "Mkdir", "path": "/a", "perm": 1, "bogus": 2}',
        b'{"_": "Mkdir"}',
        b'{"_": "FileStatus", "kind": 7}',
        b"{",
        b'{"_": "bytes", "b64": "not base64!"}',
        b'{"_": "bytes", "b64": "AAA"}',
        b'{"_": "bytes", "b64": 5}',
        b'{"_": "bytes"}',
        b'{"_": "bytes", "b64": "", "extra": 1}',
        b'{"_": "SetXAttr", "path": "/f", "name": "user.a", "value": {"_": "bytes", "b64": "="}}',
    ],
)
def test_unknown_or_malformed_values_are_codec_errors(data: bytes) -> None:
    with pytest.raises(codec.CodecError):
        codec.loads(data)
    with pytest.raises(codec.CodecError):
        codec.decode_batch(codec.frame(b'{"v": 1, "e": [' + data + b"]}"))


def test_bytes_encode_as_tagged_base64() -> None:
    assert codec.to_plain(b"\x00\xff") == {"_": "bytes", "b64": "AP8="}
    assert codec.loads(codec.dumps((b"", b"a"))) == (b"", b"a")
    with pytest.raises(TypeError, match="codec's own name"):
        codec.register(dataclasses.make_dataclass("bytes", []))


def test_unregistered_values_do_not_encode() -> None:
    from ha_namenode.namespace.model import Lease

    with pytest.raises(TypeError):
        codec.dumps(Lease("c", 1))
