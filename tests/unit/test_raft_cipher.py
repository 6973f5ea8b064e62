"""The Raft transport cipher (AES-GCM in pysyncobj's encryptor slot): round trips, the
timestamp pysyncobj orders messages by, and refusal of anything not sealed by this key."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_namenode.consensus import cipher
from ha_namenode.consensus.cipher import CipherError, RaftCipher

KEY = bytes(range(32))


@given(st.binary(max_size=5000), st.integers(0, 2**63 - 1))
def test_round_trip_with_its_timestamp(data, timestamp):
    c = RaftCipher(KEY)
    token = c.encrypt_at_time(data, timestamp)
    other_end = RaftCipher(KEY)  # the peer: same key, its own nonce prefix
    assert other_end.extract_timestamp(token) == timestamp
    assert other_end.decrypt(token) == data


def test_the_message_is_sealed_not_only_signed():
    data = b"append_entries: /user/alice/secret-plans.parquet" * 4
    assert data[:16] not in RaftCipher(KEY).encrypt_at_time(data, 1)


def test_a_password_gives_the_same_key_on_every_replica_and_differs_from_another():
    a, b = RaftCipher.from_password("s3cret"), RaftCipher.from_password(b"s3cret")
    assert b.decrypt(a.encrypt_at_time(b"hello", 1)) == b"hello"
    with pytest.raises(CipherError):
        RaftCipher.from_password("other").decrypt(a.encrypt_at_time(b"hello", 1))
    with pytest.raises(ValueError):
        cipher.derive_key("")


def test_every_byte_flipped_is_refused():
    c = RaftCipher(KEY)
    token = c.encrypt_at_time(b"append_entries", 7)
    for i in range(len(token)):
        bad = bytearray(token)
        bad[i] ^= 0x01
        with pytest.raises(CipherError):
            c.decrypt(bytes(bad))


def test_short_or_foreign_tokens_are_refused_before_decrypting():
    c = RaftCipher(KEY)
    with pytest.raises(CipherError, match="too short"):
        c.extract_timestamp(b"\x01" * 20)
    token = c.encrypt_at_time(b"x", 3)
    fernet_like = b"\x80" + token[1:]  # a Fernet token starts with 0x80
    with pytest.raises(CipherError, match="version 128"):
        c.extract_timestamp(fernet_like)
    with pytest.raises(CipherError):
        c.decrypt(fernet_like)


def test_nonces_never_repeat_and_a_new_prefix_is_drawn_before_the_counter_wraps(monkeypatch):
    c = RaftCipher(KEY)
    header = struct.calcsize(">BQ")
    nonces = {c.encrypt_at_time(b"m", 0)[header : header + 12] for _ in range(1000)}
    assert len(nonces) == 1000
    monkeypatch.setattr(cipher, "_COUNTER_LIMIT", 3)
    c = RaftCipher(KEY)
    seen = [c.encrypt_at_time(b"m", 0)[header : header + 12] for _ in range(7)]
    assert len(set(seen)) == 7
    assert len({n[:8] for n in seen}) == 3  # 3, 3 and 1 messages under three prefixes
    assert all(int.from_bytes(n[8:], "big") < 3 for n in seen)
