"""Chaos runs against a real cluster: the CI run (in ``make test``), ``make chaos`` and
``make soak``.

Each run starts its own cluster in network namespaces on tmpfs disks (root), runs
the register, set and data workloads while the nemesis injects faults, heals,
and checks everything (``chaos.runner``). The report is printed either way; a
failed run keeps its directory (logs, history.jsonl, report.json) and names it.

- CI: a fixed seed, about 3-4 minutes, at least 20 faults covering every kind.
- ``make chaos``: about 10 minutes, two nameservices, a random seed (printed;
  ``HAFS_CHAOS_SEED=N`` replays it).
- ``make soak``: ``HAFS_SOAK_HOURS`` hours (default 1), 5 NameNodes per group.
"""

from __future__ import annotations

import os
import random
import shutil

import pytest

from chaos import report, runner
from chaos.disks import Disks
from chaos.faults import KINDS
from chaos.netns import Network

CI_SEED = 20261122


def needs_root() -> None:
    why = Network.available()
    if not why:
        pytest.skip(f"chaos runs need network namespaces: {why.reason}")
    if Disks.available():
        pytest.skip(f"chaos runs need tmpfs mounts: {Disks.available()}")


def chaos_run(tmp_path, cfg: runner.RunConfig) -> runner.RunResult:
    cfg.workdir = tmp_path
    cfg.keep = True
    result = runner.run(cfg)
    page = report.text(result)
    print(page)
    report.write_json(result, tmp_path / "report.json")
    if result.ok:
        shutil.rmtree(result.directory, ignore_errors=True)
    return result


def assert_passed(result: runner.RunResult) -> None:
    failed = [v for v in result.verdicts if not v.ok]
    assert not failed, (
        f"seed {result.seed}: " + "; ".join(str(v) for v in failed) + f" (see {result.directory})"
    )


@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_ci_chaos_run_with_every_fault_kind(tmp_path):
    needs_root()
    result = chaos_run(tmp_path, runner.RunConfig(duration=150.0, seed=CI_SEED, min_faults=20))
    injected = {e.kind for e in result.faults if not e.skipped}
    assert injected == set(KINDS), f"never injected: {sorted(set(KINDS) - injected)}"
    assert sum(1 for e in result.faults if not e.skipped) >= 20
    assert_passed(result)
    counts = result.counts
    assert all(counts[k]["ok"] > 0 for k in ("register", "set", "data")), counts
    assert result.stats["replicas_verified"] > 0


def seed_from_env() -> int:
    raw = os.environ.get("HAFS_CHAOS_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(1, 2**31)


@pytest.mark.chaos
@pytest.mark.timeout(2400)
def test_make_chaos(tmp_path):
    needs_root()
    seed = seed_from_env()
    print(f"\nchaos seed {seed} (replay: make chaos HAFS_CHAOS_SEED={seed})")
    result = chaos_run(
        tmp_path, runner.RunConfig(duration=540.0, seed=seed, nameservices=2, min_faults=40)
    )
    assert_passed(result)


@pytest.mark.soak
@pytest.mark.timeout(0)
def test_make_soak(tmp_path):
    needs_root()
    hours = float(os.environ.get("HAFS_SOAK_HOURS", "1"))
    seed = seed_from_env()
    print(f"\nsoak seed {seed}, {hours} h (replay: HAFS_CHAOS_SEED={seed})")
    result = chaos_run(
        tmp_path,
        runner.RunConfig(duration=hours * 3600, seed=seed, namenodes=5, nameservices=2),
    )
    assert_passed(result)
