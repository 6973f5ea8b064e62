"""Client cluster configuration: typed, frozen, validated once.

The file is TOML, found from an explicit path (``hactl --conf FILE``), else
``$HAFS_CONF``::

    default_nameservice = "ns1"          # optional when there is one
    [nameservices.ns1]
    namenodes = ["127.0.0.1:8020", "127.0.0.1:8021"]
    [client]                             # all optional
    user = "alice"                       # default: $HAFS_USER, else the login name
    umask = "022"
    replication = 0                      # 0: server default
    block_size = 0                       # 0: server default
    deadline_s = 60
    attempt_timeout_s = 20               # one RPC attempt; retries fill deadline_s

Layering: dataclass defaults, then the file; ``$HAFS_USER`` and the login name
only fill a ``user`` the file leaves out. Every error names the bad key.

Logical cluster names: ``load("prod")`` (and so ``hactl --conf prod``,
``$HAFS_CONF=prod``, ``Client.from_config("prod")``) reads the table ``[prod]``
of the user's cluster registry, ``$XDG_CONFIG_HOME/hafs/clusters.toml`` (default
``~/.config/hafs/clusters.toml``). Each table holds exactly what a cluster
config file holds, one level down::

    [prod]
    default_nameservice = "ns1"
    [prod.nameservices.ns1]
    namenodes = ["nn1.prod:8020", "nn2.prod:8020", "nn3.prod:8020"]
    [prod.client]
    user = "alice"

    [dev.nameservices.ns1]
    namenodes = ["127.0.0.1:8020"]

A ``str`` without a ``/`` and not ending in ``.toml`` is a cluster name when the
registry defines it, else a file path; a ``Path``, or a string with a ``/`` or a
``.toml`` suffix, is always a file path. Errors name the cluster and the file.

Imports: the standard library and ``hafs_api.errors`` only.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hafs_api.errors import InvalidArgument

ENV_CONF = "HAFS_CONF"
ENV_USER = "HAFS_USER"
ENV_XDG_CONFIG_HOME = "XDG_CONFIG_HOME"
CLUSTERS_FILE = Path("hafs", "clusters.toml")  # under the XDG config home
CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DEFAULT_NAMESERVICE = "ns1"


class ConfigError(InvalidArgument):
    """The client configuration is missing or invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class NameserviceConfig:
    name: str
    namenodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    user: str = ""
    umask: int = 0o022
    replication: int = 0
    block_size: int = 0
    deadline_s: float = 60.0
    attempt_timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class ClientConfig:
    nameservices: tuple[NameserviceConfig, ...]
    default_nameservice: str
    client: ClientSettings = field(default_factory=ClientSettings)
    source: Path | None = None

    def nameservice(self, name: str | None = None) -> NameserviceConfig:
        wanted = name or self.default_nameservice
        for ns in self.nameservices:
            if ns.name == wanted:
                return ns
        known = ", ".join(ns.name for ns in self.nameservices)
        raise ConfigError(f"unknown nameservice {wanted!r} (configured: {known})")

    def with_user(self, user: str | None) -> ClientConfig:
        """This config with ``user`` set (``None`` or empty: unchanged)."""
        return replace(self, client=replace(self.client, user=user)) if user else self


def default_user() -> str:
    return os.environ.get(ENV_USER) or getpass.getuser()


def load(path: str | os.PathLike[str] | None = None) -> ClientConfig:
    """Read the config from ``path`` (a file or a cluster name), else ``$HAFS_CONF``;
    ConfigError when neither is set."""
    chosen = path if path is not None else os.environ.get(ENV_CONF)
    if not chosen:
        raise ConfigError(f"no client configuration: pass --conf FILE or set ${ENV_CONF}")
    if isinstance(chosen, str) and _may_be_cluster_name(chosen):
        registry = clusters_file()
        if chosen in _read_registry(registry, missing_ok=True):
            return load_cluster(chosen)
        if not Path(chosen).exists():
            raise ConfigError(
                f"{chosen!r} is neither a cluster in {registry} nor a configuration file"
            )
    source = Path(chosen)
    data = _read_toml(source)
    try:
        return from_mapping(data, source=source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}") from None


def clusters_file() -> Path:
    """The cluster registry: ``$XDG_CONFIG_HOME/hafs/clusters.toml``, else under ``~/.config``."""
    home = os.environ.get(ENV_XDG_CONFIG_HOME)
    base = Path(home) if home and Path(home).is_absolute() else Path.home() / ".config"
    return base / CLUSTERS_FILE


def cluster_names() -> list[str]:
    """The clusters the registry defines (none when it does not exist)."""
    return list(_read_registry(clusters_file(), missing_ok=True))


