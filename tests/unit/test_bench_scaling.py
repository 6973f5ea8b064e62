"""The scaling note's arithmetic: CPU per operation from a run's cores and rates, and the
ceilings it implies on separate machines (the busiest process, one core each)."""

from __future__ import annotations

import pytest
from bench_results import MiB, result

from benchmarks import report, scaling


def test_metadata_costs_per_operation_and_the_busiest_process_ceiling():
    res = result()
    row = next(
        r
        for r in res["metadata"]["runs"][0]["rows"]
        if r["operation"] == "mkdir" and r["concurrency"] == 64
    )
    row["ops_per_s"] = 500.0
    row["cpu_cores"] = {"leader": 1.0, "follower-nn2": 0.4, "follower-nn3": 0.5, "load": 0.2}
    mkdir = next(m for m in scaling.metadata_costs(res) if m["operation"] == "mkdir")
    assert mkdir["leader_ms"] == pytest.approx(2.0)  # 1.0 core / 500 per s
    assert mkdir["follower_ms"] == pytest.approx(1.0)  # the busier follower
    assert mkdir["namenodes_ms"] == pytest.approx(3.8)  # the load generator is not counted
    assert mkdir["own_hosts_ops_per_s"] == pytest.approx(500.0)  # the leader is saturated
    row["cpu_cores"]["leader"] = 0.25
    mkdir = next(m for m in scaling.metadata_costs(res) if m["operation"] == "mkdir")
    assert mkdir["own_hosts_ops_per_s"] == pytest.approx(1000.0)  # now a follower bounds it


def test_datapath_costs_are_per_gib_and_bounded_by_the_busier_side():
    res = result()
    dp = res["datapath"]
    dp["size_bytes"] = 512 * MiB
    dp["figures"]["put r3"] = dict(dp["figures"]["put r1"])
    dp["figures"]["put r3"]["cpu_s"] = {
        "client": 0.5,
        "datanodes": 4.0,
        "namenodes": 0.1,
        "per_datanode": {"dn1": 1.0, "dn2": 2.0, "dn3": 1.0},
    }
    put = next(d for d in scaling.datapath_costs(res) if d["operation"] == "put r3")
    assert put["client_s_per_gib"] == pytest.approx(1.0)
    assert put["datanode_s_per_gib"] == pytest.approx(4.0)
    assert put["own_hosts_mib_per_s"] == pytest.approx(256.0) and put["bound_by"] == "a DataNode"


def test_the_note_is_in_the_document_and_absent_without_its_benchmarks():
    text = report.markdown(result())
    assert "## Scaling on separate machines" in text
    assert "| mkdir |" in text and "| get r3 |" in text
    assert scaling.markdown(result("metadata", "datapath")) == []
