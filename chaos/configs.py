"""What each node of a dev cluster is told: the plan of a cluster and its TOML files.

``LocalCluster`` (``chaos.cluster``) plans a new cluster once, before any process
starts: ``plan`` picks each nameservice's NameNode ids, ports, Raft password and
block token secret; ``namenode_config``, ``datanode_config`` and
``client_config`` turn the plan into the tables of one file; ``write_toml``
writes them.

Naming:

- nameservices ``ns1..nsK``; the first is the default (a cluster of one
  nameservice keeps the name it was given, e.g. ``ns2``);
- NameNode ids are numbered across the cluster in nameservice order: with 3
  NameNodes per nameservice ``nn1..nn3`` are ns1's and ``nn4..nn6`` ns2's, so a
  node's name, its ``<id>.toml``, ``<id>.log`` and data directory ``<id>/``
  never collide, and one nameservice looks as it always did;
- DataNodes ``dn1..dnM`` are shared by every nameservice, on racks ``/rack1``
  and ``/rack2`` in turn.

Each nameservice is its own Raft group with its own password and its own block
token secret. A DataNode's config has one ``[nameservices.NS]`` table per
nameservice (its NameNodes and its secret: one block pool each). With more than
one nameservice every NameNode's config has a ``[federation]`` section naming
the default and listing every nameservice's NameNodes; with one it has none.

Every node serves Prometheus metrics (``[metrics] address``) on a port of its own.
Every address is ``127.0.0.1`` on a free port, unless ``plan`` is given
``hosts`` (``chaos.netns.Network.add``): then each node listens on its own
network namespace's address, on the fixed ``NAMESPACED_PORTS``.

Imports: the standard library only.
"""

from __future__ import annotations

import random
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

# A node in a network namespace of its own (``chaos.netns``) has every port to itself.
NAMESPACED_PORTS = {"rpc": 8020, "raft": 8021, "datanode": 9867, "metrics": 9102}

# Short timeouts for a laptop or CI (docs/design.md explains the production ones).
DEV_RAFT: dict[str, Any] = {
    "min_timeout_s": 0.3,
    "max_timeout_s": 0.6,
    "append_entries_period_s": 0.05,
    "leader_fallback_timeout_s": 2.0,
}

# A dead DataNode is noticed in seconds, not HDFS's 10.5 minutes (the default is 30 s).
DEV_BLOCKS: dict[str, Any] = {
    "stale_after_s": 3.0,
    "dead_after_s": 5.0,
    "monitor_interval_s": 0.5,
    "replication_timeout_s": 15.0,
}
DEV_DATANODE: dict[str, Any] = {
    "heartbeat_interval_s": 0.5,
    "full_report_interval_s": 600.0,
    "scan_period_s": 600.0,
}

Sections = dict[str, dict[str, Any]]


def free_port() -> int:
    """A port on ``HOST`` that nothing listens on, for a node to bind later.

    Drawn below the kernel's ephemeral range, so that no outgoing connection takes it
    as its source port between the planning and the node's start, and never handed
    out twice by this process (two ``bind(0)`` in a row may return the same port once
    the first socket is closed: a cluster once planned two nodes on one port)."""
    low, high = _LISTEN_PORTS
    with _given_lock:
        if len(_given) >= (high - low) // 2:
            _given.clear()  # a long run: the oldest clusters are long gone
        for _ in range(10_000):
            port = _random.randrange(low, high)
            if port in _given:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free port in {low}..{high - 1} on {HOST}")


