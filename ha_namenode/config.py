"""Typed NameNode configuration: defaults, then a TOML file, then the environment.

Loaded and validated once at start-up; every error names the bad key::

    [namenode]   id, nameservice, rpc_address, data_dir, rpc_workers, ...
    [namespace]  superuser, supergroup, replication and block-size policy,
                 trash and lease timings, retry-cache TTL, user policy, XAttr limits
    [users]      static group mapping: alice = ["users", "ml"]
    [members.ID] the nameservice's NameNodes: rpc_address, raft_address (none: a
                 single NameNode without Raft)
    [raft]       password (required with members) and timeouts
    [blocks]     block token secret, DataNode liveness, replication throttles,
                 maintenance minimum, the balancer's default throttles
    [federation] default_nameservice (empty: not federated), push and RPC timings;
                 [federation.nameservices.NAME] namenodes = ["host:port", ...] for
                 every nameservice of the federation, this one included
    [metrics]    address: "host:port" of the Prometheus endpoint /metrics (empty: none)

Environment overrides use ``HAFS__SECTION__KEY`` (for example
``HAFS__NAMENODE__RPC_ADDRESS=127.0.0.1:9000``); values are parsed as TOML
scalars, falling back to plain strings.
"""

from __future__ import annotations

import getpass
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ha_namenode.consensus.base import RaftSettings
from hafs_api import settings
from hafs_api.readiness import DEFAULT_MAX_APPLY_LAG
from hafs_api.settings import ConfigError, MetricsSection, parse_address, section

__all__ = ["ConfigError", "NameNodeConfig", "parse_address"]

MiB = 1 << 20


@dataclass(frozen=True)
class NodeSection:
    id: str = "nn1"
    nameservice: str = "ns1"
    rpc_address: str = "127.0.0.1:8020"
    data_dir: str = "./data/nn1"
    rpc_workers: int = 32
    max_message_bytes: int = 16 * MiB
    sqlite_synchronous: str = "FULL"  # FULL: an acknowledged change survives power loss
    # hafs.ready: SERVING only with at most this many committed entries left to apply
    ready_max_lag: int = DEFAULT_MAX_APPLY_LAG


@dataclass(frozen=True)
class NamespaceSection:
    superuser: str = ""  # empty: the OS user running the NameNode (as HDFS)
    supergroup: str = "supergroup"
    default_replication: int = 3
    max_replication: int = 512
    default_block_size: int = 128 * MiB
    min_block_size: int = 1 * MiB
    bytes_per_checksum: int = 512
    listing_limit: int = 1000
    trash_interval_s: float = 86_400.0  # 0 disables trash
    trash_checkpoint_interval_s: float = 0.0  # 0: the trash interval
    lease_soft_limit_s: float = 60.0
    lease_hard_limit_s: float = 1_200.0
    retry_cache_ttl_s: float = 600.0
    allow_unknown_users: bool = True  # False: only OS users and [users] may call
    max_xattr_size: int = 16384  # bytes of an XAttr's name (after its namespace) and value
    max_xattrs_per_inode: int = 32

    @property
    def effective_superuser(self) -> str:
        return self.superuser or getpass.getuser()

    @property
    def checkpoint_interval_s(self) -> float:
        return self.trash_checkpoint_interval_s or self.trash_interval_s


