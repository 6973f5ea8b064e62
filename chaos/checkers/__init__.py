"""The chaos checkers: pure functions from recorded evidence to a ``Verdict``.

    check_register(ops)      the register workload is linearizable (WGL, per key)
    check_set(ops)           no acknowledged create lost, no failed one visible
    check_data(ops)          every acknowledged file reads back with its sha256
    check_leaders(records)   at most one leader per term (NameNode state logs)
    elections(records, ...)  time from each leader loss to the next leader
    check_prefix(replicas)   the applied prefix is identical across replicas

None of them starts a process or touches the network; each is proven against
known-bad histories in ``tests/unit/test_chaos_checkers.py``.

Imports: the standard library and ``chaos.history``.
"""

from chaos.checkers.leaders import (
    Elections,
    StateRecord,
    check_leaders,
    elections,
    parse_state_log,
    read_state_log,
)
from chaos.checkers.linearizable import Budget, check_register
from chaos.checkers.prefix import check_prefix
from chaos.checkers.verdict import Verdict
from chaos.checkers.writes import check_data, check_set

__all__ = [
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
