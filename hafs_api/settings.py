"""Typed, layered daemon settings: frozen dataclass sections, a TOML file, the environment.

Shared by the NameNode and DataNode configurations so both read and validate
the same way, and every error names the bad key:

* ``load_toml(path)`` reads the file (``ConfigError`` if missing or invalid);
* ``apply_env(data, env)`` overlays ``HAFS__SECTION__KEY`` (and
  ``HAFS__SECTION__TABLE__KEY``) variables, parsed as
  TOML scalars and falling back to plain strings;
* ``section(cls, raw, name)`` builds one frozen dataclass, refusing unknown
  keys and values of the wrong type;
* ``load(from_dict, validate, path, env)`` does all three and validates once;
* ``MetricsSection`` is the ``[metrics]`` table both daemons share.

Imports: the standard library only.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown or invalid; the message names the key."""


@dataclasses.dataclass(frozen=True)
class MetricsSection:
    """``[metrics]``: where the daemon serves Prometheus metrics (``hafs_api.metrics``)."""

    address: str = ""  # "host:port" of the HTTP endpoint /metrics; empty: no endpoint


def validate_metrics(metrics: MetricsSection) -> None:
    if metrics.address:
        parse_address(metrics.address, "metrics.address")


def load_toml(path: str | os.PathLike | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def load(
    from_dict: typing.Callable[[dict[str, Any]], Any],
    validate: typing.Callable[[Any], None],
    path: str | os.PathLike | None,
    env: typing.Mapping[str, str] | None,
):
    """File, then environment (``os.environ`` when ``env`` is None), then validation."""
    data = load_toml(path)
    apply_env(data, os.environ if env is None else env)
    config = from_dict(data)
    validate(config)
    return config


def wait_for_stop_signal() -> None:
    """Block the main thread until SIGTERM or SIGINT (a daemon's clean stop)."""
    import signal
    import threading

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()


def section(cls: type, raw: Any, name: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key")
        values[key] = _coerce(value, hints[key], f"{name}.{key}")
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = hint if isinstance(hint, type) else None
    if isinstance(hint, types.GenericAlias):
        expected = typing.get_origin(hint)
    if expected is tuple and isinstance(value, list):  # TOML has arrays, not tuples
        value = tuple(value)
    if expected is not None and not (
        isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    ):
        raise ConfigError(
            f"{key}: expected {getattr(expected, '__name__', expected)}, got {value!r}"
        )
    return value


def apply_env(data: dict[str, Any], env: typing.Mapping[str, str]) -> None:
    """Overlay ``HAFS__SECTION__KEY`` and, for tables of tables such as
    ``[nameservices.ns1]``, ``HAFS__SECTION__TABLE__KEY``. Names are case-insensitive:
    TABLE matches a table of the file whatever its case (else it is taken lower case)."""
    for name, text in env.items():
        if not name.startswith("HAFS__"):
            continue
        parts = name[len("HAFS__") :].split("__")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError(f"{name}: expected HAFS__SECTION__KEY or HAFS__SECTION__TABLE__KEY")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        table = data.setdefault(parts[0].lower(), {})
        if not isinstance(table, dict):
            raise ConfigError(f"{name}: {parts[0].lower()} is not a table")
        if len(parts) == 3:
            inner = next((k for k in table if k.lower() == parts[1].lower()), parts[1].lower())
            table = table.setdefault(inner, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{name}: {parts[0].lower()}.{inner} is not a table")
        table[parts[-1].lower()] = value


def parse_address(address: str, key: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f'{key}: expected "host:port", got {address!r}')
    return host, int(port)