@dataclass(frozen=True)
class BlocksSection:
    """DataNodes and replicas: tokens, liveness, replication (docs/design.md)."""

    token_secret: str = ""  # shared with the DataNodes; empty: DataNodes refuse every request
    token_lifetime_s: float = 600.0
    stale_after_s: float = 5.0  # no heartbeat this long: not chosen as a target
    dead_after_s: float = 30.0  # no heartbeat this long: its replicas are re-replicated
    min_replication: int = 1  # finalized replicas each block needs before complete succeeds
    replication_streams: int = 2  # copies in flight from (and to) one DataNode
    replication_timeout_s: float = 60.0  # a copy not reported by then is planned again
    monitor_interval_s: float = 1.0
    deletes_per_heartbeat: int = 1000
    blocks_per_pass: int = 100_000  # the replication monitor's scan budget per pass
    # Live replicas each block keeps on in-service nodes while others are in maintenance
    # (HDFS dfs.namenode.maintenance.replication.min).
    maintenance_min_replicas: int = 1
    # The balancer (hactl balancer): bytes per second of moves the leader starts with one
    # DataNode as source or target, and moves in flight per DataNode (the defaults of
    # StartBalancer's bandwidth and max_concurrent_moves).
    balancer_bandwidth_bytes_per_s: int = 100 * MiB
    balancer_max_concurrent_moves: int = 5


@dataclass(frozen=True)
class MemberSection:
    rpc_address: str = ""
    raft_address: str = ""


@dataclass(frozen=True)
class NameserviceSection:
    """One nameservice of the federation: its NameNodes' client RPC addresses."""

    namenodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FederationSection:
    """Several nameservices joined by a mount table (docs/design.md, "Federation").

    ``default_nameservice`` owns every path no mount matches, and its Raft group
    holds the authoritative mount table. Empty: no federation; this NameNode's
    nameservice owns every path and mount versions in requests are ignored.
    """

    default_nameservice: str = ""
    nameservices: dict[str, NameserviceSection] = field(default_factory=dict)
    push_interval_s: float = 1.0  # the authority's leader re-pushes to lagging nameservices
    rpc_timeout_s: float = 2.0  # per call to another nameservice's NameNode

    @property
    def enabled(self) -> bool:
        return bool(self.default_nameservice)


@dataclass(frozen=True)
class NameNodeConfig:
    namenode: NodeSection = field(default_factory=NodeSection)
    namespace: NamespaceSection = field(default_factory=NamespaceSection)
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    members: dict[str, MemberSection] = field(default_factory=dict)
    raft: RaftSettings = field(default_factory=RaftSettings)
    blocks: BlocksSection = field(default_factory=BlocksSection)
    federation: FederationSection = field(default_factory=FederationSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)

    @property
    def replicated(self) -> bool:
        return bool(self.members)

    @property
    def data_path(self) -> Path:
        return Path(self.namenode.data_dir)

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, env: typing.Mapping[str, str] | None = None
    ) -> NameNodeConfig:
        return settings.load(cls.from_dict, validate, path, env)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NameNodeConfig:
        known = {
            "namenode",
            "namespace",
            "users",
            "members",
            "raft",
            "blocks",
            "federation",
            "metrics",
        }
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{sorted(unknown)[0]}: unknown section")
        users = data.get("users", {})
        if not isinstance(users, dict):
            raise ConfigError("users: expected a table of user = [groups]")
        mapping: dict[str, tuple[str, ...]] = {}
        for user, groups in users.items():
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise ConfigError(f"users.{user}: expected a list of group names")
            mapping[user] = tuple(groups)
        members = data.get("members", {})
        if not isinstance(members, dict):
            raise ConfigError("members: expected a table of [members.ID] tables")
        return cls(
            namenode=section(NodeSection, data.get("namenode", {}), "namenode"),
            namespace=section(NamespaceSection, data.get("namespace", {}), "namespace"),
            users=mapping,
            members={
                node_id: section(MemberSection, member, f"members.{node_id}")
                for node_id, member in members.items()
            },
            raft=section(RaftSettings, data.get("raft", {}), "raft"),
            blocks=section(BlocksSection, data.get("blocks", {}), "blocks"),
            federation=_federation(data.get("federation", {})),
            metrics=section(MetricsSection, data.get("metrics", {}), "metrics"),
        )


