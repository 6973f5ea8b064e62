"""promtool on the shipped Prometheus files: the configs load, the rules parse, the
rules' unit tests (deploy/prometheus/alerts_test.yml) pass, and every dashboard query
and every PromQL example of the docs parses.

promtool is Debian's, installed by scripts/install_prometheus.sh when missing (the
test skips, naming why, when that is impossible here; under CI it fails instead).
Each promtool run takes well under a second."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from monitoring_contract import (
    PROMETHEUS,
    dashboard_queries,
    documented_queries,
    promql_for_promtool,
    promtool,
    variable_queries,
)


def run_promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def test_install_script_is_idempotent_and_prints_the_paths():
    tool = promtool()  # installs when missing
    again = subprocess.run(
        ["sh", str(PROMETHEUS.parents[1] / "scripts" / "install_prometheus.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"promtool={tool}" in again.stdout.splitlines()
    assert any(line.startswith("prometheus=/") for line in again.stdout.splitlines())


def test_prometheus_config_is_valid():
    out = run_promtool("check", "config", "prometheus.yml")
    assert "1 rule files found" in out.stdout


def test_kubernetes_config_is_valid(tmp_path):
    """Debian builds Prometheus without Kubernetes discovery, so its promtool rejects
    kubernetes_sd_configs; everything else (the relabelling, the rule file) is checked
    with static discovery in its place."""
    result = subprocess.run(
        [promtool(), "check", "config", "kubernetes.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return
    assert "kubernetes_sd_configs" in result.stdout + result.stderr, result.stdout
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["pod:9870"]}]
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    run_promtool("check", "config", "kubernetes.yml", cwd=tmp_path)


def test_alert_rules_are_valid():
    run_promtool("check", "rules", "alerts.yml")


def test_alert_rule_unit_tests_pass():
    out = run_promtool("test", "rules", "alerts_test.yml")
    assert "SUCCESS" in out.stdout


def test_dashboard_queries_parse(tmp_path):
    """Each panel's PromQL, with Grafana's variables filled in, and each PromQL example
    of the docs, as a recording rule."""
    queries = [promql_for_promtool(expr) for _, _, expr in dashboard_queries()]
    queries += [promql_for_promtool(series) for _, _, series in variable_queries()]
    queries += [expr for _, expr in documented_queries()]
    assert queries
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump(rules))
    out = run_promtool("check", "rules", "dashboards.yml", cwd=tmp_path)
    assert f"{len(queries)} rules found" in out.stdout


def test_promtool_reports_a_broken_rule(tmp_path):
    """The checks above can fail: a query with a syntax error is refused."""
    (tmp_path / "bad.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum(("}]}]})
    )
    with pytest.raises(AssertionError, match=r"bad\.yml"):
        run_promtool("check", "rules", "bad.yml", cwd=tmp_path)