def load_cluster(name: str) -> ClientConfig:
    """The config of cluster ``name`` in the registry; ConfigError naming it and the file."""
    registry = clusters_file()
    clusters = _read_registry(registry, missing_ok=True)
    if name not in clusters:
        known = ", ".join(clusters) or "none"
        raise ConfigError(f"no cluster {name!r} in {registry} (clusters: {known})")
    table = clusters[name]
    if not isinstance(table, Mapping):
        raise ConfigError(f"{registry}: {name}: expected a table [{name}]")
    try:
        return from_mapping(table, source=registry)
    except ConfigError as exc:
        raise ConfigError(f"{registry}: {name}.{exc.message}") from None


def _may_be_cluster_name(value: str) -> bool:
    return "/" not in value and not value.endswith(".toml") and bool(CLUSTER_NAME.fullmatch(value))


def _read_registry(registry: Path, *, missing_ok: bool) -> dict[str, Any]:
    if missing_ok and not registry.exists():
        return {}
    return _read_toml(registry)


def _read_toml(source: Path) -> dict[str, Any]:
    try:
        with source.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: client configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def from_addresses(
    addresses: Sequence[str], *, user: str | None = None, nameservice: str = DEFAULT_NAMESERVICE
) -> ClientConfig:
    """A one-nameservice config for ``addresses`` (``["host:port", ...]``)."""
    if isinstance(addresses, str):
        addresses = [addresses]
    data = {"nameservices": {nameservice: {"namenodes": list(addresses)}}}
    if user:
        data["client"] = {"user": user}
    return from_mapping(data)


def from_mapping(data: Mapping[str, Any], *, source: Path | None = None) -> ClientConfig:
    """Validate a parsed TOML document."""
    _no_unknown(data, {"default_nameservice", "nameservices", "client"}, "")
    nameservices = _nameservices(data.get("nameservices"))
    default = data.get("default_nameservice")
    if default is None:
        if len(nameservices) != 1:
            raise ConfigError("default_nameservice: required when there are several nameservices")
        default = nameservices[0].name
    if not isinstance(default, str) or default not in {ns.name for ns in nameservices}:
        raise ConfigError(f"default_nameservice: {default!r} is not a configured nameservice")
    settings = _settings(data.get("client", {}))
    if not settings.user:
        settings = replace(settings, user=default_user())
    return ClientConfig(tuple(nameservices), default, settings, source)


def _nameservices(raw: Any) -> list[NameserviceConfig]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("nameservices: expected at least one [nameservices.NAME] table")
    result = []
    for name, table in raw.items():
        key = f"nameservices.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{key}: expected a table")
        _no_unknown(table, {"namenodes"}, key)
        namenodes = table.get("namenodes")
        if not isinstance(namenodes, list) or not namenodes:
            raise ConfigError(f'{key}.namenodes: expected a non-empty list of "host:port"')
        for address in namenodes:
            check_address(address, f"{key}.namenodes")
        if len(set(namenodes)) != len(namenodes):
            raise ConfigError(f"{key}.namenodes: duplicate address")
        result.append(NameserviceConfig(name, tuple(namenodes)))
    return result


def check_address(address: Any, key: str) -> str:
    """Raise ConfigError unless ``address`` is ``host:port``."""
    if not isinstance(address, str):
        raise ConfigError(f'{key}: expected "host:port", got {address!r}')
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f'{key}: expected "host:port", got {address!r}')
    return address


def _settings(raw: Any) -> ClientSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError("client: expected a table")
    _no_unknown(raw, set(ClientSettings.__dataclass_fields__), "client")
    values: dict[str, Any] = {}
    if "user" in raw:
        user = raw["user"]
        if not isinstance(user, str) or not user.strip() or ":" in user:
            raise ConfigError(f"client.user: expected a user name, got {user!r}")
        values["user"] = user
    if "umask" in raw:
        values["umask"] = parse_umask(raw["umask"])
    for key in ("replication", "block_size"):
        if key in raw:
            values[key] = _non_negative_int(raw[key], f"client.{key}")
    for key in ("deadline_s", "attempt_timeout_s"):
        if key in raw:
            values[key] = _positive_number(raw[key], f"client.{key}")
    return ClientSettings(**values)


def parse_umask(value: Any, key: str = "client.umask") -> int:
    if (
        isinstance(value, str)
        and 1 <= len(value) <= 4
        and all(ch in "01234567" for ch in value)
        and int(value, 8) <= 0o777
    ):
        return int(value, 8)
    raise ConfigError(f'{key}: expected octal like "022", got {value!r}')


def _non_negative_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: expected an integer >= 0, got {value!r}")
    return value


def _positive_number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{key}: expected a number of seconds > 0, got {value!r}")
    return float(value)


def _no_unknown(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"{where}: unknown key (expected one of {', '.join(sorted(known))})")


__all__ = [
    "ClientConfig",
    "ClientSettings",
    "ConfigError",
    "NameserviceConfig",
    "cluster_names",
    "clusters_file",
    "from_addresses",
    "from_mapping",
    "load",
    "load_cluster",
]