def _federation(raw: Any) -> FederationSection:
    if not isinstance(raw, dict):
        raise ConfigError("federation: expected a table")
    raw = dict(raw)
    services = raw.pop("nameservices", {})
    if not isinstance(services, dict):
        raise ConfigError("federation.nameservices: expected [federation.nameservices.NAME] tables")
    base = section(FederationSection, raw, "federation")
    return FederationSection(
        default_nameservice=base.default_nameservice,
        nameservices={
            name: section(NameserviceSection, ns, f"federation.nameservices.{name}")
            for name, ns in services.items()
        },
        push_interval_s=base.push_interval_s,
        rpc_timeout_s=base.rpc_timeout_s,
    )


def _check_name(key: str, value: str) -> None:
    if not value or not value.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{key}: expected letters, digits, '-' or '_', got {value!r}")


def validate(config: NameNodeConfig) -> None:
    node, ns = config.namenode, config.namespace
    _check_name("namenode.id", node.id)
    _check_name("namenode.nameservice", node.nameservice)
    parse_address(node.rpc_address, "namenode.rpc_address")
    if not node.data_dir:
        raise ConfigError("namenode.data_dir: must not be empty")
    checks = [
        ("namenode.rpc_workers", node.rpc_workers >= 1, "must be at least 1"),
        (
            "namenode.max_message_bytes",
            node.max_message_bytes >= 64 * 1024,
            "must be at least 65536",
        ),
        (
            "namenode.sqlite_synchronous",
            node.sqlite_synchronous in ("OFF", "NORMAL", "FULL", "EXTRA"),
            "must be OFF, NORMAL, FULL or EXTRA",
        ),
        ("namenode.ready_max_lag", node.ready_max_lag >= 0, "must not be negative"),
        ("namespace.max_replication", 1 <= ns.max_replication <= 32767, "must be 1..32767"),
        (
            "namespace.default_replication",
            1 <= ns.default_replication <= ns.max_replication,
            "must be between 1 and namespace.max_replication",
        ),
        ("namespace.bytes_per_checksum", ns.bytes_per_checksum >= 1, "must be positive"),
        (
            "namespace.min_block_size",
            ns.min_block_size >= ns.bytes_per_checksum
            and ns.min_block_size % ns.bytes_per_checksum == 0,
            "must be a positive multiple of namespace.bytes_per_checksum",
        ),
        (
            "namespace.default_block_size",
            ns.default_block_size >= ns.min_block_size
            and ns.default_block_size % ns.bytes_per_checksum == 0,
            "must be at least namespace.min_block_size and a multiple of bytes_per_checksum",
        ),
        ("namespace.listing_limit", 1 <= ns.listing_limit <= 1000, "must be 1..1000"),
        ("namespace.trash_interval_s", ns.trash_interval_s >= 0, "must not be negative"),
        (
            "namespace.trash_checkpoint_interval_s",
            0 <= ns.trash_checkpoint_interval_s <= max(ns.trash_interval_s, 0),
            "must be between 0 and namespace.trash_interval_s",
        ),
        ("namespace.lease_soft_limit_s", ns.lease_soft_limit_s > 0, "must be positive"),
        (
            "namespace.lease_hard_limit_s",
            ns.lease_hard_limit_s > ns.lease_soft_limit_s,
            "must be greater than namespace.lease_soft_limit_s",
        ),
        ("namespace.retry_cache_ttl_s", ns.retry_cache_ttl_s > 0, "must be positive"),
        ("namespace.supergroup", bool(ns.supergroup), "must not be empty"),
        ("namespace.max_xattr_size", 1 <= ns.max_xattr_size <= 32768, "must be 1..32768"),
        ("namespace.max_xattrs_per_inode", ns.max_xattrs_per_inode >= 0, "must not be negative"),
        ("blocks.stale_after_s", config.blocks.stale_after_s > 0, "must be positive"),
        (
            "blocks.dead_after_s",
            config.blocks.dead_after_s > config.blocks.stale_after_s,
            "must exceed blocks.stale_after_s",
        ),
        (
            "blocks.min_replication",
            1 <= config.blocks.min_replication <= ns.default_replication,
            "must be between 1 and namespace.default_replication",
        ),
        ("blocks.replication_streams", config.blocks.replication_streams >= 1, "must be >= 1"),
        ("blocks.token_lifetime_s", config.blocks.token_lifetime_s > 0, "must be positive"),
        ("blocks.monitor_interval_s", config.blocks.monitor_interval_s > 0, "must be positive"),
        (
            "blocks.maintenance_min_replicas",
            1 <= config.blocks.maintenance_min_replicas <= ns.default_replication,
            "must be between 1 and namespace.default_replication",
        ),
        (
            "blocks.balancer_bandwidth_bytes_per_s",
            config.blocks.balancer_bandwidth_bytes_per_s >= 1,
            "must be positive",
        ),
        (
            "blocks.balancer_max_concurrent_moves",
            config.blocks.balancer_max_concurrent_moves >= 1,
            "must be at least 1",
        ),
    ]
    for key, ok, why in checks:
        if not ok:
            raise ConfigError(f"{key}: {why}")
    _validate_members(config)
    _validate_federation(config)
    settings.validate_metrics(config.metrics)


