"""``python -m benchmarks --doc-from``: results of several runs merged into one document."""

from __future__ import annotations

import json

from benchmarks.__main__ import merge


def run(path, date, **benchmarks):
    path.write_text(
        json.dumps(
            {
                "date": date,
                "quick": False,
                "settings": {f"{name}_setting": 1 for name in benchmarks},
                "seconds": {**{name: 10 for name in benchmarks}, "total": 10 * len(benchmarks)},
                "errors": {},
                **benchmarks,
            }
        )
    )
    return path


def test_each_benchmark_comes_from_the_last_run_that_has_it(tmp_path):
    a = run(tmp_path / "a.json", "d1", metadata={"v": 1}, failover={"v": 1})
    b = run(tmp_path / "b.json", "d2", failover={"v": 2}, datapath={"v": 2})
    merged = merge([a, b])
    assert merged["date"] == "d1"
    assert (merged["metadata"], merged["failover"], merged["datapath"]) == (
        {"v": 1},
        {"v": 2},
        {"v": 2},
    )
    assert merged["seconds"] == {"metadata": 10, "failover": 10, "datapath": 10, "total": 30}
    assert set(merged["settings"]) == {"metadata_setting", "failover_setting", "datapath_setting"}
    assert merged["runs"] == [
        {"file": "a.json", "date": "d1", "benchmarks": ["metadata", "failover"]},
        {"file": "b.json", "date": "d2", "benchmarks": ["failover", "datapath"]},
    ]
