"""A real Prometheus scraping a real cluster: the shipped monitoring works on live data.

Debian's Prometheus (installed by scripts/install_prometheus.sh when missing; the test
skips, naming why, when that is impossible here, and fails under CI) scrapes a
3-NameNode, 3-DataNode cluster on 127.0.0.1 with the shipped prometheus.yml (its job
names and labels, the cluster's targets, 1 s intervals) and the shipped alerts.yml,
while a small workload writes, reads, lists and deletes a few dozen files. Then:

* every series of the metric contract (tests/monitoring_contract.py) is scraped, the
  daemons export no series outside it, NameNode series carry ``nameservice`` and
  ``node`` and DataNode series ``node``;
* every PromQL expression of the dashboards (panels and template variables, Grafana's
  variables resolved from Prometheus as Grafana does: all "All", then each single
  value), of the alert rules and of the docs' ``promql`` examples evaluates without
  error; with "All" every panel returns data (a finite value), healthy and degraded;
  Prometheus evaluates every rule with health ``ok``; a healthy cluster raises no alert;
* a leadership transfer shows on the overview as a leader change;
* a SIGKILLed DataNode shows as dead on the overview, puts HafsDeadDataNodes and
  HafsTargetDown (for its target) in ``pending``, and a SIGKILLed follower NameNode
  HafsQuorumAtRisk; no other alert but HafsUnderReplicatedBlocksPersisting (every block
  has lost a replica) becomes active, no HafsNoLeader, no HafsMissingBlocks;
* last, every expression evaluates without error over the whole run as a range query.

About 30 s here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from monitoring_contract import (
    CONTRACT,
    GRAFANA_INTERVALS,
    JOBS,
    alert_rules,
    allowed_names,
    dashboard_queries,
    dashboards,
    documented_queries,
    fill_variables,
    metric_names,
    prometheus_binaries,
    template_variables,
)
from prometheus_server import Prometheus, config_for

from chaos.cluster import LocalCluster, free_port
from client import Client
from hafs_api.errors import FileNotFound

pytestmark = pytest.mark.integration

SMALL = {
    "trash_interval_s": 0,
    "min_block_size": 4096,
    "default_block_size": 64 * 1024,
    "bytes_per_checksum": 512,
}
FILES = 30  # the workload: files written, read back, listed; a third deleted
# Each DataNode offers 1 GiB whatever the disk holds, so HafsCapacityLow stays quiet.
DATANODE = {"capacity_bytes": 1 << 30}
WORKLOAD_S = 30.0  # its time bound
# Grafana's interval variables as Grafana sets them for a dashboard of the last few
# hours; a 5 m rate window is longer than the test, so every rate covers the workload.
INTERVALS = {"__rate_interval": "5m", "__interval": "15s", "__range": "1h"}
assert set(INTERVALS) == set(GRAFANA_INTERVALS)
# Series Prometheus adds to every target.
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
# What a dead DataNode and a dead follower NameNode may raise; anything else is a bug.
DEGRADED_ALERTS = {
    "HafsDeadDataNodes",
    "HafsTargetDown",
    "HafsQuorumAtRisk",
    "HafsUnderReplicatedBlocksPersisting",
}


@pytest.fixture
def start_prometheus(request, tmp_path):
    """Start Prometheus for given targets; stop it after the test (printing its log
    when the test failed)."""
    started: list[Prometheus] = []

    def start(targets: dict[str, list[str]]) -> Prometheus:
        binary = prometheus_binaries()["prometheus"]
        listen = f"127.0.0.1:{free_port()}"
        prometheus = Prometheus(
            binary, tmp_path / "prometheus", config_for(targets, listen), listen
        )
        started.append(prometheus)
        return prometheus.start()

    yield start
    for prometheus in started:
        prometheus.stop()
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    if any(report is not None and report.failed for report in reports):
        for prometheus in started:
            print(f"---- prometheus log ({prometheus.log_path}) ----\n{prometheus.log()}")


def test_prometheus_scrapes_a_cluster_and_every_query_and_alert_works(
    make_cluster, start_prometheus
):
    prometheus_binaries()  # skip (or fail under CI) before starting anything
    cluster = make_cluster(namenodes=3, datanodes=3, namespace=SMALL, datanode=DATANODE)
    prom = start_prometheus(
        {
            "hafs-namenode": [n.metrics_address for n in cluster.namenode_nodes],
            "hafs-datanode": [n.metrics_address for n in cluster.datanode_nodes],
        }
    )
    begun = time.time()
    wait_for(prom, "every target up", 30, lambda: scraped(prom, 7, since=begun))
    run_workload(cluster)
    wait_for(prom, "a settled cluster without alerts", 30, lambda: settled(prom))
    done = time.time()
    wait_for(prom, "scrapes after the workload", 30, lambda: scraped(prom, 7, since=done + 2))

    check_contract(prom)
    check_dashboards(prom)
    check_alert_rules(prom)

    # A leadership transfer: the overview counts a leader change.
    overview = "hafs-overview.json"
    leader = cluster.wait_leader()
    target = next(n for n in cluster.namenode_nodes if n.node_id != leader.node_id)
    with Client(addresses=cluster.addresses) as fs:
        fs.transfer_leadership(target.node_id)
    changes = panel(prom, overview, "Leader changes (15 min)", "hafs_raft_leader_changes_total")
    wait_for(
        prom,
        "the overview to count a leader change",
        30,
        lambda: (sample(prom, changes) or 0) >= 0.9,
    )

    # A DataNode dies: the NameNodes declare it dead after blocks.dead_after_s (5 s).
    datanode = cluster.datanode_nodes[0]
    assert datanode.kill()
    wait_alert(prom, "HafsDeadDataNodes", {"nameservice": "ns1"}, 60)
    wait_alert(prom, "HafsTargetDown", {"instance": datanode.metrics_address}, 30)
    assert (
        sample(prom, panel(prom, overview, "DataNodes by state", "hafs_datanodes"), state="dead")
        == 1
    )
    assert sample(prom, panel(prom, overview, "Daemons up", "up", 'job="hafs-datanode"')) == 2
    wait_for(
        prom,
        "the overview to show under-replicated blocks",
        30,
        lambda: sample(prom, panel(prom, overview, "Block health", "hafs_blocks_under_replicated")),
    )

    # A follower NameNode dies: the leader reaches 2 of 3, one failure from no quorum.
    leader = cluster.wait_leader()
    follower = next(n for n in cluster.namenode_nodes if n.node_id != leader.node_id)
    assert follower.kill()
    wait_alert(prom, "HafsQuorumAtRisk", {"nameservice": "ns1"}, 30)
    wait_alert(prom, "HafsTargetDown", {"instance": follower.metrics_address}, 30)

    active = {a["labels"]["alertname"] for a in prom.alerts()}
    assert active <= DEGRADED_ALERTS, json.dumps(prom.alerts(), indent=1)
    check_dashboards(prom)
    check_alert_rules(prom)
    check_over_the_run(prom)


# ---- the workload -------------------------------------------------------------------


def run_workload(cluster: LocalCluster) -> None:
    """Bounded in count and in time: FILES files written, read back and listed, a few
    stats of missing paths (FILE_NOT_FOUND errors for the error panels), a third
    of the files deleted."""
    deadline = time.monotonic() + WORKLOAD_S
    with Client(addresses=cluster.addresses) as fs:
        fs.mkdir("/promlive/data", parents=True)
        for i in range(FILES):
            data = bytes([i]) * (1000 + 5000 * i)  # up to 3 blocks of 64 KiB
            fs.write_bytes(f"/promlive/data/f{i:02}", data)
            assert fs.read_bytes(f"/promlive/data/f{i:02}") == data
            assert time.monotonic() < deadline, f"workload: {i + 1} files in {WORKLOAD_S} s"
        assert len(fs.ls("/promlive/data")) == FILES
        for i in range(5):
            with pytest.raises(FileNotFound):
                fs.stat(f"/promlive/missing{i}")
        for i in range(0, FILES, 3):
            fs.delete(f"/promlive/data/f{i:02}")
        assert time.monotonic() < deadline, f"workload over {WORKLOAD_S} s"


# ---- waiting ------------------------------------------------------------------------


def wait_for(prom: Prometheus, what: str, timeout: float, predicate: Callable[[], Any]) -> Any:
    """Poll ``predicate`` until truthy; fail with Prometheus's targets and alerts."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            targets = [
                (t["labels"]["job"], t["labels"]["instance"], t["health"], t["lastError"])
                for t in prom.data("targets")["activeTargets"]
            ]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}\ntargets: {targets}\n"
                f"alerts: {json.dumps(prom.alerts(), indent=1)}"
            )
        time.sleep(0.5)
    return value


