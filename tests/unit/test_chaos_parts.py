"""The chaos run's pure parts: the fault plan, ``--faults`` parsing, the report and the
availability windows; no process is started."""

from __future__ import annotations

import json

import pytest

from chaos import faults, report
from chaos.checkers import Verdict
from chaos.faults import KINDS, FaultEvent, parse_kinds, plan
from chaos.runner import RunResult, _longest_gap


def test_every_round_of_the_plan_has_every_kind_once():
    order = plan(7, KINDS, 3 * len(KINDS) + 2)
    assert len(order) == 3 * len(KINDS) + 2
    for r in range(3):
        assert sorted(order[r * len(KINDS) : (r + 1) * len(KINDS)]) == sorted(KINDS)


def test_the_plan_is_a_function_of_the_seed():
    assert plan(11, KINDS, 40) == plan(11, KINDS, 40)
    assert plan(11, KINDS, 40) != plan(12, KINDS, 40)


def test_twenty_faults_cover_every_kind():
    assert set(plan(20261122, KINDS, 20)) == set(KINDS)


def test_every_kind_has_an_injector():
    assert set(faults.INJECT) == set(KINDS)
    assert len(KINDS) == 15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, KINDS),
        ("all", KINDS),
        ("kill-leader,full-disk", ("kill-leader", "full-disk")),
        ("network", faults.NETWORK_KINDS),
        ("kill-leader,kill-leader", ("kill-leader",)),
    ],
)
def test_parse_kinds(text, expected):
    assert parse_kinds(text) == expected


def test_an_unknown_fault_kind_is_named():
    with pytest.raises(ValueError, match="unknown fault 'kill-everything'"):
        parse_kinds("kill-leader,kill-everything")


def test_longest_gap_counts_the_edges():
    assert _longest_gap([2.0, 3.0, 9.0], 0.0, 10.0) == 6.0
    assert _longest_gap([], 0.0, 10.0) == 10.0
    assert _longest_gap([1.0, 11.0], 0.0, 10.0) == 9.0  # a time outside is ignored


def result(ok: bool) -> RunResult:
    verdicts = [
        Verdict("set", True, "12 acknowledged creates all present"),
        Verdict(
            "linearizable",
            ok,
            "1 keys not linearizable" if not ok else "fine",
            [] if ok else ["/chaos/reg/k01: get returned 7 after set(9) completed"],
        ),
    ]
    return RunResult(
        seed=42,
        config={
            "duration_s": 60.0,
            "faults": list(KINDS),
            "nameservices": 1,
            "namenodes": 3,
            "datanodes": 4,
            "network": True,
            "disks": True,
        },
        directory="/tmp/x",
        started=0.0,
        duration=70.0,
        faults=[
            FaultEvent("kill-leader", "ns1", ["nn1"], injected=1.0, healed=3.0, leader_lost=True),
            FaultEvent("kill-leader", "ns1", ["nn2"], injected=5.0, healed=7.0, leader_lost=True),
            FaultEvent("full-disk", "ns1", skipped="needs a tmpfs disk"),
        ],
        counts={"register": {"ok": 10, "fail": 1, "unknown": 2}},
        verdicts=verdicts,
        stats={
            "elections": {"count": 2, "unresolved": 0, "median_s": 0.8, "max_s": 1.1},
            "longest_without_write_s": 2.5,
            "longest_without_read_s": 1.5,
            "repair_times_s": [3.0, 5.0],
            "bytes_verified": 3 << 20,
            "replicas_verified": 9,
            "files_verified": 3,
            "errors": {
                "register": {"unknown": {"DeadlineExceeded": 2}, "fail": {"AccessDenied": 1}}
            },
        },
        unavailable={"split": "not root"},
    )


def test_the_report_names_the_seed_faults_operations_and_verdicts():
    page = report.text(result(ok=True))
    assert page.splitlines()[0] == "hafs chaos run: PASS"
    assert "seed 42" in page and "--seed 42" in page
    assert "kill-leader" in page and "(1 skipped)" in page
    assert "split" in page and "unavailable: not root" in page
    assert "register" in page and "10" in page
    assert "median 0.80 s, max 1.10 s" in page
    assert "longest with no write  2.50 s" in page
    assert "2 repairs, median 4.0 s, max 5.0 s" in page
    assert "3 files, 9 replicas, 3.0 MiB" in page
    assert "PASS set: 12 acknowledged creates all present" in page
    assert "unknown: 2 DeadlineExceeded" in page and "fail: 1 AccessDenied" in page


def test_error_kinds_counts_what_ended_each_call():
    from chaos.history import Op
    from chaos.runner import error_kinds

    ops = [
        Op("c1", "data", "write", "/a", outcome="fail", result="StorageFull: disk full"),
        Op("c1", "data", "write", "/b", outcome="unknown", result="DeadlineExceeded: 8 s"),
        Op("c2", "data", "write", "/c", outcome="unknown", result="DeadlineExceeded: 8 s"),
        Op("c2", "data", "write", "/d", outcome="ok"),
        Op("c2", "set", "create", "/e", outcome="unknown"),
    ]
    assert error_kinds(ops) == {
        "data": {"fail": {"StorageFull": 1}, "unknown": {"DeadlineExceeded": 2}},
        "set": {"unknown": {"no reply": 1}},
    }


def test_a_violation_fails_the_report_and_shows_its_excerpt():
    r = result(ok=False)
    assert not r.ok
    page = report.text(r)
    assert page.splitlines()[0] == "hafs chaos run: FAIL"
    assert "FAIL linearizable" in page
    assert "get returned 7 after set(9) completed" in page


def test_the_json_report_round_trips(tmp_path):
    path = tmp_path / "r.json"
    report.write_json(result(ok=False), path)
    data = json.loads(path.read_text())
    assert data["ok"] is False and data["seed"] == 42
    assert data["faults_by_type"]["kill-leader"] == {"injected": 2, "skipped": 0}
    assert data["faults_by_type"]["full-disk"] == {"injected": 0, "skipped": 1}
    assert [v["name"] for v in data["verdicts"]] == ["set", "linearizable"]


class _Fsck:
    """A client whose fsck reports the next count of unhealthy blocks (as under-replicated)."""

    def __init__(self, counts):
        self.counts = iter(counts)

    def fsck(self, path):
        from types import SimpleNamespace

        return SimpleNamespace(under_replicated=next(self.counts), corrupt=0, missing=0)


def test_the_health_sampler_times_repair_episodes():
    from chaos.verify import HealthSampler

    sampler = HealthSampler(_Fsck([0, 3, 5, 0, 0, 2]), poll=60)
    for _ in range(6):
        sampler.poll_once()
    sampler.stop()  # the thread never started: stop closes the open episode
    assert [worst for _, _, worst in sampler.episodes] == [5, 2]
    assert sampler.episodes[0][1] is not None and sampler.episodes[1][1] is None
    assert len(sampler.repair_times()) == 1
    first = sampler.samples[0][0]
    assert sampler.first_healthy_after(first) == first
    assert sampler.first_healthy_after(sampler.samples[1][0]) == sampler.samples[3][0]


def test_a_poller_survives_a_failing_poll():
    import threading

    from chaos.verify import Poller

    calls = threading.Event()

    class Flaky(Poller):
        n = 0

        def poll_once(self):
            self.n += 1
            if self.n == 1:
                raise RuntimeError("first poll fails")
            calls.set()

    poller = Flaky(poll=0.01).start()
    try:
        assert calls.wait(5)
    finally:
        poller.stop()
    assert poller.n >= 2
