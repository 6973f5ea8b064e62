"""The shipped monitoring files and the metric contract they are written against.

Shared by the tests of ``deploy/`` (``tests/unit/test_monitoring_files.py``,
``tests/integration/test_prometheus_rules.py``) and the live-Prometheus test
(``tests/integration/test_prometheus_live.py``, with ``tests/prometheus_server.py``):

* ``CONTRACT``: every series name the daemons export (docs/operations.md, "Metrics"),
  and ``allowed_names()`` with a histogram's ``_bucket``/``_sum``/``_count``;
* ``metric_names(expr)``: the series names a PromQL expression selects;
* ``dashboards()``, ``dashboard_queries()``, ``alert_rules()``: the shipped files, and
  ``documented_queries()``: the PromQL examples of the docs;
* ``template_variables(board)``: a dashboard's ``label_values`` variables;
* ``fill_variables(expr, values)``: a dashboard query with Grafana's variables set to
  given values, and ``promql_for_promtool(expr)`` with placeholder values;
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
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
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
OPERATIONS = ROOT / "docs" / "operations.md"

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
    "hafs_namenode_safe_mode": "gauge",
    "hafs_namenode_info": "gauge",  # version, address; always 1
    # leader only
    "hafs_blocks_under_replicated": "gauge",
    "hafs_blocks_missing": "gauge",
    "hafs_blocks_corrupt": "gauge",
    "hafs_blocks_pending_replication": "gauge",
    # state=live|stale|dead|decommissioning|decommissioned|maintenance|dead_in_maintenance
    "hafs_datanodes": "gauge",
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
    "hafs_datanode_info": "gauge",  # version, address, rack; always 1
    # prometheus_client's process (Linux) and platform collectors, and Prometheus's own
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "python_info": "gauge",
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
GRAFANA_INTERVALS = ("__rate_interval", "__interval", "__range")


def fill_variables(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with each Grafana variable (``$name``, ``${name}``, ``${name:fmt}``)
    replaced by ``values[name]``; KeyError names a variable ``values`` lacks."""

    def fill(m: re.Match[str]) -> str:
        return values[m.group(1) or m.group(2)]

    return _GRAFANA_VARIABLE.sub(fill, expr)


def promql_for_promtool(expr: str) -> str:
    """``expr`` as Prometheus would receive it from Grafana: each ``$__*interval`` a
    duration, each template variable a plain value."""
    return fill_variables(expr, defaultdict(lambda: "ns1", dict.fromkeys(GRAFANA_INTERVALS, "5m")))


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


@dataclass(frozen=True)
class Variable:
    """A dashboard's query variable: ``label_values(series, label)``, and the regex
    Grafana sends for "All" (None: the selected values joined as ``(a|b)``)."""

    name: str
    series: str
    label: str
    all_value: str | None


def template_variables(board: dict[str, Any]) -> list[Variable]:
    """The query variables of one dashboard, in the order Grafana resolves them."""
    out = []
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
        assert m, f"{board.get('title')}: ${var['name']}: expected label_values(SERIES, LABEL)"
        all_value = (var.get("allValue") or None) if var.get("includeAll") else None
        out.append(Variable(var["name"], m.group(1), m.group(2), all_value))
    return out


def variable_queries() -> list[tuple[str, str, str]]:
    """``(dashboard file, variable, PromQL of its label_values)`` of query variables."""
    return [
        (name, var.name, var.series)
        for name, board in dashboards().items()
        for var in template_variables(board)
    ]


def documented_queries() -> list[tuple[str, str]]:
    """``(doc file, PromQL)`` of every expression in a fenced ``promql`` block of
    docs/operations.md and docs/runbook.md; blank lines separate expressions."""
    out = []
    for path in (OPERATIONS, RUNBOOK):
        for block in re.findall(r"^```promql\n(.*?)^```", path.read_text(), re.M | re.S):
            out.extend((path.name, expr.strip()) for expr in re.split(r"\n\s*\n", block))
    return [(name, expr) for name, expr in out if expr]


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
