"""NameNode memory per file from the scale benchmark: the arithmetic and the verdict."""

from __future__ import annotations

import pytest
from bench_results import MiB, result

from benchmarks import footprint


def scale(**changes) -> dict:
    sc = result()["scale"]
    sc.update(changes)
    return sc


def test_per_file_figures_are_the_largest_replica_over_the_files():
    fig = footprint.per_file(scale())  # 100,000 files; nn3 at 67 MiB, peak 69 MiB
    assert fig["replicas"] == 3
    assert fig["rss_bytes_per_file"] == pytest.approx(67 * MiB / 100_000)
    assert fig["peak_bytes_per_file"] == pytest.approx(69 * MiB / 100_000)
    assert fig["kib_per_file_per_replica"] == pytest.approx(69 * 1024 / 100_000)
    assert fig["db_bytes_per_file"] == pytest.approx(10 * MiB / 100_000)
    assert fig["target_met"]  # 724 B <= 1 KiB
    assert fig["growth_bytes"] == 2 * MiB  # medians after a start: 64 MiB loaded, 62 empty
    assert fig["growth_bytes_per_file"] == pytest.approx(2 * MiB / 100_000)


def test_a_small_namespace_can_miss_the_per_file_target_on_fixed_cost_alone():
    fig = footprint.per_file(scale(files=10_000))
    assert fig["peak_bytes_per_file"] > 1024 and not fig["target_met"]
    assert fig["bound"] == "sqlite"
    assert "not met only because of that fixed cost" in footprint.verdict(fig)


@pytest.mark.parametrize(
    ("loaded_mib", "bound"),
    [(60.0, "sqlite"), (69.0, "sqlite"), (75.0, "per-file")],  # the database is 10 MiB
)
def test_memory_that_grows_less_than_the_database_is_bounded_by_sqlite(loaded_mib, bound):
    loaded = {k: {"rss_mib": loaded_mib, "peak_rss_mib": loaded_mib} for k in ("nn1", "nn2")}
    fig = footprint.per_file(scale(memory_after_start=loaded))
    assert fig["bound"] == bound


def test_without_an_empty_baseline_the_bound_is_unknown():
    sc = scale()
    del sc["memory_empty"]
    fig = footprint.per_file(sc)
    assert fig["bound"] == "unknown" and fig["growth_bytes"] is None
    assert "no empty-namespace baseline" in footprint.verdict(fig)
    assert [r[0] for r in footprint.rows(fig)] == [
        "resident memory per file per replica",
        "database per file (on disk)",
    ]


def test_the_verdict_names_the_clause_that_applies():
    sqlite = footprint.verdict(footprint.per_file(scale()))
    assert "**bounded by SQLite**" in sqlite and "met as well" in sqlite
    assert "100,000 files" in sqlite and "0.707 KiB per file per replica" in sqlite
    grown = {k: {"rss_mib": 200.0, "peak_rss_mib": 200.0} for k in ("nn1",)}
    heap = footprint.per_file(scale(memory_after_start=grown, memory=grown))
    text = footprint.verdict(heap)
    assert "the 1 KiB per file target applies" in text and "**not met**" in text


def test_console_line():
    line = footprint.console(scale())
    assert line.startswith("memory: 724 B/file per replica (0.707 KiB; target <= 1 KiB met)")
    assert line.endswith("bound: sqlite")
