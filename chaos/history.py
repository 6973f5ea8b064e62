"""The operation history a chaos workload records and the checkers read.

One ``Op`` is one client call: who made it (``process``), which workload
(``kind``), what it did (``op``, ``key``, ``args``), when it started and returned
(``invoke``/``complete``, ``time.monotonic()`` seconds) and how it ended:

    ok       the call returned; ``result`` is what it returned
    fail     the call definitely had no effect (a domain error: FileNotFound...)
    unknown  it may or may not have taken effect (timeout, unavailable, crash)

A timeout is always *unknown*, never *fail*: the server may have applied it.

``History`` is appended to from many worker threads and saved as JSON Lines,
one op per line with the field names of ``Op``. Workloads record through
``History.invoke``::

    with history.invoke("c1", "register", "set", "/r/3", (7,)) as call:
        client.set_attr("/r/3", 7)      # no call.ok(): ok with result None
    with history.invoke("c1", "register", "get", "/r/3") as call:
        call.ok(client.get_attr("/r/3"))

An exception leaving the block is recorded (as fail or unknown, by the
history's classifier) and swallowed, so a worker loop simply moves on; the
exception stays on ``call.error``. An exception raised after ``call.ok(...)``
(or ``fail``/``unknown``) is not the call's and propagates. Calls still open
when ``ops()`` is taken are included as unknown with ``complete=None``.

Imports: the standard library and ``hafs_api.errors`` only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hafs_api import errors

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
OUTCOMES = (OK, FAIL, UNKNOWN)

Classifier = Callable[[BaseException], str]


@dataclass(frozen=True)
class Op:
    """One recorded client call. ``complete`` is None when it never returned."""

    process: str
    kind: str
    op: str
    key: str
    args: tuple = ()
    invoke: float = 0.0
    complete: float | None = None
    outcome: str = UNKNOWN
    result: Any = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "args": list(self.args)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Op:
        return cls(**{**data, "args": tuple(data.get("args", ()))})

    def describe(self, t0: float = 0.0) -> str:
        """One line for a report: times relative to ``t0``."""
        end = "?" if self.complete is None else f"{self.complete - t0:.3f}"
        args = ", ".join(json.dumps(a, default=str) for a in self.args)
        result = json.dumps(self.result, default=str)
        return (
            f"[{self.invoke - t0:.3f}..{end}] {self.process} {self.op}({args}) "
            f"{self.key} -> {self.outcome} {result}"
        )


def classify_error(exc: BaseException) -> str:
    """Default classifier: could the failed call have taken effect?

    Retryable hafs errors and deadlines are *unknown* (the server may have
    applied the call before failing), and so is ``InternalError`` (a server
    fault says nothing about whether the change was applied); other hafs errors
    are domain answers, so *fail*; anything else (a dropped connection, a bug)
    is *unknown*, as is a bare ``HafsError`` (no domain answer: a client-side
    give-up such as a write pipeline that lost every DataNode, after the file
    was created). Unknown is the safe side: it can weaken a check, never make a
    correct system look wrong.
    """
    if isinstance(exc, errors.HafsError):
        if exc.retryable or isinstance(exc, errors.DeadlineExceeded | errors.InternalError):
            return UNKNOWN
        if type(exc) is errors.HafsError:
            return UNKNOWN
        return FAIL
    return UNKNOWN


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Recorder:
    """Records one call: ``ok``/``fail``/``unknown`` decide how it ends, once. As a context
    manager it records an exception as the history's classifier says, or ok on a clean exit."""

    def __init__(self, history: History, process: str, kind: str, op: str, key: str, args):
        self._history = history
        self._pending = Op(process, kind, op, key, tuple(args), history.clock())
        self.error: BaseException | None = None
        self.recorded: Op | None = None

    def ok(self, result: Any = None) -> Any:
        self._finish(OK, result)
        return result

    def fail(self, reason: Any = None) -> None:
        self._finish(FAIL, reason)

    def unknown(self, reason: Any = None) -> None:
        self._finish(UNKNOWN, reason)

    def _finish(self, outcome: str, result: Any) -> None:
        if self.recorded is not None:
            raise RuntimeError(f"call already recorded as {self.recorded.outcome}")
        self.recorded = replace(
            self._pending, complete=self._history.clock(), outcome=outcome, result=result
        )
        self._history._close(self)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            if self.recorded is None:
                self.ok(None)
            return False
        if self.recorded is not None:  # raised after the outcome was recorded: not the call's
            return False
        if not isinstance(exc, Exception):  # KeyboardInterrupt and friends: record, propagate
            self.unknown(describe_error(exc))
            return False
        self.error = exc
        self._finish(self._history.classify(exc), describe_error(exc))
        return True


class History:
    """A thread-safe list of ops, saved and loaded as JSON Lines."""

    def __init__(
        self,
        ops: Iterable[Op] = (),
        *,
        classify: Classifier = classify_error,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.classify = classify
        self.clock = clock
        self._lock = threading.Lock()
        self._ops: list[Op] = list(ops)
        self._open: dict[int, Recorder] = {}

    def invoke(self, process: str, kind: str, op: str, key: str, args: Iterable = ()):
        """Start recording one call, now; use it as ``with ... as call``."""
        call = Recorder(self, process, kind, op, key, args)
        with self._lock:
            self._open[id(call)] = call
        return call

    def append(self, op: Op) -> None:
        with self._lock:
            self._ops.append(op)

    def _close(self, call: Recorder) -> None:
        with self._lock:
            self._open.pop(id(call), None)
            self._ops.append(call.recorded)

    def ops(self) -> list[Op]:
        """Every op by invoke time; calls still open are included as unknown."""
        with self._lock:
            ops = self._ops + [c._pending for c in self._open.values()]
        return sorted(ops, key=lambda o: o.invoke)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops())

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops) + len(self._open)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per workload (``kind``), how many ops ended ok, fail and unknown."""
        counts: dict[str, dict[str, int]] = {}
        for o in self.ops():
            counts.setdefault(o.kind, dict.fromkeys(OUTCOMES, 0))[o.outcome] += 1
        return counts

    def dumps(self) -> str:
        return "".join(json.dumps(o.to_json(), default=str) + "\n" for o in self.ops())

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps())

    @classmethod
    def loads(cls, text: str) -> History:
        return cls(Op.from_json(json.loads(line)) for line in text.splitlines() if line.strip())

    @classmethod
    def read(cls, path: str | Path) -> History:
        return cls.loads(Path(path).read_text())
