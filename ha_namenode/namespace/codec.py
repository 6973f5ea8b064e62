"""Explicit, versioned encoding of commands, envelopes and results. Never pickle.

A value encodes to JSON: a registered dataclass becomes ``{"_": "Name", field: ...}``,
tuples become lists, enums their values, bytes ``{"_": "bytes", "b64": "..."}``
(standard base64). Decoding accepts only registered class names, so a journal
entry can never construct an arbitrary object.

A batch (one log entry) is a frame: ``MAGIC``, the CRC-32 of the body (4 bytes,
big-endian), then the body ``{"v": FORMAT_VERSION, "e": [envelope, ...]}``. The
Raft journal keeps no checksum of its own, so the frame is what tells a
corrupted entry from a valid one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
import typing
import zlib
from typing import Any

from ha_namenode.namespace import commands, model
from hafs_api import mounts

FORMAT_VERSION = 1
MAGIC = b"hafs"
BYTES = "bytes"  # the type name of encoded bytes (no class may be registered by it)

_REGISTRY: dict[str, type] = {}
_ENUM_FIELDS: dict[type, dict[str, type[enum.Enum]]] = {}


class CodecError(ValueError):
    """Bytes that are not a valid encoding of a registered value."""


def register(cls: type) -> type:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    if cls.__name__ == BYTES:
        raise TypeError(f"{BYTES!r} is the codec's own name for bytes")
    hints = typing.get_type_hints(cls)
    _ENUM_FIELDS[cls] = {
        name: hint
        for name, hint in hints.items()
        if isinstance(hint, type) and issubclass(hint, enum.Enum)
    }
    _REGISTRY[cls.__name__] = cls
    return cls


for _cls in (
    *commands.COMMANDS,
    commands.BlockRef,
    commands.Envelope,
    model.Caller,
    model.FileStatus,
    model.LocatedBlock,
    model.Listing,
    model.BlockLocations,
    model.ContentSummary,
    model.AppendResult,
    model.DeleteResult,
    model.ExpungeResult,
    model.LeaseRecoveryResult,
    model.ReportResult,
    model.Done,
    model.Failed,
    model.SafeMode,  # the result of SetSafeMode
    mounts.Mount,  # results of the mount commands
    mounts.MountTable,
):
    register(_cls)


def to_plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return {"_": BYTES, "b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, int | float):
        return value
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    cls = type(value)
    if cls.__name__ in _REGISTRY and _REGISTRY[cls.__name__] is cls:
        out: dict[str, Any] = {"_": cls.__name__}
        for field in dataclasses.fields(value):
            out[field.name] = to_plain(getattr(value, field.name))
        return out
    raise TypeError(f"cannot encode {cls.__name__}")


def from_plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(from_plain(v) for v in value)
    if isinstance(value, dict):
        name = value.get("_")
        if name == BYTES:
            return _bytes_from(value)
        cls = _REGISTRY.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CodecError(f"unknown type {name!r}")
        enums = _ENUM_FIELDS[cls]
        kwargs = {}
        for key, raw in value.items():
            if key == "_":
                continue
            item = from_plain(raw)
            if key in enums:
                try:
                    item = enums[key](item)
                except ValueError:
                    raise CodecError(f"bad value {raw!r} for {name}.{key}") from None
            kwargs[key] = item
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise CodecError(f"bad fields for {name}: {e}") from None
    return value


def _bytes_from(value: dict[str, Any]) -> bytes:
    text = value.get("b64")
    if set(value) != {"_", "b64"} or not isinstance(text, str):
        raise CodecError(f"bad bytes value {value!r}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CodecError(f"bad base64 in a bytes value: {text[:40]!r}") from None


def dumps(value: Any) -> bytes:
    return json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes) -> Any:
    try:
        plain = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CodecError(f"not JSON: {e}") from None
    try:
        return from_plain(plain)
    except RecursionError:
        raise CodecError("value nested too deeply") from None


def frame(body: bytes) -> bytes:
    return MAGIC + zlib.crc32(body).to_bytes(4, "big") + body


def unframe(data: bytes) -> bytes:
    head = len(MAGIC) + 4
    if len(data) < head or not data.startswith(MAGIC):
        raise CodecError("not a hafs log entry (no frame header)")
    body = data[head:]
    if zlib.crc32(body) != int.from_bytes(data[len(MAGIC) : head], "big"):
        raise CodecError("log entry checksum mismatch: the entry is corrupt")
    return body


def encode_batch(envelopes: list[commands.Envelope]) -> bytes:
    body = {"v": FORMAT_VERSION, "e": [to_plain(e) for e in envelopes]}
    return frame(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def decode_batch(data: bytes) -> list[commands.Envelope]:
    return decode_body(unframe(data))


def decode_body(data: bytes) -> list[commands.Envelope]:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CodecError(f"not JSON: {e}") from None
    if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
        version = body.get("v") if isinstance(body, dict) else body
        raise CodecError(f"unsupported batch format {version!r}")
    items = body.get("e", [])
    if not isinstance(items, list):
        raise CodecError(f"batch entries are a {type(items).__name__}, not a list")
    try:
        envelopes = [from_plain(e) for e in items]
    except RecursionError:
        raise CodecError("batch nested too deeply") from None
    for env in envelopes:
        if not isinstance(env, commands.Envelope):
            raise CodecError(f"batch item is a {type(env).__name__}, not an Envelope")
    return envelopes
