"""The replicated log digest: a hash chain over the entries ``StateMachine.apply`` applied.

Run on both stores: equal entries give equal digests, any difference in an
entry's bytes or index gives another digest, a skipped (stale) entry or a read
barrier changes nothing, and the chain goes on from an image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from nsharness import ALICE, SUPER

from ha_namenode.namespace import codec
from ha_namenode.namespace.applier import DIGEST_MASK, StateMachine, chain, log_position
from ha_namenode.namespace.commands import Envelope, Format, Mkdir
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import Failed
from ha_namenode.namespace.store import LOG_DIGEST, StoreFailure
from ha_namenode.persistence import SqlStore, restore_image, write_image


def entry(*paths: str, now: int = 5, caller=SUPER) -> bytes:
    return codec.encode_batch([Envelope(Mkdir(p, 0o755), caller, now) for p in paths])


FORMAT = codec.encode_batch([Envelope(Format("hdfs", "supergroup"), SUPER, 1)])
LOG = [FORMAT, entry("/a"), entry("/b", "/c"), entry("/a/x", now=9)]


@pytest.fixture(params=["memory", "sql"])
def make_machine(request, tmp_path: Path) -> Iterator:
    stores = []

    def make() -> StateMachine:
        if request.param == "memory":
            store = MemoryStore()
        else:
            store = SqlStore(tmp_path / f"live{len(stores)}.db")
        stores.append(store)
        return StateMachine(store)

    yield make
    for store in stores:
        store.close()


def position(machine: StateMachine) -> tuple[int, int]:
    with machine.store.read() as view:
        return log_position(view)


def apply_all(machine: StateMachine, log: list[bytes], start: int = 1) -> None:
    for index, payload in enumerate(log, start):
        assert machine.apply(index, payload) is not None


def test_the_chain_is_blake2b_of_the_previous_digest_the_index_and_the_payload() -> None:
    data = (5).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"payload"
    raw = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")
    assert chain(5, 7, b"payload") == raw & DIGEST_MASK
    values = [chain(d, i, bytes([i])) for d in (0, DIGEST_MASK) for i in range(200)]
    assert all(0 <= v < 1 << 63 for v in values)
    assert len(set(values)) == len(values)


def test_same_entries_same_digest_on_two_stores(make_machine) -> None:
    one, two = make_machine(), make_machine()
    assert position(one) == (0, 0)
    apply_all(one, LOG)
    apply_all(two, LOG)
    index, digest = position(one)
    assert (index, digest) == position(two) and index == len(LOG)
    expected = 0
    for i, payload in enumerate(LOG, 1):
        expected = chain(expected, i, payload)
    assert digest == expected


def test_a_different_payload_or_index_gives_another_digest(make_machine) -> None:
    base, other_payload, other_index = make_machine(), make_machine(), make_machine()
    apply_all(base, LOG)
    apply_all(other_payload, [*LOG[:-1], entry("/a/y", now=9)])
    apply_all(other_index, LOG[:-1])
    other_index.apply(len(LOG) + 1, LOG[-1])  # the same entry, one index later
    digests = {position(m)[1] for m in (base, other_payload, other_index)}
    assert len(digests) == 3
    # The state the last entries made is the same for base and other_index: only
    # the digest tells that their logs differ.
    with base.store.read() as a, other_index.store.read() as b:
        assert a.inode(1) == b.inode(1) and a.meta("next_inode_id") == b.meta("next_inode_id")


def test_a_stale_index_leaves_the_digest_alone(make_machine) -> None:
    machine = make_machine()
    apply_all(machine, LOG)
    before = position(machine)
    assert machine.apply(2, entry("/stale")) is None
    assert machine.apply(len(LOG), LOG[-1]) is None
    assert position(machine) == before


def test_failed_commands_are_chained_and_barriers_are_not(make_machine) -> None:
    machine = make_machine()
    apply_all(machine, LOG)
    before = position(machine)
    assert machine.apply(len(LOG) + 1, codec.encode_batch([])) == []  # a read barrier
    assert position(machine) == before
    [failed] = machine.apply(len(LOG) + 2, entry("/a/denied", caller=ALICE))
    assert isinstance(failed, Failed) and failed.code == "ACCESS_DENIED"
    assert position(machine) == (
        len(LOG) + 2,
        chain(before[1], len(LOG) + 2, entry("/a/denied", caller=ALICE)),
    )


def test_a_corrupt_entry_changes_nothing(make_machine) -> None:
    machine = make_machine()
    apply_all(machine, LOG)
    before = position(machine)
    with pytest.raises(StoreFailure):
        machine.apply(len(LOG) + 1, LOG[1][:-1])
    assert position(machine) == before


def test_the_digest_survives_an_image_and_the_chain_goes_on(tmp_path: Path) -> None:
    live = SqlStore(tmp_path / "live.db")
    machine = StateMachine(live)
    apply_all(machine, LOG)
    info = write_image(live, tmp_path / "image")
    apply_all(machine, [entry("/after")], start=len(LOG) + 1)
    restore_image(info.path, tmp_path / "restored.db")
    restored = StateMachine(SqlStore(tmp_path / "restored.db"))
    try:
        with restored.store.read() as view:
            assert view.meta(LOG_DIGEST) != 0
        assert restored.apply(2, LOG[1]) is None  # replayed below the image: skipped
        apply_all(restored, [entry("/after")], start=len(LOG) + 1)
        assert position(restored) == position(machine)
    finally:
        restored.store.close()
        live.close()


def test_status_reads_the_position_again_while_the_store_is_being_replaced() -> None:
    from ha_namenode.rpc.admin_service import AdminService
    from hafs_api.errors import Unavailable

    failures = [StoreFailure("reopening")]

    def flaky() -> tuple[int, int]:
        if failures:
            raise failures.pop()
        return 5, 7

    def broken() -> tuple[int, int]:
        raise StoreFailure("gone")

    def service(position) -> AdminService:
        return AdminService(None, "ns1", "a:1", "v", lambda: ("", 0, 0), log_position=position)

    assert service(flaky)._position() == (5, 7)
    assert service(None)._position() == (0, 0)
    with pytest.raises(Unavailable, match="gone"):
        service(broken)._position()
