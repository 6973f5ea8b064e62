"""The Raft transport's cipher: AES-GCM in place of pysyncobj's Fernet.

pysyncobj encrypts and authenticates every message between replicas with the
``password`` (without one it would unpickle network input). Its Fernet is
AES-CBC plus HMAC assembled in Python: 13 to 23 us a message here, and under a
metadata load the leader spent 15 to 22 % of its GIL time in it (py-spy
--gil). AES-GCM from the same ``cryptography`` package is one C call: under a
microsecond for the same messages, with the same guarantees (confidential,
authenticated, a wrong password or a flipped bit is refused).

``RaftCipher`` has the three methods pysyncobj's connection calls:
``encrypt_at_time``, ``extract_timestamp`` and ``decrypt``. A token is::

    version (1 byte) | timestamp (8, big-endian) | nonce (12) | ciphertext and tag

The version and timestamp are authenticated as associated data. The nonce is
an 8-byte random prefix drawn per cipher and a 4-byte counter; the prefix is
drawn again before the counter wraps, so a key never sees a nonce twice
(two ciphers share a prefix with odds of about n^2 / 2^65).

All replicas of a nameservice must use the same cipher: a group cannot be
upgraded from a Fernet version one NameNode at a time.

Imports: ``cryptography`` only.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
_HEADER = struct.Struct(">BQ")  # version, timestamp
_NONCE = 12
_PREFIX = 8
_COUNTER_LIMIT = 1 << 32
# Not pysyncobj's salt: the same password must not give Fernet and AES-GCM one key.
_SALT = b"hafs raft transport, AES-GCM v1"
_ITERATIONS = 100_000


class CipherError(ValueError):
    """A token that is malformed, of another version, or not made with this key."""


def derive_key(password: str | bytes) -> bytes:
    secret = password.encode() if isinstance(password, str) else password
    if not secret:
        raise ValueError("the Raft password must not be empty")
    return hashlib.pbkdf2_hmac("sha256", secret, _SALT, _ITERATIONS, dklen=32)


class RaftCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._lock = threading.Lock()
        self._new_prefix()

    @classmethod
    def from_password(cls, password: str | bytes) -> RaftCipher:
        return cls(derive_key(password))

    def _new_prefix(self) -> None:
        self._prefix = os.urandom(_PREFIX)
        self._counter = itertools.count()

    def _nonce(self) -> bytes:
        with self._lock:  # pysyncobj sends from its tick thread and from callers' threads
            n = next(self._counter)
            if n >= _COUNTER_LIMIT:
                self._new_prefix()
                n = next(self._counter)
            return self._prefix + n.to_bytes(_NONCE - _PREFIX, "big")

    def encrypt_at_time(self, data: bytes, timestamp: int) -> bytes:
        header = _HEADER.pack(VERSION, timestamp)
        nonce = self._nonce()
        return header + nonce + self._aead.encrypt(nonce, data, header)

    def extract_timestamp(self, token: bytes) -> int:
        """The sender's timestamp, not yet authenticated (``decrypt`` does that)."""
        _version, timestamp = self._header(token)
        return timestamp

    def decrypt(self, token: bytes) -> bytes:
        self._header(token)
        start = _HEADER.size
        nonce = bytes(token[start : start + _NONCE])
        try:
            return self._aead.decrypt(nonce, bytes(token[start + _NONCE :]), bytes(token[:start]))
        except Exception as e:  # cryptography's InvalidTag: wrong key or altered bytes
            raise CipherError("a Raft message failed authentication") from e

    @staticmethod
    def _header(token: bytes) -> tuple[int, int]:
        if len(token) < _HEADER.size + _NONCE + 16:
            raise CipherError(f"a Raft message of {len(token)} bytes is too short")
        version, timestamp = _HEADER.unpack_from(token)
        if version != VERSION:
            raise CipherError(f"a Raft message of cipher version {version}, not {VERSION}")
        return version, timestamp
