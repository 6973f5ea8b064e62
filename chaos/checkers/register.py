"""The register model the linearizability checker runs: one value per key.

    get()                -> v      legal iff the register holds v
    set(v)               -> None   the register becomes v
    cas(expected, new)   -> True   legal iff it holds expected; it becomes new
                         -> False  legal iff it does not hold expected
    cas, outcome unknown           it becomes new if it holds expected, else no change

Values are JSON values, frozen to hashable ones. ``register_op`` also maps every
value that no op of the key ever reads (no get returns it, no cas expects it)
to the one value ``UNREAD``: no op can tell such values apart, and merging them
keeps the search small.

Imports: the standard library and ``chaos.history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos.history import UNKNOWN, Op


def freeze(value: Any) -> Any:
    """A hashable form of a JSON value (lists become tuples), so states can be memoized."""
    if isinstance(value, bool):  # True == 1 in Python, not in JSON
        return ("bool", value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    return value


class _Unread:
    def __repr__(self) -> str:
        return "<a value no op reads>"


UNREAD = _Unread()  # stands for every value that no get returns and no cas expects


@dataclass(frozen=True)
class RegisterOp:
    """One op as the model sees it, its values frozen and canonical."""

    op: str  # get, set or cas
    value: Any  # get: the value read; set, cas: the new value
    expected: Any = None  # cas only
    result: Any = None  # cas only: True, False or None (unknown)


def register_op(op: Op, read: set[Any]) -> RegisterOp:
    """``read``: the values some op looks at; any other value becomes UNREAD."""

    def canon(value: Any) -> Any:
        value = freeze(value)
        return value if value in read else UNREAD

    if op.op == "get":
        return RegisterOp("get", freeze(op.result))
    if op.op == "set":
        return RegisterOp("set", canon(op.args[0]))
    if op.op == "cas":
        result = None if op.outcome == UNKNOWN else bool(op.result)
        return RegisterOp("cas", canon(op.args[1]), freeze(op.args[0]), result)
    raise ValueError(f"not a register op: {op.op!r}")


def step(state: Any, s: RegisterOp) -> tuple[bool, Any]:
    """The register model: is ``s`` legal in ``state``, and the state after it."""
    if s.op == "get":
        return state == s.value, state
    if s.op == "set":
        return True, s.value
    if s.result is None:  # an unknown cas applies if it can, else it is a no-op
        return True, s.value if state == s.expected else state
    if s.result:
        return state == s.expected, s.value
    return state != s.expected, state