def scraped(prom: Prometheus, targets: int, since: float) -> bool:
    """All ``targets`` up, each scraped at ``since`` (Unix time) or later."""
    active = prom.data("targets")["activeTargets"]
    if len(active) != targets or any(t["health"] != "up" for t in active):
        return False
    first = sample(prom, "min(timestamp(up))")
    return first is not None and first >= since


def settled(prom: Prometheus) -> bool:
    """Every block fully replicated, nothing being copied, and no alert active."""
    busy = (
        "max(hafs_blocks_under_replicated + hafs_blocks_missing + hafs_blocks_pending_replication)"
    )
    return sample(prom, busy) == 0 and not prom.alerts()


def wait_alert(prom: Prometheus, name: str, labels: dict[str, str], timeout: float) -> None:
    """Wait until alert ``name`` with ``labels`` is active, and check it is pending
    (firing for a rule without ``for``)."""
    rule = next(r for r in alert_rules() if r["alert"] == name)

    def found() -> dict[str, Any] | None:
        return next(
            (
                a
                for a in prom.alerts()
                if a["labels"]["alertname"] == name and labels.items() <= a["labels"].items()
            ),
            None,
        )

    alert = wait_for(prom, f"{name} {labels} to be active", timeout, found)
    assert alert["state"] == ("pending" if rule.get("for") else "firing"), alert


