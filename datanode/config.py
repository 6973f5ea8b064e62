"""Typed DataNode configuration: defaults, then a TOML file, then the environment.

Loaded and validated once at start-up; every error names the bad key::

    [datanode]          rpc_address, data_dirs, rack, capacity and reserve, heartbeat
                        and report intervals, transfer throttle, scanner pace, ...
    [nameservices.NS]   one table per nameservice (its block pool is named NS):
                        namenodes (client RPC addresses), block_token_secret
    [metrics]           address: "host:port" of the Prometheus endpoint /metrics
                        (empty: none)

Environment overrides use ``HAFS__DATANODE__KEY`` (for example
``HAFS__DATANODE__RACK=/rack2``); values are parsed as TOML scalars, falling
back to plain strings. The block token key of a nameservice is its
``block_token_secret`` encoded as UTF-8, as on its NameNodes.

Imports: the standard library and ``hafs_api.settings``.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field
from typing import Any

from hafs_api import settings
from hafs_api.settings import ConfigError, MetricsSection, parse_address, section

__all__ = ["ConfigError", "DataNodeConfig", "DataNodeSection", "NameserviceSection"]

MiB = 1 << 20


@dataclass(frozen=True)
class DataNodeSection:
    rpc_address: str = "127.0.0.1:9866"  # port 0: pick one; the bound address is registered
    data_dirs: tuple[str, ...] = ("./data/dn1",)
    rack: str = "/default-rack"
    capacity_bytes: int = 0  # 0: the disks' size
    reserved_bytes: int = 0
    heartbeat_interval_s: float = 1.0
    full_report_interval_s: float = 3600.0
    max_transfers: int = 4  # replication copies running at once
    scan_period_s: float = 86_400.0
    scan_bytes_per_s: int = 8 * MiB
    rpc_workers: int = 32
    packet_bytes: int = 1 * MiB


@dataclass(frozen=True)
class NameserviceSection:
    namenodes: tuple[str, ...] = ()
    block_token_secret: str = ""

    @property
    def token_key(self) -> bytes:
        return self.block_token_secret.encode("utf-8")


@dataclass(frozen=True)
class DataNodeConfig:
    datanode: DataNodeSection = field(default_factory=DataNodeSection)
    nameservices: dict[str, NameserviceSection] = field(default_factory=dict)
    metrics: MetricsSection = field(default_factory=MetricsSection)

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, env: typing.Mapping[str, str] | None = None
    ) -> DataNodeConfig:
        return settings.load(cls.from_dict, validate, path, env)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataNodeConfig:
        unknown = set(data) - {"datanode", "nameservices", "metrics"}
        if unknown:
            raise ConfigError(f"{sorted(unknown)[0]}: unknown section")
        nameservices = data.get("nameservices", {})
        if not isinstance(nameservices, dict):
            raise ConfigError("nameservices: expected a table of [nameservices.NAME] tables")
        return cls(
            datanode=section(
                DataNodeSection, _lists(data.get("datanode", {}), "data_dirs"), "datanode"
            ),
            nameservices={
                name: section(NameserviceSection, _lists(ns, "namenodes"), f"nameservices.{name}")
                for name, ns in nameservices.items()
            },
            metrics=section(MetricsSection, data.get("metrics", {}), "metrics"),
        )


def _lists(raw: Any, key: str) -> Any:
    """TOML arrays arrive as lists; the frozen sections hold tuples of strings."""
    if not isinstance(raw, dict) or key not in raw or not isinstance(raw[key], list):
        return raw
    items = raw[key]
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{key}: expected a list of strings, got {item!r} in it")
    return {**raw, key: tuple(items)}


def validate(config: DataNodeConfig) -> None:
    node = config.datanode
    parse_address(node.rpc_address, "datanode.rpc_address")
    checks = [
        ("datanode.data_dirs", bool(node.data_dirs) and all(node.data_dirs), "list a directory"),
        ("datanode.rack", node.rack.startswith("/"), "must start with '/'"),
        ("datanode.capacity_bytes", node.capacity_bytes >= 0, "must not be negative"),
        ("datanode.reserved_bytes", node.reserved_bytes >= 0, "must not be negative"),
        ("datanode.heartbeat_interval_s", node.heartbeat_interval_s > 0, "must be positive"),
        ("datanode.full_report_interval_s", node.full_report_interval_s > 0, "must be positive"),
        ("datanode.max_transfers", node.max_transfers >= 1, "must be at least 1"),
        ("datanode.scan_period_s", node.scan_period_s > 0, "must be positive"),
        ("datanode.scan_bytes_per_s", node.scan_bytes_per_s >= 1, "must be positive"),
        ("datanode.rpc_workers", node.rpc_workers >= 2, "must be at least 2"),
        (
            "datanode.packet_bytes",
            4096 <= node.packet_bytes <= 8 * MiB,
            "must be between 4096 and 8 MiB",
        ),
    ]
    for key, ok, why in checks:
        if not ok:
            raise ConfigError(f"{key}: {why}")
    if len(set(node.data_dirs)) != len(node.data_dirs):
        raise ConfigError("datanode.data_dirs: lists a directory twice")
    if not config.nameservices:
        raise ConfigError("nameservices: configure at least one [nameservices.NAME] table")
    for name, ns in config.nameservices.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"nameservices.{name}: expected letters, digits, '-' or '_'")
        if not ns.namenodes:
            raise ConfigError(f"nameservices.{name}.namenodes: list at least one address")
        for address in ns.namenodes:
            parse_address(address, f"nameservices.{name}.namenodes")
        if not ns.block_token_secret:
            raise ConfigError(f"nameservices.{name}.block_token_secret: must not be empty")
    settings.validate_metrics(config.metrics)
