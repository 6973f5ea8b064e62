"""The shipped monitoring files and the metric contract they are written against.

Shared by the tests of ``deploy/`` (``tests/unit/test_monitoring_files.py``,
``tests/integration/test_prometheus_rules.py``) and the live-Prometheus test:

* ``CONTRACT``: every series name the daemons export (docs/operations.md, "Metrics"),
  and ``allowed_names()`` with a histogram's ``_bucket``/``_sum``/``_count``;
* ``metric_names(expr)``: the series names a PromQL expression selects;
* ``dashboards()``, ``dashboard_queries()``, ``alert_rules()``: the shipped files;
* ``promql_for_promtool(expr)``: a dashboard query with Grafana's variables filled in;
* ``promtool()``: the promtool binary, installed by ``scripts/install_prometheus.sh``
  when missing (skips the test when that is impossible here; fails it under CI).

Imports: the standard library, PyYAML and pytest.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
INSTALL_SCRIPT = ROOT / "scripts" / "install_prometheus.sh"
RUNBOOK = ROOT / "docs" / "runbook.md"

# name -> type. NameNode series carry nameservice and node; DataNode series carry node.
CONTRACT: dict[str, str] = {
    "hafs_raft_is_leader": "gauge",
    "hafs_raft_term": "gauge",
    "hafs_raft_commit_index": "gauge",
    "hafs_raft_applied_index": "gauge",
    "hafs_raft_leader_changes_total": "counter",
    "hafs_raft_proposal_seconds": "histogram",
    "hafs_raft_members": "gauge",
    "hafs_raft_members_reachable": "gauge",
    "hafs_rpc_server_handling_seconds": "histogram",  # service, method
    "hafs_rpc_server_errors_total": "counter",  # service, method, code
    "hafs_namespace_files": "gauge",
    "hafs_namespace_directories": "gauge",
    "hafs_namespace_blocks": "gauge",
    # leader only
    "hafs_blocks_under_replicated": "gauge",
    "hafs_blocks_missing": "gauge",
    "hafs_blocks_corrupt": "gauge",
    "hafs_blocks_pending_replication": "gauge",
    "hafs_datanodes": "gauge",  # state=live|stale|dead|decommissioning|maintenance
    "hafs_capacity_bytes": "gauge",  # kind=total|used|remaining
    "hafs_balancer_bytes_moved_total": "counter",
    "hafs_balancer_moves_in_flight": "gauge",
    # DataNodes
    "hafs_datanode_read_bytes_total": "counter",
    "hafs_datanode_written_bytes_total": "counter",
    "hafs_datanode_checksum_failures_total": "counter",
    "hafs_datanode_failed_volumes": "gauge",
    "hafs_datanode_heartbeat_seconds": "histogram",  # nameservice
    "hafs_datanode_capacity_bytes": "gauge",  # kind
    "hafs_datanode_blocks": "gauge",  # nameservice
    # prometheus_client's process collector (Linux), and Prometheus's own
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "up": "gauge",
}

JOBS = ("hafs-namenode", "hafs-datanode")


def allowed_names() -> set[str]:
    names = set(CONTRACT)
    for name, kind in CONTRACT.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


# -- PromQL -----------------------------------------------------------------------

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The series names ``expr`` selects: identifiers outside strings, label matchers,
    ranges and grouping clauses that are neither functions nor keywords."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if before.isdigit() or before in ".$":
            continue  # 1e3, 0.5, a leftover Grafana variable
        if text[m.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group().lower() in _KEYWORDS:
            continue
        names.add(m.group())
    return names


_GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_GRAFANA_INTERVALS = {"__rate_interval", "__interval", "__range"}


def promql_for_promtool(expr: str) -> str:
    """``expr`` as Prometheus would receive it from Grafana: each ``$__*interval`` a
    duration, each template variable a plain value."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return "5m" if name in _GRAFANA_INTERVALS else "ns1"

    return _GRAFANA_VARIABLE.sub(fill, expr)


# -- the shipped files ------------------------------------------------------------


@functools.cache
def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed dashboard JSON."""
    return {
        p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries() -> list[tuple[str, str, str]]:
    """``(dashboard file, panel title, PromQL)`` of every panel target."""
    return [
        (name, panel.get("title", ""), target["expr"])
        for name, board in dashboards().items()
        for panel in panels(board)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def variable_queries() -> list[tuple[str, str, str]]:
    """``(dashboard file, variable, PromQL of its label_values)`` of query variables."""
    out = []
    for name, board in dashboards().items():
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
            assert m, f"{name}: variable {var['name']}: expected label_values(SERIES, LABEL)"
            out.append((name, var["name"], m.group(1)))
    return out


@functools.cache
def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


# -- promtool ---------------------------------------------------------------------


@functools.cache
def _install() -> tuple[int, dict[str, str], str]:
    result = subprocess.run(
        ["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
    )
    paths = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return result.returncode, paths, result.stderr


def prometheus_binaries() -> dict[str, str]:
    """``{"prometheus": PATH, "promtool": PATH}``, installing Debian's package if needed.

    Skips the calling test when installing is impossible here (not root, no apt-get,
    no registry); under CI (``CI`` set) an install failure fails the test instead."""
    code, paths, stderr = _install()
    if code == 0 and paths.get("promtool") and paths.get("prometheus"):
        return paths
    reason = (
        f"promtool unavailable: scripts/install_prometheus.sh exited {code}: "
        f"{stderr.strip().splitlines()[-1] if stderr.strip() else 'no message'}"
    )
    if code == 1 and os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def promtool() -> str:
    return prometheus_binaries()["promtool"]
