"""No acknowledged write lost: the set and data workloads.

Set workload (``kind="set"``): ``create`` ops, one element each (``key``, e.g.
a path), and at the end a ``list`` op whose ``result`` is every element present.
  - an element whose create was acknowledged (``ok``) must be present ("lost");
  - an element whose every create failed definitely must not be ("failed write
    visible"), nor one never created at all ("never written");
  - an element whose create was ``unknown`` may be either.

Data workload (``kind="data"``): ``write`` ops with ``key`` the path and
``args[0]`` the sha256 hex of what was written, then final verification
``read`` ops whose ``result`` is the sha256 hex of what came back (a failed
read means the file is missing). Every file with an acknowledged write must
read back as a sha256 it may hold: that of the last acknowledged write, or of a
write concurrent with or after it (an unknown write never ends). The last read
of each path, by invoke time, is its final read.

Imports: the standard library, ``chaos.history`` and ``chaos.checkers.verdict``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from chaos.checkers.verdict import EXCERPT_LINES, Verdict
from chaos.history import FAIL, OK, UNKNOWN, Op


def _of_kind(ops: Iterable[Op], kind: str | None) -> list[Op]:
    return sorted((o for o in ops if kind is None or o.kind == kind), key=lambda o: o.invoke)


def check_set(
    ops: Iterable[Op], *, kind: str | None = "set", final: Iterable[str] | None = None
) -> Verdict:
    """Creates against the final read: ``final``, or the last ok ``list`` op's result."""
    ops = _of_kind(ops, kind)
    t0 = ops[0].invoke if ops else 0.0
    if final is None:
        reads = [o for o in ops if o.op == "list" and o.outcome == OK]
        if not reads:
            return Verdict("set", False, "no successful final read of the set")
        final = max(reads, key=lambda o: o.complete or 0.0).result
    present = set(final)
    attempts: dict[str, list[Op]] = defaultdict(list)
    for o in ops:
        if o.op == "create":
            attempts[o.key].append(o)
    outcomes = {k: {o.outcome for o in v} for k, v in attempts.items()}
    acked = {k for k, s in outcomes.items() if OK in s}
    maybe = {k for k, s in outcomes.items() if OK not in s and UNKNOWN in s}
    failed = {k for k, s in outcomes.items() if s == {FAIL}}
    problems = {
        "lost": sorted(acked - present),
        "failed write visible": sorted(failed & present),
        "never written": sorted(present - set(attempts)),
    }
    excerpt = [
        f"{what}: " + (attempts[k][0].describe(t0) if k in attempts else k)
        for what, keys in problems.items()
        for k in keys
    ][:EXCERPT_LINES]
    details = {
        "acknowledged": len(acked),
        "unknown": len(maybe),
        "unknown_present": len(maybe & present),
        "failed": len(failed),
        "present": len(present),
        **{what.replace(" ", "_"): keys for what, keys in problems.items()},
    }
    counts = ", ".join(f"{len(keys)} {what}" for what, keys in problems.items() if keys)
    if counts:
        return Verdict("set", False, counts, excerpt, details)
    summary = (
        f"{len(acked)} acknowledged creates all present; "
        f"{len(maybe & present)} of {len(maybe)} unknown present; {len(failed)} failed absent"
    )
    return Verdict("set", True, summary, [], details)


def _end(op: Op) -> float:
    return op.complete if op.outcome == OK and op.complete is not None else math.inf


def allowed_digests(writes: list[Op]) -> set[str]:
    """The sha256s a file may end with: writes not superseded by a later acknowledged one."""
    acked = [w for w in writes if w.outcome == OK]
    return {
        w.args[0]
        for w in writes
        if w.outcome != FAIL and not any(_end(w) < a.invoke for a in acked)
    }


def check_data(
    ops: Iterable[Op], *, kind: str | None = "data", final: Mapping[str, str | None] | None = None
) -> Verdict:
    """Acknowledged writes against the final reads: ``final`` (path -> sha256, None for
    missing) or, by default, the last ``read`` op of each path in the history."""
    ops = _of_kind(ops, kind)
    t0 = ops[0].invoke if ops else 0.0
    writes: dict[str, list[Op]] = defaultdict(list)
    for o in ops:
        if o.op == "write":
            writes[o.key].append(o)
    if final is None:
        last = {o.key: o for o in ops if o.op == "read"}  # ops are in invoke order
        seen = {p: (o.result if o.outcome == OK else None, o.outcome) for p, o in last.items()}
    else:
        seen = {p: (sha, OK if sha is not None else FAIL) for p, sha in final.items()}
    problems: dict[str, list[str]] = {"missing": [], "mismatch": [], "unverified": []}
    checked = 0
    for path in sorted(p for p, ws in writes.items() if any(w.outcome == OK for w in ws)):
        checked += 1
        sha, outcome = seen.get(path, (None, None))
        if outcome is None or outcome == UNKNOWN:
            problems["unverified"].append(path)
        elif outcome == FAIL:
            problems["missing"].append(path)
        elif sha not in allowed_digests(writes[path]):
            problems["mismatch"].append(path)
    excerpt = []
    for what, paths in problems.items():
        for path in paths:
            write = next(w for w in writes[path] if w.outcome == OK)
            got = seen.get(path, (None, None))[0]
            excerpt.append(f"{what}: {write.describe(t0)} read back {got!r}")
    unknown = sum(1 for ws in writes.values() if all(w.outcome == UNKNOWN for w in ws))
    details = {"acknowledged": checked, "unknown": unknown, **problems}
    counts = ", ".join(f"{len(paths)} {what}" for what, paths in problems.items() if paths)
    if counts:
        return Verdict(
            "data", False, f"{counts} of {checked} files", excerpt[:EXCERPT_LINES], details
        )
    summary = f"{checked} acknowledged files read back with their sha256; {unknown} unknown writes"
    return Verdict("data", True, summary, [], details)
