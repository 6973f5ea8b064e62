"""``hactl chaos run`` as a user runs it: options, usage errors, a short run, its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HACTL = str(Path(sys.executable).with_name("hactl"))


def hactl(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [HACTL, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )


def test_help_lists_the_options():
    r = hactl("chaos", "run", "--help")
    assert r.returncode == 0, r.stderr
    for option in ("--duration", "--seed", "--faults", "--nameservices", "--json"):
        assert option in r.stdout


def test_an_unknown_fault_is_a_usage_error():
    r = hactl("chaos", "run", "--faults", "kill-leader,kill-everything", "--duration", "1")
    assert r.returncode == 2
    assert "unknown fault 'kill-everything'" in r.stderr


def test_an_unknown_workload_is_a_usage_error():
    r = hactl("chaos", "run", "--workloads", "queue", "--duration", "1")
    assert r.returncode == 2
    assert "--workloads" in r.stderr


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_short_run_prints_its_report_and_writes_json(tmp_path):
    report = tmp_path / "report.json"
    r = hactl(
        "chaos", "run",
        "--duration", "4",
        "--seed", "99",
        "--faults", "kill-follower,corrupt-replica",
        "--datanodes", "3",
        "--json", str(report),
        timeout=280,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seed 99" in r.stderr  # printed first, so a crashed run can be replayed
    assert r.stdout.startswith("hafs chaos run: PASS")
    assert "PASS linearizable" in r.stdout and "PASS leaders" in r.stdout
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["seed"] == 99
    assert {v["name"] for v in data["verdicts"]} >= {
        "linearizable",
        "set",
        "data",
        "blocks",
        "replicas",
        "prefix",
        "corrupt-replicas",
        "leaders",
    }
    assert sum(n["injected"] for n in data["faults_by_type"].values()) >= 1
    assert all(data["operations"][w]["ok"] > 0 for w in ("register", "set", "data"))
