"""The store cost benchmark runs its commands for real (none may fail) and reports
microseconds and statement counts for each."""

from __future__ import annotations

from benchmarks import storecost


def test_a_small_run_reports_every_figure():
    result = storecost.run(ops=64, batch=32, repeats=1)
    f = result["figures"]
    for name in ("mkdir", "create", "complete", "resolve"):
        assert f[f"{name}_us"] > 0
    for name in ("mkdir", "create", "complete"):
        assert 1 <= f[f"{name}_statements"] < 50  # each command reads and writes rows
    assert (result["ops"], result["batch"], result["repeats"]) == (64, 32, 1)


def test_the_command_line_writes_json(tmp_path, capsys):
    out = tmp_path / "cost.json"
    assert (
        storecost.main(["--ops", "32", "--batch", "16", "--repeats", "1", "--out", str(out)]) == 0
    )
    assert '"figures"' in out.read_text()
    assert "mkdir" in capsys.readouterr().out