def _listen_ports(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """The ports below the ephemeral range, down to 10000 (half-open), or 20000..32768
    when the range cannot be read."""
    try:
        ephemeral_low = int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low = 10_000 if ephemeral_low > 15_000 else 1024
    return low, max(ephemeral_low, low + 1000)


_LISTEN_PORTS = _listen_ports()
_given: set[int] = set()
_given_lock = threading.Lock()
_random = random.Random()


Hosts = Callable[[str], str]  # node name -> the IPv4 address of its own namespace


def node_address(node: str, port: str, hosts: Hosts | None = None) -> str:
    """``127.0.0.1`` on a free port; with ``hosts``, the node's own address on the fixed
    port named ``port`` of ``NAMESPACED_PORTS``."""
    if hosts is None:
        return f"{HOST}:{free_port()}"
    return f"{hosts(node)}:{NAMESPACED_PORTS[port]}"


# -- the plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class Nameservice:
    """One planned nameservice: its NameNodes' addresses and its two secrets."""

    name: str
    rpc: dict[str, str]  # NameNode id -> client RPC address, in id order
    raft: dict[str, str]  # NameNode id -> Raft address; empty for a lone NameNode
    raft_password: str
    token_secret: str
    metrics: dict[str, str] = field(default_factory=dict)  # NameNode id -> metrics address

    @property
    def namenodes(self) -> list[str]:
        """The NameNodes' client RPC addresses."""
        return list(self.rpc.values())


def plan(names: list[str], namenodes: int, hosts: Hosts | None = None) -> list[Nameservice]:
    """``namenodes`` NameNodes for each of ``names``, on fresh ports (or, with ``hosts``,
    on their own namespaces' addresses), with fresh secrets."""
    groups = []
    for k, name in enumerate(names):
        ids = [f"nn{k * namenodes + i}" for i in range(1, namenodes + 1)]
        groups.append(
            Nameservice(
                name,
                rpc={i: node_address(i, "rpc", hosts) for i in ids},
                raft={i: node_address(i, "raft", hosts) for i in ids} if namenodes > 1 else {},
                raft_password=secrets.token_hex(16),
                token_secret=secrets.token_hex(16),
                metrics={i: node_address(i, "metrics", hosts) for i in ids},
            )
        )
    return groups


# -- the files --------------------------------------------------------------------


def namenode_config(
    ns: Nameservice,
    node_id: str,
    everyone: list[Nameservice],
    data_dir: Path,
    *,
    namespace: dict[str, Any],
    users: dict[str, list[str]],
    raft: dict[str, Any],
    blocks: dict[str, Any],
) -> Sections:
    """NameNode ``node_id`` of ``ns`` (``ha_namenode.config``); the dicts override."""
    sections: Sections = {
        "namenode": {
            "id": node_id,
            "nameservice": ns.name,
            "rpc_address": ns.rpc[node_id],
            "data_dir": str(data_dir),
        },
        "namespace": dict(namespace),
        "blocks": {"token_secret": ns.token_secret, **DEV_BLOCKS, **blocks},
    }
    if ns.metrics.get(node_id):
        sections["metrics"] = {"address": ns.metrics[node_id]}
    if users:
        sections["users"] = dict(users)
    if ns.raft:
        sections["raft"] = {"password": ns.raft_password, **DEV_RAFT, **raft}
        for member in ns.rpc:
            sections[f"members.{member}"] = {
                "rpc_address": ns.rpc[member],
                "raft_address": ns.raft[member],
            }
    if len(everyone) > 1:
        sections["federation"] = {"default_nameservice": everyone[0].name}
        for other in everyone:
            sections[f"federation.nameservices.{other.name}"] = {"namenodes": other.namenodes}
    return sections


def rack(index: int) -> str:
    """DataNode ``index`` (from 1) sits on ``/rack1`` when odd, ``/rack2`` when even."""
    return f"/rack{2 - index % 2}"


def datanode_config(
    index: int,
    address: str,
    data_dir: Path,
    everyone: list[Nameservice],
    overrides: dict[str, Any],
    metrics_address: str = "",
) -> Sections:
    """DataNode ``dn<index>`` (``datanode.config``), serving every nameservice of
    ``everyone``; ``overrides`` win over the dev defaults; ``metrics_address``: where
    it serves /metrics (empty: nowhere)."""
    sections: Sections = {
        "datanode": {
            "rpc_address": address,
            "data_dirs": [str(data_dir)],
            "rack": rack(index),
            **DEV_DATANODE,
            **overrides,
        }
    }
    for ns in everyone:
        sections[f"nameservices.{ns.name}"] = {
            "namenodes": ns.namenodes,
            "block_token_secret": ns.token_secret,
        }
    if metrics_address:
        sections["metrics"] = {"address": metrics_address}
    return sections


def client_config(
    namenodes: dict[str, list[str]], user: str | None = None
) -> tuple[dict[str, Any], Sections]:
    """``(top-level keys, tables)`` of a ``client.config`` file; the first nameservice
    of ``namenodes`` (name -> client RPC addresses) is the default."""
    top = {"default_nameservice": next(iter(namenodes))}
    sections: Sections = {f"nameservices.{ns}": {"namenodes": a} for ns, a in namenodes.items()}
    if user:
        sections["client"] = {"user": user}
    return top, sections


# -- TOML -------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_toml(path: Path, sections: Sections, top: dict[str, Any] | None = None) -> None:
    """Write ``top``'s keys, then one ``[table]`` per entry of ``sections``."""
    lines = [f"{key} = {toml_value(value)}" for key, value in (top or {}).items()]
    if lines:
        lines.append("")
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))
