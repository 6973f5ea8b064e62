"""The chaos checkers, proven: good histories pass and known-bad ones are caught.

Pure and fast: hand-written histories (times in seconds on a made-up clock),
plus Hypothesis histories generated from a real register.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chaos.checkers
from chaos.checkers import (
    Budget,
    StateRecord,
    Verdict,
    check_data,
    check_leaders,
    check_prefix,
    check_register,
    check_set,
    elections,
    parse_state_log,
    read_state_log,
)
from chaos.history import FAIL, OK, UNKNOWN, History, Op
from hafs_api import errors

ROOT = Path(__file__).resolve().parents[2]


def reg(op, key, args, invoke, complete, result=None, outcome=OK, process="c1"):
    if outcome == UNKNOWN:
        complete = None
    return Op(process, "register", op, key, tuple(args), invoke, complete, outcome, result)


def s(v, t0, t1, outcome=OK, key="/r", process="c1"):
    return reg("set", key, (v,), t0, t1, outcome=outcome, process=process)


def g(v, t0, t1, outcome=OK, key="/r", process="c2"):
    return reg("get", key, (), t0, t1, v, outcome, process)


def cas(expected, new, ok, t0, t1, outcome=OK, key="/r", process="c1"):
    return reg("cas", key, (expected, new), t0, t1, ok, outcome, process)


# -- history ---------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_a_call_records_its_result_times_and_outcome():
    h = History(clock=Clock())
    with h.invoke("c1", "register", "get", "/r/1") as call:
        assert call.ok(7) == 7
    with h.invoke("c1", "register", "set", "/r/1", [8]):
        pass  # no explicit outcome: ok, result None
    with h.invoke("c2", "register", "cas", "/r/1", (8, 9)) as call:
        call.fail("precondition")
    assert h.ops() == [
        Op("c1", "register", "get", "/r/1", (), 1.0, 2.0, OK, 7),
        Op("c1", "register", "set", "/r/1", (8,), 3.0, 4.0, OK, None),
        Op("c2", "register", "cas", "/r/1", (8, 9), 5.0, 6.0, FAIL, "precondition"),
    ]


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (errors.FileNotFound("no such file", "/x"), FAIL),
        (errors.FileAlreadyExists("exists", "/x"), FAIL),
        (errors.Unavailable("no leader"), UNKNOWN),
        (errors.NotLeader("ask nn2"), UNKNOWN),
        (errors.DeadlineExceeded("timed out"), UNKNOWN),
        (errors.InternalError("server bug"), UNKNOWN),
        (errors.HafsError("every DataNode of the pipeline failed"), UNKNOWN),
        (TimeoutError(), UNKNOWN),
        (ConnectionResetError(), UNKNOWN),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_an_exception_is_classified_recorded_and_swallowed(exc, outcome):
    h = History()
    with h.invoke("c1", "set", "create", "/s/1") as call:
        raise exc
    (op,) = h.ops()
    assert op.outcome == outcome
    assert op.result.startswith(type(exc).__name__)
    assert call.error is exc


def test_the_classifier_is_pluggable_and_base_exceptions_propagate():
    h = History(classify=lambda exc: FAIL)
    with h.invoke("c1", "set", "create", "/s/1"):
        raise TimeoutError
    with pytest.raises(KeyboardInterrupt), h.invoke("c1", "set", "create", "/s/2"):
        raise KeyboardInterrupt
    assert [o.outcome for o in h.ops()] == [FAIL, UNKNOWN]


def test_a_call_is_recorded_once_and_later_errors_are_not_its_own():
    h = History()
    with pytest.raises(RuntimeError), h.invoke("c1", "set", "create", "/s/1") as call:
        call.ok()
        call.fail()
    with pytest.raises(ZeroDivisionError), h.invoke("c1", "set", "create", "/s/2") as call:
        call.ok(0)
        _ = 1 / 0  # the workload's own bug, after the call returned
    assert [(o.key, o.outcome) for o in h.ops()] == [("/s/1", OK), ("/s/2", OK)]


def test_outcomes_are_counted_per_workload():
    h = History([s(1, 0, 1), g(1, 2, 3, UNKNOWN), Op("c1", "set", "create", "/s/1", outcome=FAIL)])
    assert h.counts() == {
        "register": {OK: 1, FAIL: 0, UNKNOWN: 1},
        "set": {OK: 0, FAIL: 1, UNKNOWN: 0},
    }


def test_open_calls_are_unknown_with_no_completion():
    h = History(clock=Clock())
    h.invoke("c1", "register", "set", "/r", (1,))
    assert h.ops() == [Op("c1", "register", "set", "/r", (1,), 1.0, None, UNKNOWN, None)]


def test_many_threads_append_safely():
    h = History()

    def worker(n):
        for i in range(300):
            with h.invoke(f"c{n}", "set", "create", f"/s/{n}-{i}") as call:
                call.ok()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = h.ops()
    assert len(ops) == len({o.key for o in ops}) == 2400
    assert [o.invoke for o in ops] == sorted(o.invoke for o in ops)


def test_json_lines_round_trip_with_stable_field_names(tmp_path):
    h = History(
        [
            s(1, 0.5, 1.0),
            cas(1, [2, "x"], True, 1.5, 2.0),
            g({"a": 1}, 2.5, 3.0),
            s(3, 4.0, None, UNKNOWN),
        ]
    )
    path = tmp_path / "history.jsonl"
    h.write(path)
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    fields = ["process", "kind", "op", "key", "args", "invoke", "complete", "outcome", "result"]
    assert all(list(json.loads(line)) == fields for line in lines)
    assert History.read(path).ops() == h.ops()


def test_an_op_refuses_an_unknown_outcome():
    with pytest.raises(ValueError):
        Op("c1", "set", "create", "/s/1", outcome="timeout")


# -- linearizability ---------------------------------------------------------------------


def lin(ops, **kw) -> Verdict:
    return check_register(ops, **kw)


def test_a_sequential_register_history_is_linearizable():
    v = lin([g(None, 0, 1), s(1, 2, 3), g(1, 4, 5), cas(1, 2, True, 6, 7), cas(1, 3, False, 8, 9)])
    assert v.ok and v.name == "linearizable"
    assert v.details["keys"]["/r"]["verdict"] == "ok"


def test_a_stale_read_is_a_violation():
    v = lin([s(1, 0, 1), s(2, 2, 3), g(1, 4, 5), s(3, 6, 7)])
    assert not v.ok
    assert v.details["violations"] == ["/r"]
    assert v.excerpt[0] == (
        "/r: after 2 ok ops the register can hold 2; nothing lets get -> 1 (c2) go next"
    )
    stuck = [line for line in v.excerpt if line.startswith("!!")]
    assert len(stuck) == 1 and "get() /r -> ok 1" in stuck[0]


def test_a_lost_update_through_cas_is_a_violation():
    # two clients read 0 and both cas 0 -> x successfully: one update was lost
    ops = [
        s(0, 0, 1),
        g(0, 2, 3, process="c1"),
        g(0, 2, 3, process="c2"),
        cas(0, 1, True, 4, 6, process="c1"),
        cas(0, 2, True, 5, 7, process="c2"),
    ]
    assert not lin(ops).ok
    assert not lin([*ops[:3], cas(0, 1, True, 4, 5), cas(0, 2, True, 6, 7)]).ok


def test_a_failed_cas_that_should_have_won_is_a_violation():
    assert not lin([s(0, 0, 1), cas(0, 1, False, 2, 3)]).ok


@pytest.mark.parametrize(
    "ops",
    [
        # a read concurrent with a write may see either value
        [s(1, 0, 10), g(None, 1, 2), g(1, 3, 4), g(1, 11, 12)],
        # two concurrent writes may land in the opposite order of their invokes
        [s(1, 0, 5, process="a"), s(2, 1, 6, process="b"), g(1, 7, 8)],
        [s(1, 0, 5, process="a"), s(2, 1, 6, process="b"), g(2, 7, 8)],
        # a read that overlaps both writes, seeing the earlier one; one cas wins
        [s(1, 0, 2), s(2, 1, 3), g(1, 1.5, 4), cas(1, 5, True, 2.5, 5), g(5, 6, 7)],
        # ties in time count as concurrent
        [s(1, 0, 1), g(1, 1, 2), s(2, 2, 3), g(2, 3, 4)],
    ],
)
def test_concurrent_overlapping_ops_that_are_linearizable_pass(ops):
    assert lin(ops).ok


def test_concurrent_reads_cannot_see_values_flip_back():
    # both writes complete before the reads; the reads disagree on the last one
    ops = [s(1, 0, 5, process="a"), s(2, 1, 6, process="b"), g(1, 7, 8), g(2, 9, 10), g(1, 11, 12)]
    assert not lin(ops).ok


@pytest.mark.parametrize(
    "ops",
    [
        # an unknown write took effect
        [s(1, 0, 1), s(2, 2, None, UNKNOWN), g(2, 10, 11)],
        # it took effect late, long after the client gave up
        [s(1, 0, 1), s(2, 2, None, UNKNOWN), g(1, 3, 4), g(1, 5, 6), g(2, 7, 8)],
        # or never
        [s(1, 0, 1), s(2, 2, None, UNKNOWN), g(1, 3, 4)],
        # an unknown cas applied
        [s(1, 0, 1), cas(1, 3, None, 2, None, UNKNOWN), g(3, 4, 5)],
        # unknown and failed reads constrain nothing
        [s(1, 0, 1), g(7, 2, None, UNKNOWN), g("boom", 3, 4, FAIL), g(1, 5, 6)],
    ],
)
def test_unknown_ops_that_make_a_history_linearizable_pass(ops):
    assert lin(ops).ok


@pytest.mark.parametrize(
    "ops",
    [
        # the read saw 2 before the unknown write of 2 was even invoked
        [s(1, 0, 1), g(2, 2, 3), s(2, 4, None, UNKNOWN)],
        # an unknown write takes effect once: the register cannot go 2, 1, 2
        [s(1, 0, 1), s(2, 2, None, UNKNOWN), g(2, 3, 4), g(1, 5, 6), g(2, 7, 8)],
        # a definitely failed write must never be seen
        [s(1, 0, 1), s(5, 2, 3, FAIL), g(5, 4, 5)],
        # an unknown cas whose expected value never held cannot apply
        [s(1, 0, 1), cas(9, 3, None, 2, None, UNKNOWN), g(3, 4, 5)],
    ],
)
def test_unknown_ops_that_cannot_save_a_history_fail(ops):
    assert not lin(ops).ok


def test_each_unknown_write_takes_effect_at_most_once():
    # a failed cas(1, _) needs the register away from 1; each time, only an unknown write
    # (of a value nobody reads) can have moved it
    history = [
        s(1, 0, 1),
        s(7, 2, None, UNKNOWN, process="u1"),
        cas(1, 5, False, 3, 4),
        s(1, 5, 6),
        cas(1, 6, False, 7, 8),
    ]
    assert not lin(history).ok
    assert lin([*history, s(8, 2.5, None, UNKNOWN, process="u2")]).ok
    assert not lin([*history, s(8, 9, None, UNKNOWN, process="u2")]).ok  # too late


def test_keys_are_checked_independently():
    ops = [s(1, 0, 1, key="/a"), g(1, 2, 3, key="/a"), s(1, 0, 1, key="/b"), g(2, 2, 3, key="/b")]
    v = lin(ops)
    assert not v.ok
    assert v.details["violations"] == ["/b"]
    assert v.details["keys"]["/a"]["verdict"] == "ok"
    assert v.excerpt[0].startswith("/b: ")


def test_only_the_register_kind_is_checked_by_default():
    other = Op("c1", "set", "create", "/r", (), 0, 1, OK, None)
    assert lin([other, s(1, 2, 3)]).ok


def test_the_excerpt_is_short_and_centred_on_the_violation():
    ops = [s(i, 2 * i, 2 * i + 1) for i in range(50)]
    ops.append(g(3, 101, 102))  # stale: 49 was written last
    v = lin(ops)
    assert not v.ok
    assert 2 <= len(v.excerpt) <= 11
    assert v.excerpt[-1].startswith("!!")
    assert "set(49)" in v.excerpt[-2]


def test_an_exhausted_budget_is_unknown_and_counts_as_a_failure():
    # sixteen concurrent writes, then an impossible read: every order must be ruled out
    ops = [s(i, i * 0.01, 5, process=f"c{i}") for i in range(16)]
    ops.append(g("never", 6, 7))
    assert not lin(ops).ok and lin(ops).details["violations"] == ["/r"]
    v = lin(ops, budget=Budget(max_steps=200))
    assert not v.ok
    assert v.details["unknown"] == ["/r"] and v.details["violations"] == []
    assert "undecided" in v.summary
    assert v.excerpt[0].startswith("/r: search budget exhausted after 201 steps")
    assert any(line.startswith("!! ") and "get()" in line for line in v.excerpt)


def test_too_many_ops_for_one_key_is_unknown():
    v = lin([s(1, i, i + 0.5) for i in range(20)], budget=Budget(max_ops=10))
    assert not v.ok and v.details["unknown"] == ["/r"]


def test_a_large_concurrent_history_finishes_within_the_default_budget():
    ops = []
    for i in range(300):  # three clients, overlapping writes and reads of the last write
        ops.append(s(i, i, i + 2.5, process=f"w{i % 3}"))
        ops.append(g(i - 3 if i >= 3 else None, i + 0.1, i + 0.2))
    assert lin(ops).ok


# Hypothesis: histories produced by a real register.


OPS = st.one_of(
    st.tuples(st.just("get")),
    st.tuples(st.just("set"), st.integers(0, 4)),
    st.tuples(st.just("cas"), st.integers(0, 4), st.integers(0, 4)),
)


def run_register(commands, spans, key="/r"):
    """Apply commands to a real register; op i takes effect at time 10*i, inside its span."""
    value, ops = None, []
    for i, (cmd, (before, after)) in enumerate(zip(commands, spans, strict=True)):
        at = 10.0 * i
        t0, t1 = at - before, at + after
        if cmd[0] == "get":
            ops.append(g(value, t0, t1, key=key, process=f"c{i % 4}"))
        elif cmd[0] == "set":
            value = cmd[1]
            ops.append(s(cmd[1], t0, t1, key=key, process=f"c{i % 4}"))
        else:
            won = value == cmd[1]
            value = cmd[2] if won else value
            ops.append(cas(cmd[1], cmd[2], won, t0, t1, key=key, process=f"c{i % 4}"))
    return ops


@st.composite
def histories(draw, overlap: bool):
    commands = draw(st.lists(OPS, min_size=1, max_size=30))
    width = st.floats(0.0, 25.0 if overlap else 4.0)
    spans = [(draw(width), draw(width)) for _ in commands]
    return run_register(commands, spans)


@settings(max_examples=150, deadline=None)
@given(histories(overlap=False))
def test_sequential_histories_of_a_real_register_are_linearizable(ops):
    assert lin(ops).ok


@settings(max_examples=150, deadline=None)
@given(histories(overlap=True))
def test_concurrent_histories_of_a_real_register_are_linearizable(ops):
    assert lin(ops).ok


@settings(max_examples=150, deadline=None)
@given(histories(overlap=False), st.data())
def test_one_read_of_a_never_written_value_is_caught(ops, data):
    gets = [i for i, o in enumerate(ops) if o.op == "get"]
    if gets:
        i = data.draw(st.sampled_from(gets))
        ops[i] = replace(ops[i], result=99)  # 99 is never written
    else:
        ops.append(g(99, 10.0 * len(ops), 10.0 * len(ops) + 1))
    v = lin(ops)
    assert not v.ok and v.details["violations"] == ["/r"]


# Differential: the search agrees with brute force over every order of small histories.


def brute_force_linearizable(ops) -> bool:
    """Try every subset of the unknown ops and every order; an independent register model."""
    done = [o for o in ops if o.outcome == OK]
    maybe = [o for o in ops if o.outcome == UNKNOWN]

    def end(o):
        return o.complete if o.outcome == OK else float("inf")

    def legal(order) -> bool:
        if any(end(b) < a.invoke for i, a in enumerate(order) for b in order[i + 1 :]):
            return False  # b finished before a started, yet is placed after it
        value = None
        for o in order:
            if o.op == "get" and o.result != value:
                return False
            if o.op == "set":
                value = o.args[0]
            if o.op == "cas":
                holds = value == o.args[0]
                if o.outcome == OK and o.result != holds:
                    return False
                value = o.args[1] if holds else value
        return True

    for r in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, r):
            if any(legal(order) for order in itertools.permutations(done + list(extra))):
                return True
    return False


VALUES = st.sampled_from([None, 0, 1, 2])


@st.composite
def arbitrary_histories(draw):
    ops = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["get", "set", "cas"]))
        outcome = draw(st.sampled_from([OK, OK, OK, UNKNOWN, FAIL]))
        t0 = draw(st.integers(0, 8)) / 2
        t1 = t0 + draw(st.integers(0, 6)) / 2
        if kind == "get":
            op = g(draw(VALUES), t0, t1, outcome, process=f"c{i}")
        elif kind == "set":
            op = s(draw(st.integers(0, 2)), t0, t1, outcome, process=f"c{i}")
        else:
            expected, new, won = draw(VALUES), draw(st.integers(0, 2)), draw(st.booleans())
            op = cas(expected, new, won, t0, t1, outcome, process=f"c{i}")
        ops.append(op)
    return ops


@settings(max_examples=400, deadline=None)
@given(arbitrary_histories())
def test_the_search_agrees_with_brute_force(ops):
    assert lin(ops).ok == brute_force_linearizable(ops)


# -- writes --------------------------------------------------------------------------------


def create(key, t0, outcome=OK, process="c1"):
    complete = None if outcome == UNKNOWN else t0 + 1
    return Op(process, "set", "create", key, (), t0, complete, outcome, None)


def listing(keys, t0=100):
    return Op("reader", "set", "list", "/s", (), t0, t0 + 1, OK, sorted(keys))


def test_a_set_with_every_acknowledged_create_present_passes():
    ops = [
        create("/s/1", 0),
        create("/s/2", 1),
        create("/s/3", 2, UNKNOWN),  # present
        create("/s/4", 3, UNKNOWN),  # absent
        create("/s/5", 4, FAIL),
        listing(["/s/1", "/s/2", "/s/3"]),
    ]
    v = check_set(ops)
    assert v.ok, v
    assert v.details["acknowledged"] == 2 and v.details["unknown_present"] == 1


def test_a_lost_acknowledged_create_is_caught():
    v = check_set([create("/s/1", 0), create("/s/2", 1), listing(["/s/1"])])
    assert not v.ok
    assert v.details["lost"] == ["/s/2"]
    assert v.excerpt[0].startswith("lost: ") and "/s/2" in v.excerpt[0]


def test_a_definitely_failed_create_that_is_visible_is_caught():
    v = check_set([create("/s/1", 0), create("/s/2", 1, FAIL), listing(["/s/1", "/s/2"])])
    assert not v.ok
    assert v.details["failed_write_visible"] == ["/s/2"]


def test_an_element_nobody_created_is_caught():
    v = check_set([create("/s/1", 0)], final=["/s/1", "/s/zz"])
    assert not v.ok and v.details["never_written"] == ["/s/zz"]


def test_a_retried_create_that_failed_with_exists_after_an_unknown_one_is_fine():
    ops = [create("/s/1", 0, UNKNOWN), create("/s/1", 5, FAIL), listing(["/s/1"])]
    assert check_set(ops).ok


def test_the_last_listing_is_the_final_read_and_one_is_required():
    ops = [create("/s/1", 0), listing([], t0=0.5), listing(["/s/1"], t0=100)]
    assert check_set(ops).ok
    assert not check_set([create("/s/1", 0)]).ok


SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def write(path, sha, t0, t1, outcome=OK):
    return Op("w1", "data", "write", path, (sha, 1024), t0, t1, outcome, None)


def read(path, sha, t0=100, outcome=OK):
    return Op("v1", "data", "read", path, (), t0, t0 + 1, outcome, sha)


def test_data_that_reads_back_with_its_sha256_passes():
    ops = [
        write("/d/1", SHA_A, 0, 1),
        write("/d/2", SHA_B, 2, None, UNKNOWN),  # never finished: not required
        write("/d/3", SHA_C, 3, 4, FAIL),
        read("/d/1", SHA_A),
        read("/d/2", "garbage", outcome=FAIL),
    ]
    v = check_data(ops)
    assert v.ok, v
    assert v.details["acknowledged"] == 1 and v.details["unknown"] == 1


def test_a_file_whose_sha256_differs_is_caught():
    v = check_data(
        [write("/d/1", SHA_A, 0, 1), write("/d/2", SHA_B, 0, 1)],
        final={
            "/d/1": SHA_A,
            "/d/2": SHA_C,
        },
    )
    assert not v.ok and v.details["mismatch"] == ["/d/2"]
    assert v.excerpt[0].startswith("mismatch: ") and repr(SHA_C) in v.excerpt[0]


def test_missing_and_unverified_files_are_caught():
    ops = [
        write("/d/1", SHA_A, 0, 1),
        write("/d/2", SHA_B, 0, 1),
        write("/d/3", SHA_C, 0, 1),
        read("/d/1", "FileNotFound: /d/1", outcome=FAIL),
        read("/d/2", None, outcome=UNKNOWN),
    ]
    v = check_data(ops)
    assert not v.ok
    assert v.details["missing"] == ["/d/1"]
    assert v.details["unverified"] == ["/d/2", "/d/3"]


def test_the_last_read_of_a_path_decides():
    ops = [write("/d/1", SHA_A, 0, 1), read("/d/1", SHA_A, t0=5), read("/d/1", None, 9, FAIL)]
    assert check_data(ops).details["missing"] == ["/d/1"]


def test_an_overwritten_file_must_hold_the_last_acknowledged_or_a_concurrent_write():
    seq = [write("/d/1", SHA_A, 0, 1), write("/d/1", SHA_B, 2, 3)]
    assert check_data(seq, final={"/d/1": SHA_B}).ok
    assert not check_data(seq, final={"/d/1": SHA_A}).ok
    concurrent = [write("/d/1", SHA_A, 0, 3), write("/d/1", SHA_B, 1, 2)]
    assert check_data(concurrent, final={"/d/1": SHA_A}).ok
    late_unknown = [*seq, write("/d/1", SHA_C, 4, None, UNKNOWN)]
    assert check_data(late_unknown, final={"/d/1": SHA_C}).ok


# -- leaders ---------------------------------------------------------------------------------


def rec(term, state, node, time, ns="ns1"):
    return StateRecord(term, state, node, ns, time)


def test_the_state_log_parses_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "raft-states.log"
    path.write_text(
        '{"term": 1, "state": "candidate", "node": "nn1", "nameservice": "ns1", "time": 1.5}\n'
        '{"term": 1, "state": "leader", "node": "nn1", "nameservice": "ns1", "time": 1.75}\n'
        '{"term": 1, "state": "sleeping", "node": "nn1", "nameservice": "ns1", "time": 2}\n'
        '{"term": 2, "state": "follo'
    )
    assert read_state_log(path) == [rec(1, "candidate", "nn1", 1.5), rec(1, "leader", "nn1", 1.75)]
    assert parse_state_log("") == []


def test_leaders_in_different_terms_pass():
    records = [
        rec(1, "leader", "nn1", 1),
        rec(1, "follower", "nn2", 1.1),
        rec(2, "candidate", "nn2", 5),
        rec(2, "leader", "nn2", 5.2),
        rec(2, "follower", "nn1", 6),
        rec(2, "leader", "nn2", 7),  # the same leader reporting again
        rec(1, "leader", "nn9", 1, ns="ns2"),  # another nameservice's term 1
    ]
    v = check_leaders(records)
    assert v.ok, v
    assert v.details["terms_with_leader"] == 3


def test_two_leaders_in_one_term_are_caught():
    records = [rec(3, "leader", "nn1", 1), rec(3, "leader", "nn2", 2), rec(4, "leader", "nn3", 3)]
    v = check_leaders(records)
    assert not v.ok
    assert v.details["split_terms"] == [{"nameservice": "ns1", "term": 3, "nodes": ["nn1", "nn2"]}]
    assert v.excerpt[0] == "ns1 term 3: leaders nn1, nn2"


def test_a_term_going_backwards_on_one_node_is_caught():
    v = check_leaders([rec(5, "follower", "nn1", 1), rec(4, "follower", "nn1", 2)])
    assert not v.ok and v.details["terms_backwards"] == 1


def test_election_times_run_from_the_loss_to_the_next_leader_of_a_higher_term():
    records = [
        rec(1, "leader", "nn1", 1.0),
        rec(2, "leader", "nn2", 12.0),  # killed nn1 at 10
        rec(2, "leader", "nn2", 13.0),
        rec(3, "leader", "nn3", 24.0),  # killed nn2 at 20
        rec(1, "leader", "x1", 2.0, ns="ns2"),  # ns2 lost its leader at 30, never recovered
    ]
    e = elections(records, [("ns1", 10.0), ("ns1", 20.0), ("ns2", 30.0)])
    assert e.durations == (2.0, 4.0)
    assert e.median == 3.0 and e.max == 4.0 and e.unresolved == 1
    empty = elections([], [])
    assert empty.median is None and empty.max is None


# -- applied prefix ---------------------------------------------------------------------------


def test_replicas_that_agree_on_their_shared_prefix_pass():
    a = [(1, "h1"), (2, "h2"), (3, "h3")]
    v = check_prefix({"nn1": a, "nn2": a[:2], "nn3": list(reversed(a)), "nn4": []})
    assert v.ok, v
    assert v.details["indices_compared"] == 3


def test_a_divergent_applied_prefix_is_caught_at_its_first_index():
    v = check_prefix(
        {
            "nn1": [(1, "h1"), (2, "h2"), (3, "h3"), (4, "h4")],
            "nn2": [(1, "h1"), (2, "h2"), (3, "XX"), (4, "YY")],
        }
    )
    assert not v.ok
    assert v.details["index"] == 3 and v.details["agreed"] == 2
    assert v.excerpt == [
        "first divergence at index 3; all agreed up to 2",
        "   nn1: h3",
        "   nn2: XX",
    ]


def test_a_replica_disagreeing_with_itself_is_caught():
    v = check_prefix({"nn1": [(1, "h1"), (1, "h1'")], "nn2": [(1, "h1")]})
    assert not v.ok and v.details["index"] == 1


# -- the package ---------------------------------------------------------------------------------


def test_the_checkers_api_is_pinned():
    assert chaos.checkers.__all__ == [
        "Budget",
        "Elections",
        "StateRecord",
        "Verdict",
        "check_data",
        "check_leaders",
        "check_prefix",
        "check_register",
        "check_set",
        "elections",
        "parse_state_log",
        "read_state_log",
    ]


def test_a_verdict_prints_and_serializes():
    v = Verdict("leaders", False, "1 term with two leaders", ["ns1 term 3: leaders a, b"])
    assert str(v) == "FAIL leaders: 1 term with two leaders\n    ns1 term 3: leaders a, b"
    assert json.loads(json.dumps(v.to_json()))["excerpt"] == ["ns1 term 3: leaders a, b"]


@pytest.mark.parametrize(
    "path",
    [ROOT / "chaos" / "history.py", *sorted((ROOT / "chaos" / "checkers").glob("*.py"))],
    ids=lambda p: p.name,
)
def test_history_and_checkers_import_only_the_standard_library_and_hafs_api(path):
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module)
    tops = {m.split(".")[0] for m in modules} - {"__future__"}
    assert tops <= set(sys.stdlib_module_names) | {"hafs_api", "chaos"}
    chaos_modules = {m for m in modules if m.split(".")[0] == "chaos"}
    assert all(m == "chaos.history" or m.startswith("chaos.checkers") for m in chaos_modules)
