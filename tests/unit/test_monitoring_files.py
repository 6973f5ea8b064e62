"""The shipped Prometheus and Grafana files hold together: every alert carries a
severity and a runbook section that exists, every alert is unit-tested firing and not
firing, and every dashboard query uses only the series of the metric contract.

promtool itself runs in tests/integration/test_prometheus_rules.py."""

from __future__ import annotations

import re

import pytest
import yaml
from monitoring_contract import (
    CONTRACT,
    GRAFANA,
    JOBS,
    PROMETHEUS,
    RUNBOOK,
    alert_rules,
    allowed_names,
    dashboard_queries,
    dashboards,
    documented_queries,
    metric_names,
    panels,
    promql_for_promtool,
    variable_queries,
)

REQUIRED_ALERTS = {
    "HafsNoLeader",
    "HafsQuorumAtRisk",
    "HafsFrequentLeaderChanges",
    "HafsMissingBlocks",
    "HafsUnderReplicatedBlocksPersisting",
    "HafsDeadDataNodes",
    "HafsCapacityLow",
    "HafsChecksumFailures",
}


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings: lower case, spaces to dashes."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            title = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(title.replace(" ", "-"))
    return anchors


# -- the extractor itself -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (nameservice) (hafs_raft_is_leader{nameservice=~"$nameservice"})',
            {"hafs_raft_is_leader"},
        ),
        (
            "histogram_quantile(0.99, sum by (le) "
            "(rate(hafs_raft_proposal_seconds_bucket[$__rate_interval])))",
            {"hafs_raft_proposal_seconds_bucket"},
        ),
        (
            "max by (nameservice) (a_total) - on (nameservice) group_right b_total offset 5m",
            {"a_total", "b_total"},
        ),
        (
            'x * on (instance) group_left (node) group by (instance, node) (y{job="a b"})',
            {"x", "y"},
        ),
        ("1e3 * z > bool 0.5", {"z"}),
    ],
)
def test_metric_names_finds_the_series(expr, names):
    assert metric_names(expr) == names


# -- alerts -------------------------------------------------------------------------


def test_the_issue_s_alerts_exist():
    assert {rule["alert"] for rule in alert_rules()} >= REQUIRED_ALERTS


@pytest.mark.parametrize(
    "rule", alert_rules(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}"
)
def test_alert_is_documented(rule):
    assert rule["labels"]["severity"] in ("warning", "critical")
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    anchor = rule["alert"].lower()
    assert annotations["runbook_url"] == f"docs/runbook.md#{anchor}"
    assert anchor in runbook_anchors(), f"docs/runbook.md has no section {rule['alert']}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_uses_contract_metrics(rule):
    unknown = metric_names(rule["expr"]) - allowed_names()
    assert not unknown, f"{rule['alert']} uses series outside the contract: {unknown}"


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts never expected to fire"
    assert names - quiet == set(), "alerts never expected to stay quiet"


def test_every_severity_of_an_alert_is_tested_firing():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {
        (check["alertname"], alert["exp_labels"]["severity"])
        for case in tests
        for check in case.get("alert_rule_test", [])
        for alert in check.get("exp_alerts") or []
    }
    assert {(r["alert"], r["labels"]["severity"]) for r in alert_rules()} <= fired


def test_prometheus_configs_scrape_both_jobs_and_load_the_rules():
    for name in ("prometheus.yml", "kubernetes.yml"):
        config = yaml.safe_load((PROMETHEUS / name).read_text())
        assert config["rule_files"] == ["alerts.yml"], name
        jobs = {job["job_name"] for job in config["scrape_configs"]}
        assert set(JOBS) <= jobs, name
        for job in config["scrape_configs"]:
            for static in job.get("static_configs", []):
                # a target label would rename the daemons' own to exported_*
                assert not {"nameservice", "node"} & set(static.get("labels", {})), name


# -- dashboards ---------------------------------------------------------------------


def test_two_dashboards_with_unique_uids():
    boards = dashboards()
    assert set(boards) == {"hafs-overview.json", "hafs-namenode-raft.json"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_shape(name):
    board = dashboards()[name]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["nameservice"]["type"] == "query"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"{panel['title']}: no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


@pytest.mark.parametrize(
    ("board", "title", "expr"), dashboard_queries(), ids=lambda v: v if len(v) < 40 else None
)
def test_dashboard_query_uses_contract_metrics(board, title, expr):
    names = metric_names(expr)
    assert names, f"{board}: {title}: selects no series"
    unknown = names - allowed_names()
    assert not unknown, f"{board}: {title}: series outside the contract: {unknown}"
    assert "$" not in promql_for_promtool(expr)


@pytest.mark.parametrize(("doc", "expr"), documented_queries())
def test_documented_query_uses_contract_metrics(doc, expr):
    names = metric_names(expr)
    assert names and names <= allowed_names(), f"{doc}: {expr}"


def test_the_docs_show_queries():
    assert len(documented_queries()) >= 3


@pytest.mark.parametrize(("board", "variable", "series"), variable_queries())
def test_dashboard_variables_use_contract_metrics(board, variable, series):
    assert metric_names(series) <= allowed_names(), f"{board}: ${variable}"


def test_the_dashboards_cover_the_issue_s_panels():
    """The overview and the NameNode/Raft dashboard show what the issue lists."""
    used = {
        name: set().union(*(metric_names(e) for b, _, e in dashboard_queries() if b == name))
        for name in dashboards()
    }
    overview = {
        "hafs_raft_is_leader",
        "hafs_raft_term",
        "hafs_raft_leader_changes_total",
        "hafs_rpc_server_handling_seconds_count",
        "hafs_rpc_server_handling_seconds_bucket",
        "hafs_rpc_server_errors_total",
        "hafs_blocks_missing",
        "hafs_blocks_under_replicated",
        "hafs_blocks_corrupt",
        "hafs_datanodes",
        "hafs_capacity_bytes",
        "hafs_datanode_read_bytes_total",
        "hafs_datanode_written_bytes_total",
        "hafs_datanode_checksum_failures_total",
    }
    raft = {
        "hafs_raft_is_leader",
        "hafs_raft_term",
        "hafs_raft_commit_index",
        "hafs_raft_applied_index",
        "hafs_raft_proposal_seconds_bucket",
        "hafs_raft_members_reachable",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    }
    assert overview <= used["hafs-overview.json"]
    assert raft <= used["hafs-namenode-raft.json"]


def test_every_contract_series_is_on_a_dashboard_or_in_an_alert():
    """But the process collector's series and the ``_info`` series (versions and
    addresses, always 1)."""
    used = set().union(*(metric_names(e) for _, _, e in dashboard_queries()))
    used |= set().union(*(metric_names(r["expr"]) for r in alert_rules()))
    used = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in CONTRACT else n for n in used}
    watched = {n for n in CONTRACT if not n.startswith("process_") and not n.endswith("_info")}
    unused = watched - used
    assert not unused


# -- provisioning -------------------------------------------------------------------


def test_grafana_provisioning():
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/hafs.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/hafs"
