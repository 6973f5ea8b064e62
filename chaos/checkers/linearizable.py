"""Linearizability of the register workload: a WGL (Wing, Gong and Lowe) search per key.

A history is linearizable when every ``ok`` op can be given a point between its
invoke and complete at which the register model (``chaos.checkers.register``)
accepts it. ``fail`` ops had no effect and are dropped. An ``unknown`` op may
take effect at any time after its invoke, or never: its completion is +inf and
it is optional; an unknown ``get`` constrains nothing and is dropped.

The search is depth-first over "which op is linearized next". An op may go next
when it was invoked no later than the earliest completion among the ok ops not
yet linearized (ties count as concurrent). Exact reductions keep it small:
  - a state (ok ops linearized, register value) is explored once, and not again
    with more unknown ops spent than before (with fewer left, it can do less);
  - an ok op that is legal now and changes nothing (a get, a failed cas) goes
    next with no alternatives: moving it forward can break nothing;
  - an unknown op never goes where it would change nothing, and unknown ops of
    the same effect go in invoke order only (either can stand in for the other);
  - ok ops are tried before unknown ones.
It runs under a ``Budget`` per key; a key whose budget runs out is *unknown*,
and unknown fails the verdict. A violation or an exhausted search reports the
deepest point reached: the ok op no order could place next, with its neighbours.

Imports: the standard library, ``chaos.history`` and ``chaos.checkers``'s
``register`` and ``verdict``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chaos.checkers.register import UNREAD, RegisterOp, freeze, register_op, step
from chaos.checkers.verdict import EXCERPT_LINES, Verdict
from chaos.history import FAIL, OK, UNKNOWN, Op

LINEARIZABLE, VIOLATION = "ok", "violation"  # and UNKNOWN, from chaos.history


@dataclass(frozen=True)
class Budget:
    """Search limits for one key; exceeding any makes that key *unknown*."""

    max_ops: int = 10_000
    max_steps: int = 5_000_000
    seconds: float = 60.0


@dataclass(frozen=True)
class KeyResult:
    key: str
    verdict: str  # LINEARIZABLE, VIOLATION or UNKNOWN
    reason: str = ""
    excerpt: tuple[str, ...] = ()
    ops: int = 0
    steps: int = 0


def check_register(
    ops: Iterable[Op],
    *,
    kind: str | None = "register",
    initial: Any = None,
    budget: Budget | None = None,
) -> Verdict:
    """Check the register ops of ``kind`` (None: all ops), key by key."""
    budget = budget or Budget()
    ops = [o for o in ops if kind is None or o.kind == kind]
    t0 = min((o.invoke for o in ops), default=0.0)
    by_key: dict[str, list[Op]] = defaultdict(list)
    for o in ops:
        by_key[o.key].append(o)
    results = {k: check_key(k, by_key[k], initial, budget, t0) for k in sorted(by_key)}
    bad = [r for r in results.values() if r.verdict == VIOLATION]
    undecided = [r for r in results.values() if r.verdict == UNKNOWN]
    details = {
        "keys": {
            k: {"verdict": r.verdict, "reason": r.reason, "ops": r.ops, "steps": r.steps}
            for k, r in results.items()
        },
        "violations": [r.key for r in bad],
        "unknown": [r.key for r in undecided],
    }
    if not bad and not undecided:
        summary = f"{len(results)} keys, {len(ops)} ops: linearizable"
        return Verdict("linearizable", True, summary, [], details)
    summary = f"{len(bad)} keys not linearizable, {len(undecided)} undecided of {len(results)}"
    first = (bad or undecided)[0]
    excerpt = [f"{first.key}: {first.reason}", *first.excerpt][: EXCERPT_LINES + 1]
    return Verdict("linearizable", False, summary, excerpt, details)


def check_key(key: str, ops: list[Op], initial: Any, budget: Budget, t0: float) -> KeyResult:
    """One key's history: drop what cannot matter, then search."""
    entries = sorted(
        (o for o in ops if o.outcome == OK or (o.outcome != FAIL and o.op != "get")),
        key=lambda o: o.invoke,
    )
    if len(entries) > budget.max_ops:
        reason = f"{len(entries)} ops exceed the budget of {budget.max_ops}"
        return KeyResult(key, UNKNOWN, reason, ops=len(entries))
    return _Search(key, entries, initial, budget, t0).run()


def _end(op: Op) -> float:
    return op.complete if op.outcome == OK and op.complete is not None else math.inf


def _lowest_zero(mask: int) -> int:
    return ((mask + 1) & ~mask).bit_length() - 1