def _validate_federation(config: NameNodeConfig) -> None:
    fed = config.federation
    if not fed.enabled:
        if fed.nameservices:
            raise ConfigError(
                "federation.default_nameservice: required when [federation.nameservices] "
                "lists nameservices"
            )
        return
    _check_name("federation.default_nameservice", fed.default_nameservice)
    for name, service in fed.nameservices.items():
        _check_name(f"federation.nameservices.{name}", name)
        key = f"federation.nameservices.{name}.namenodes"
        if not service.namenodes:
            raise ConfigError(f"{key}: list at least one NameNode client address")
        for address in service.namenodes:
            if not isinstance(address, str):
                raise ConfigError(f'{key}: expected "host:port" strings, got {address!r}')
            parse_address(address, key)
    listed = sorted(fed.nameservices)
    if fed.default_nameservice not in fed.nameservices:
        raise ConfigError(
            f"federation.default_nameservice: {fed.default_nameservice!r} is not among "
            f"[federation.nameservices] {listed}"
        )
    if config.namenode.nameservice not in fed.nameservices:
        raise ConfigError(
            f"federation.nameservices: this NameNode's nameservice "
            f"{config.namenode.nameservice!r} is not among {listed}"
        )
    if not fed.push_interval_s > 0:
        raise ConfigError("federation.push_interval_s: must be positive")
    if not fed.rpc_timeout_s > 0:
        raise ConfigError("federation.rpc_timeout_s: must be positive")


def _validate_members(config: NameNodeConfig) -> None:
    if not config.members:
        return
    me = config.namenode.id
    if me not in config.members:
        raise ConfigError(f"members: this NameNode ({me}) is not among {sorted(config.members)}")
    for node_id, member in config.members.items():
        parse_address(member.rpc_address, f"members.{node_id}.rpc_address")
        parse_address(member.raft_address, f"members.{node_id}.raft_address")
    if not config.raft.password:
        raise ConfigError("raft.password: required when [members] lists a Raft group")
    r = config.raft
    if not r.min_timeout_s > 3 * r.append_entries_period_s:
        raise ConfigError("raft.min_timeout_s: must exceed 3 * raft.append_entries_period_s")
    if not r.max_timeout_s > r.min_timeout_s:
        raise ConfigError("raft.max_timeout_s: must exceed raft.min_timeout_s")
    if not r.connection_timeout_s >= r.max_timeout_s:
        raise ConfigError("raft.connection_timeout_s: must be at least raft.max_timeout_s")
    if not r.leader_fallback_timeout_s > r.append_entries_period_s:
        raise ConfigError("raft.leader_fallback_timeout_s: must exceed the append period")
    if not (r.max_batch >= 1 and r.max_inflight >= 1):
        raise ConfigError("raft.max_batch and raft.max_inflight: must be at least 1")