# ---- queries ------------------------------------------------------------------------


def values_of(body: dict[str, Any]) -> list[float]:
    data = body["data"]
    if data["resultType"] == "vector":
        return [float(s["value"][1]) for s in data["result"]]
    if data["resultType"] == "matrix":
        return [float(v[1]) for s in data["result"] for v in s["values"]]
    return [float(data["result"][1])]  # scalar


def sample(prom: Prometheus, expr: str, **labels: str) -> float | None:
    """The value of the one sample of ``expr`` whose labels include ``labels``."""
    found = [
        float(s["value"][1])
        for s in prom.data("query", query=expr)["result"]
        if labels.items() <= s["metric"].items()
    ]
    assert len(found) <= 1, f"{expr} {labels}: {found}"
    return found[0] if found else None


def panel(prom: Prometheus, board: str, title: str, metric: str, contains: str = "") -> str:
    """The query of ``board``'s panel ``title`` that selects ``metric`` (and contains
    ``contains``), with every variable "All"."""
    exprs = [
        e
        for b, t, e in dashboard_queries()
        if (b, t) == (board, title) and metric in metric_names(e) and contains in e
    ]
    assert len(exprs) == 1, f"{board}: panel {title!r} with {metric} {contains}: {exprs}"
    return fill_variables(exprs[0], selections(prom, dashboards()[board])[0])


def _regex_escape(value: str) -> str:
    """Grafana's escaping of a variable value inside a Prometheus regex."""
    return "".join(f"\\\\{c}" if c in "\\^$*+?.()|{}[]" else c for c in value)