def _bits(mask: int):
    """The indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        mask ^= low
        yield low.bit_length() - 1


class _Search:
    """One key's search. A frame is (lin, done, state, writer, cursor): the ops linearized
    (bits by invoke order), the ok ones among them (bits by completion order), the model
    state, the op whose value the register holds (-1: the initial one) and where to
    resume among the candidates (ok ops count 0..n-1, unknown ones n..2n-1)."""

    def __init__(self, key: str, entries: list[Op], initial: Any, budget: Budget, t0: float):
        self.key, self.entries, self.budget, self.t0 = key, entries, budget, t0
        self.initial = initial
        read = {freeze(o.result) for o in entries if o.op == "get"}
        read |= {freeze(o.args[0]) for o in entries if o.op == "cas"}
        self.model_ops: list[RegisterOp] = [register_op(o, read) for o in entries]
        self.start_state = freeze(initial) if freeze(initial) in read else UNREAD
        self.invokes = [o.invoke for o in entries]
        required = [i for i, o in enumerate(entries) if o.outcome == OK]
        self.must = sum(1 << i for i in required)
        self.by_end = sorted(required, key=lambda i: _end(entries[i]))  # ok ops by completion
        self.rank = {i: r for r, i in enumerate(self.by_end)}
        self.twin = self._previous_twins()
        self.unknown_sets = 0  # unknown ops that may change the state: every set, and
        self.unknown_cas: dict[Any, int] = defaultdict(int)  # each cas in its expected state
        for i, m in enumerate(self.model_ops):
            if entries[i].outcome == UNKNOWN and m.op == "set":
                self.unknown_sets |= 1 << i
            elif entries[i].outcome == UNKNOWN and m.op == "cas":
                self.unknown_cas[m.expected] |= 1 << i
        self.steps = 0

    def run(self) -> KeyResult:
        n, rank = len(self.entries), self.rank
        all_done = (1 << len(self.by_end)) - 1
        deadline = time.monotonic() + self.budget.seconds
        lin, done, state, writer, cursor = 0, 0, self.start_state, -1, 0
        stack: list[tuple[int, int, Any, int, int]] = []
        seen: dict[tuple[int, Any], list[int]] = {}  # (done, state) -> unknown ops spent
        self.best = (0, 0, -1)  # (ok ops linearized, done, writer) at the deepest point
        while done != all_done:
            limit = bisect.bisect_right(self.invokes, self._next_deadline(done))
            moved = False
            window = ~lin & ((1 << limit) - 1)
            optional = window & (self.unknown_sets | self.unknown_cas.get(state, 0))
            for i, resume in self._candidates(window & self.must, optional, state, cursor):
                cursor = resume
                if self.twin[i] >= 0 and not lin >> self.twin[i] & 1:
                    continue
                self.steps += 1
                if self.steps > self.budget.max_steps or (
                    self.steps % 1024 == 0 and time.monotonic() > deadline
                ):
                    reason = f"search budget exhausted after {self.steps} steps"
                    return self._result(UNKNOWN, reason)
                legal, after = step(state, self.model_ops[i])
                if not legal or (after == state and i not in rank):
                    continue  # an unknown op that changes nothing need never take effect
                new_lin = lin | 1 << i
                new_done = done | (1 << rank[i] if i in rank else 0)
                if _explored(seen, (new_done, after), new_lin & ~self.must):
                    continue
                stack.append((lin, done, state, writer, cursor))
                writer = i if self.model_ops[i].op != "get" and after != state else writer
                lin, done, state, cursor, moved = new_lin, new_done, after, 0, True
                break
            if moved:
                if done.bit_count() > self.best[0]:
                    self.best = (done.bit_count(), done, writer)
                continue
            if not stack:
                count, _, held = self.best
                held_value = self.initial if held < 0 else self._value(self.entries[held])
                reason = f"after {count} ok ops the register can hold {held_value!r}"
                return self._result(VIOLATION, reason)
            lin, done, state, writer, cursor = stack.pop()
        return KeyResult(self.key, LINEARIZABLE, ops=n, steps=self.steps)

    def _next_deadline(self, done: int) -> float:
        """The earliest completion among the ok ops not linearized yet."""
        return _end(self.entries[self.by_end[_lowest_zero(done)]])

    def _candidates(self, required: int, optional: int, state: Any, cursor: int):
        """(op, cursor to resume after it). A fresh frame whose state admits an ok op that
        changes nothing (a get, a failed cas) offers only that op: it can go next in any
        linearization that exists. Otherwise ok ops come first, then unknown ones."""
        n = len(self.entries)
        if cursor == 0:
            for i in _bits(required):
                s = self.model_ops[i]
                if s.op != "set" and step(state, s) == (True, state):
                    yield i, 2 * n
                    return
        for mask, base in ((required, 0), (optional, n)):
            for i in _bits(mask & ~((1 << max(0, cursor - base)) - 1)):
                yield i, base + i + 1

    def _previous_twins(self) -> list[int]:
        """For each unknown op, the previous unknown op with the same effect (or -1): either
        can stand in for the other, so the later one goes only after the earlier."""
        last: dict[RegisterOp, int] = {}
        twin = [-1] * len(self.entries)
        for i, o in enumerate(self.entries):
            if o.outcome == UNKNOWN:
                twin[i] = last.get(self.model_ops[i], -1)
                last[self.model_ops[i]] = i
        return twin

    @staticmethod
    def _value(op: Op) -> Any:
        return op.args[0] if op.op == "set" else op.args[1]

    def _result(self, verdict: str, reason: str) -> KeyResult:
        """The ok op that could not go next at the deepest point, and the ops nearest it."""
        stuck = self.entries[self.by_end[_lowest_zero(self.best[1])]]

        def distance(o: Op) -> float:
            if _end(o) < stuck.invoke:
                return stuck.invoke - _end(o)
            return max(0.0, o.invoke - _end(stuck))

        near = sorted(sorted(self.entries, key=distance)[:EXCERPT_LINES], key=lambda o: o.invoke)
        excerpt = tuple(("!! " if o is stuck else "   ") + o.describe(self.t0) for o in near)
        reason += f"; nothing lets {stuck.op} -> {stuck.result!r} ({stuck.process}) go next"
        n = len(self.entries)
        return KeyResult(self.key, verdict, reason, excerpt, ops=n, steps=self.steps)


def _explored(seen: dict[tuple[int, Any], list[int]], config: tuple[int, Any], used: int) -> bool:
    """Record a state reached; True if it was reached before with a subset of these unknown
    ops used: with more unknown ops left to spend, that one could do all this one can."""
    masks = seen.setdefault(config, [])
    if any(u & ~used == 0 for u in masks):
        return True
    masks[:] = [u for u in masks if used & ~u != 0]
    masks.append(used)
    return False
