"""docs/benchmarks.md and its plots from a results dictionary, with any benchmark missing."""

from __future__ import annotations

import pytest
from bench_results import SECTIONS, result

from benchmarks import plots, report, summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_full_report_has_every_section_and_links_every_plot():
    text = report.markdown(result())
    for heading in SECTIONS.values():
        assert heading in text
    for name in ("metadata", "raftceiling", "failover", "datapath", "memory"):
        assert f"](benchmarks/{name}.png)" in text
    assert "NameNode memory per file per replica" in text
    assert "**bounded by SQLite**" in text
    assert "Ceiling ratio, at C=64, hafs mkdir" in text


@pytest.mark.parametrize("missing", sorted(SECTIONS))
def test_a_missing_benchmark_leaves_out_its_section_and_nothing_else(missing):
    text = report.markdown(result(missing))
    assert SECTIONS[missing] not in text
    for name, heading in SECTIONS.items():
        if name != missing:
            assert heading in text


def test_the_raft_ceiling_ratio_needs_the_metadata_run_of_the_same_result():
    text = report.markdown(result("metadata"))
    assert "No `metadata` run to compare with." in text
    assert "](benchmarks/raftceiling.png)" in text  # the raw figures alone still plot


def test_a_result_with_no_benchmark_has_no_plots_section():
    text = report.markdown(result(*SECTIONS))
    assert "## Plots" not in text and "## Targets (issue 9)" in text
    assert text.count("not measured") >= 6  # every summary figure says so, none is quoted


def test_the_memory_target_row():
    rows = {x.figure: x for x in summary.lines(result())}
    mem = rows["NameNode memory per file per replica"]
    assert mem.met is True and mem.target == "<= 1 KiB, or bounded by SQLite"
    assert mem.hafs.startswith("724 B")
    rows = {x.figure: x for x in summary.lines(result("scale"))}
    mem = rows["NameNode memory per file per replica"]
    assert (mem.hafs, mem.met) == ("not measured", None)


def test_the_scale_console_states_memory_per_file():
    assert "memory: 724 B/file per replica" in report.scale_console(result()["scale"])


def test_the_end_of_run_console_shows_the_ceiling_ratio_when_both_ran():
    assert "raw pysyncobj" in report.targets_console(result())
    assert "raw pysyncobj" not in report.targets_console(result("raftceiling"))
    assert "raw pysyncobj" not in report.targets_console(result("metadata"))


def test_the_readme_summary_is_rewritten_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# hafs\n\nbefore\n{summary.BEGIN}\nold table\n{summary.END}\nafter\n")
    assert summary.replace_in(readme, result(), "Preface.")
    text = readme.read_text()
    assert text.startswith("# hafs\n\nbefore\n") and text.endswith(f"{summary.END}\nafter\n")
    assert "old table" not in text and "Preface." in text
    assert "| creates (create + complete), 64 in flight |" in text
    assert summary.replace_in(readme, result(), "Again.")  # idempotent: one table
    assert readme.read_text().count(summary.BEGIN) == 1
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not summary.replace_in(plain, result(), "x") and plain.read_text() == "no markers\n"


def test_the_shipped_readme_has_the_summary_markers():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert text.count(summary.BEGIN) == 1 and text.count(summary.END) == 1


def assert_png(path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 100 and height > 100


def test_every_plot_is_written_as_a_png(tmp_path):
    written = plots.write(result(), tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{p.name}.png" for p in plots.PLOTS)
    for path in written:
        assert_png(path)


@pytest.mark.parametrize("missing", sorted(SECTIONS))
def test_a_missing_benchmark_removes_its_plot_and_keeps_the_others(tmp_path, missing):
    plots.write(result(), tmp_path)
    partial = result(missing)
    written = plots.write(partial, tmp_path)
    names = {p.name for p in written}
    assert names == {p.name for p in tmp_path.iterdir()}  # no stale plot is left behind
    assert names == {f"{p.name}.png" for p in plots.available(partial)}
    expected_gone = {"scale": "memory.png"}.get(missing, f"{missing}.png")
    if missing == "metadata":
        assert "metadata.png" not in names and "raftceiling.png" in names
    else:
        assert expected_gone not in names
    for path in written:
        assert_png(path)
    links = "\n".join(plots.markdown(partial))
    assert all(f"benchmarks/{n}" in links for n in names)


def test_nothing_to_plot_writes_nothing(tmp_path):
    assert plots.write(result(*SECTIONS), tmp_path) == []
    assert plots.markdown(result(*SECTIONS)) == []


def test_the_series_pick_the_figures():
    r = result()
    assert plots.ceiling_series(r)["raw pysyncobj"] == {1: 1600.0, 16: 5000.0, 64: 6000.0}
    assert set(plots.ceiling_series(r)) == {"raw pysyncobj", "hafs mkdir", "hafs create"}
    assert plots.ceiling_series(result("metadata")).keys() == {"raw pysyncobj"}
    assert plots.failover_series(r) == [(0.4, 0.5), (0.4, 0.7), (0.4, 1.2)]
    assert [n for n, _, ceiling in plots.datapath_series(r) if ceiling] == [
        "grpc upload",
        "grpc download",
        "cp",
    ]
    assert list(plots.memory_series(r)) == [
        "empty namespace",
        "100,000 files",
        "100,000 files, peak",
    ]
    assert set(plots.metadata_series(r)) == {"3 NameNodes (Raft group)", "1 NameNode (no Raft)"}