def selections(prom: Prometheus, board: dict[str, Any]) -> list[dict[str, str]]:
    """The variable values to evaluate ``board`` with: every variable "All" first, then
    each single value of each variable (the others "All"). Values come from Prometheus
    as Grafana's ``label_values(series, label)`` gets them; there must be some."""
    every = dict(INTERVALS)
    options: dict[str, list[str]] = {}
    for var in template_variables(board):  # in order: a query may use the ones before
        series = fill_variables(var.series, every)
        values = prom.data(f"label/{var.label}/values", **{"match[]": series})
        assert values, (
            f"{board['title']}: ${var.name}: label_values({series}, {var.label}) is empty"
        )
        options[var.name] = values
        joined = "(" + "|".join(_regex_escape(v) for v in values) + ")"
        every[var.name] = var.all_value or joined
    out = [every]
    for name, values in options.items():
        out.extend({**every, name: _regex_escape(v)} for v in values)
    return out


def check_dashboards(prom: Prometheus) -> None:
    """Every panel query evaluates under every selection; under "All" it has data."""
    problems = []
    for name, board in dashboards().items():
        queries = [(t, e) for b, t, e in dashboard_queries() if b == name]
        for i, chosen in enumerate(selections(prom, board)):
            for title, expr in queries:
                promql = fill_variables(expr, chosen)
                body = prom.query(promql)
                if body["status"] != "success":
                    problems.append(f"{name}: {title}: {promql}: {body.get('error')}")
                elif i == 0 and not any(math.isfinite(v) for v in values_of(body)):
                    problems.append(f"{name}: {title}: no data: {promql}: {body['data']}")
    assert not problems, "\n".join(problems)


def check_alert_rules(prom: Prometheus) -> None:
    """Each rule's expression, and each PromQL example of the docs, evaluates here, and
    Prometheus's own evaluation of every rule of alerts.yml is healthy."""
    problems = []
    named = [(rule["alert"], rule["expr"]) for rule in alert_rules()]
    for name, expr in named + documented_queries():
        body = prom.query(expr)
        if body["status"] != "success":
            problems.append(f"{name}: {expr}: {body.get('error')}")
    loaded = [r for g in prom.data("rules", type="alert")["groups"] for r in g["rules"]]
    assert len(loaded) == len(alert_rules())
    for rule in loaded:
        if rule["health"] != "ok":
            problems.append(f"{rule['name']}: health {rule['health']}: {rule.get('lastError')}")
    assert not problems, "\n".join(problems)


def check_over_the_run(prom: Prometheus) -> None:
    """Every dashboard and rule expression as a range query over the whole run, the
    failures included, at 1 s steps (errors such as many-to-many matches show only at
    the instants they happen)."""
    exprs = [rule["expr"] for rule in alert_rules()] + [e for _, e in documented_queries()]
    for name, board in dashboards().items():
        every = selections(prom, board)[0]
        exprs += [fill_variables(e, every) for b, _, e in dashboard_queries() if b == name]
    end = time.time()
    problems = []
    for expr in exprs:
        body = prom.query_range(expr, prom.started_at, end, 1)
        if body["status"] != "success":
            problems.append(f"{expr}: {body.get('error')}")
    assert not problems, "\n".join(problems)


# ---- the metric contract --------------------------------------------------------------


def check_contract(prom: Prometheus) -> None:
    """What the daemons export is what the contract says, names and common labels."""
    hafs = '{job=~"hafs-namenode|hafs-datanode"}'
    exported = set(prom.data("label/__name__/values", **{"match[]": hafs}))
    expected = set()
    for name, kind in CONTRACT.items():
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        expected |= {name + s for s in suffixes}
    assert expected - exported == set(), "contract series no daemon exports"
    assert exported - allowed_names() - SCRAPE_SERIES == set(), "exported, not in the contract"

    for job, labels in zip(JOBS, ({"nameservice", "node"}, {"node"}), strict=True):
        series = prom.data("series", **{"match[]": f'{{job="{job}",__name__=~"hafs_.*"}}'})
        assert series, job
        for s in series:
            assert labels <= s.keys(), f"{job}: {s}"
            assert not any(k.startswith("exported_") for k in s), f"{job}: {s}"
