"""At most one leader per term, and how long elections took, from the NameNodes' own logs.

Each NameNode appends one JSON line per Raft state change to
``<data_dir>/raft-states.log`` and fsyncs it::

    {"term": 7, "state": "leader", "node": "ns1-nn2", "nameservice": "ns1", "time": 812.25}

``state`` is ``leader``, ``follower`` or ``candidate``; ``time`` is on the same
clock as the fault times handed to ``elections`` (``time.monotonic()``, which on
Linux is one clock for every process on the host). A node killed mid-write may
leave a torn last line; ``read_state_log`` skips it.

``check_leaders`` fails when two nodes of one nameservice say ``leader`` for the
same term, or when one node's term goes backwards in its own log (its
persisted term was lost). ``elections`` measures, for each loss of a leader,
the time to the next leader record of that nameservice with a higher term.

Imports: the standard library and ``chaos.checkers.verdict``.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from chaos.checkers.verdict import EXCERPT_LINES, Verdict

LEADER = "leader"
STATES = ("leader", "follower", "candidate")


@dataclass(frozen=True)
class StateRecord:
    term: int
    state: str
    node: str
    nameservice: str
    time: float

    def describe(self) -> str:
        return f"[{self.time:.3f}] {self.nameservice}/{self.node} term {self.term} {self.state}"


def parse_state_log(text: str) -> list[StateRecord]:
    """Records from one log's text; a line that does not parse (a torn write) is skipped."""
    records = []
    for line in text.splitlines():
        try:
            d = json.loads(line)
            record = StateRecord(
                int(d["term"]),
                str(d["state"]),
                str(d["node"]),
                str(d["nameservice"]),
                float(d["time"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
        if record.state in STATES:
            records.append(record)
    return records


def read_state_log(path: str | Path) -> list[StateRecord]:
    return parse_state_log(Path(path).read_text(errors="replace"))


def check_leaders(records: Iterable[StateRecord]) -> Verdict:
    """Records of every NameNode (each node's in its log's order), any nameservices."""
    records = list(records)
    leaders: dict[tuple[str, int], dict[str, StateRecord]] = defaultdict(dict)
    last_term: dict[tuple[str, str], StateRecord] = {}
    backwards: list[tuple[StateRecord, StateRecord]] = []
    for r in records:
        if r.state == LEADER:
            leaders[(r.nameservice, r.term)].setdefault(r.node, r)
        previous = last_term.get((r.nameservice, r.node))
        if previous is not None and r.term < previous.term:
            backwards.append((previous, r))
        last_term[(r.nameservice, r.node)] = r
    split = {k: v for k, v in sorted(leaders.items()) if len(v) > 1}
    excerpt = []
    for (ns, term), nodes in split.items():
        excerpt.append(f"{ns} term {term}: leaders {', '.join(sorted(nodes))}")
        excerpt.extend(f"   {r.describe()}" for r in nodes.values())
    for before, after in backwards:
        excerpt.append(f"term went backwards: {before.describe()} then {after.describe()}")
    details = {
        "records": len(records),
        "terms_with_leader": len(leaders),
        "split_terms": [
            {"nameservice": ns, "term": t, "nodes": sorted(n)} for (ns, t), n in split.items()
        ],
        "terms_backwards": len(backwards),
    }
    if split or backwards:
        summary = f"{len(split)} terms with two leaders, {len(backwards)} terms going backwards"
        return Verdict("leaders", False, summary, excerpt[:EXCERPT_LINES], details)
    summary = f"{len(leaders)} terms with a leader, never two; {len(records)} state records"
    return Verdict("leaders", True, summary, [], details)


@dataclass(frozen=True)
class Elections:
    """Seconds from each leader loss to the next leader; ``unresolved`` never got one."""

    durations: tuple[float, ...]
    unresolved: int

    @property
    def median(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None

    @property
    def max(self) -> float | None:
        return max(self.durations, default=None)


def elections(records: Iterable[StateRecord], losses: Iterable[tuple[str, float]]) -> Elections:
    """``losses``: (nameservice, time) of each fault that took a leader away (a kill, a pause,
    a partition). The term lost is the highest leader term recorded up to that time."""
    by_ns: dict[str, list[StateRecord]] = defaultdict(list)
    for r in records:
        if r.state == LEADER:
            by_ns[r.nameservice].append(r)
    for leaders in by_ns.values():
        leaders.sort(key=lambda r: r.time)
    durations, unresolved = [], 0
    for ns, at in losses:
        lost = max((r.term for r in by_ns[ns] if r.time <= at), default=-1)
        nxt = next((r for r in by_ns[ns] if r.time > at and r.term > lost), None)
        if nxt is None:
            unresolved += 1
        else:
            durations.append(nxt.time - at)
    return Elections(tuple(durations), unresolved)
