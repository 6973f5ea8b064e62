"""Block access tokens: an HMAC over (block pool, block, modes, expiry, term).

The NameNode leader issues them with every block location and command; a
DataNode accepts a request only with a valid token for that block and mode.
The key is shared by a nameservice and its DataNodes (``block_token_secret``
in both configurations). The token is a serialized ``BlockToken`` message whose
``mac`` is HMAC-SHA256 of the same message serialized with ``mac`` empty.

Imports: the standard library and the generated ``common_pb2``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from hafs_api.errors import AccessDenied
from hafs_api.v1 import common_pb2

READ = "READ"
WRITE = "WRITE"
COPY = "COPY"  # DataNode-to-DataNode replication, both ends
RECOVER = "RECOVER"  # the NameNode's lease and block recovery
MODES = (READ, WRITE, COPY, RECOVER)
DEFAULT_LIFETIME_S = 600.0


def _mac(key: bytes, token: common_pb2.BlockToken) -> bytes:
    unsigned = common_pb2.BlockToken()
    unsigned.CopyFrom(token)
    unsigned.mac = b""
    return hmac.new(key, unsigned.SerializeToString(deterministic=True), hashlib.sha256).digest()


@dataclass(frozen=True)
class TokenIssuer:
    """Mints tokens for one nameservice's block pool."""

    key: bytes
    block_pool: str
    lifetime_s: float = DEFAULT_LIFETIME_S

    def issue(
        self, block_id: int, modes: tuple[str, ...], term: int, now: float | None = None
    ) -> bytes:
        if not self.key:
            return b""  # no key configured: DataNodes will refuse, and say why
        expiry = int(((time.time() if now is None else now) + self.lifetime_s) * 1000)
        token = common_pb2.BlockToken(
            block_pool=self.block_pool, block_id=block_id, modes=modes, expiry_ms=expiry, term=term
        )
        token.mac = _mac(self.key, token)
        return token.SerializeToString(deterministic=True)


def verify(
    key: bytes,
    raw: bytes,
    block_pool: str,
    block_id: int,
    mode: str,
    now: float | None = None,
) -> common_pb2.BlockToken:
    """The token, if it is valid for (pool, block, mode) now; ``AccessDenied`` otherwise."""
    if not raw:
        raise AccessDenied(f"no block access token for block {block_id}")
    if not key:
        raise AccessDenied(f"this DataNode has no block token key for pool {block_pool}")
    token = common_pb2.BlockToken()
    try:
        token.ParseFromString(raw)
    except DecodeError:
        raise AccessDenied(f"block access token for block {block_id} is malformed") from None
    if not hmac.compare_digest(token.mac, _mac(key, token)):
        raise AccessDenied(f"block access token for block {block_id} is forged")
    if token.block_pool != block_pool or token.block_id != block_id:
        raise AccessDenied(
            f"block access token is for {token.block_pool}:{token.block_id}, "
            f"not {block_pool}:{block_id}"
        )
    if mode not in token.modes:
        raise AccessDenied(f"block access token for block {block_id} does not allow {mode}")
    if token.expiry_ms < int((time.time() if now is None else now) * 1000):
        raise AccessDenied(f"block access token for block {block_id} has expired")
    return token
