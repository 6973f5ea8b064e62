"""Keep a follower from dropping log entries it already acknowledged (a pysyncobj fix).

pysyncobj's follower handles ``append_entries(prevLogIdx=P, entries=E)`` by
deleting *every* entry after ``P`` and appending ``E``, even when those
entries match. Raft (§5.3) deletes only from the first conflicting entry. The
difference loses data when a message shorter than the follower's log arrives:
the leader pipelines, a rejected optimistic send resets its ``nextIndex``, and a
resend limited by ``appendEntriesBatchSizeBytes`` carries fewer entries than the
follower already holds and acknowledged. The follower shrinks its log, while
the leader still counts it in ``matchIndex`` for those entries; if the leader
then dies, a committed (acknowledged) write can be missing from every replica
that may win the next election.

The fix, applied to each such message before pysyncobj sees it
(``guard_append``): when ``E`` ends before the follower's log does and every
entry of ``E`` matches the follower's entry at the same index and term, the
entries after ``E`` that this follower has already accepted from the current
leader in its current term (``AppendGuard.confirmed``) are appended to ``E``,
so pysyncobj deletes and re-adds them unchanged. Entries beyond that are not
known to match the leader's log, and may go, as Raft allows. On any conflict
the message is left alone: then truncation is exactly what Raft prescribes.

A second flaw livelocks a follower that rejoins with a stale suffix (entries
of an old term the new leader never had). pysyncobj answers a mismatching
``prevLogTerm`` at ``P`` with "next = P", but a message whose ``P`` lies beyond
its log with "next = my last index + 1". A pipelining leader under load always
has a later message in flight, so each step back is undone by the next reply
and the follower never catches up (seen in chaos runs: a former leader stuck
for minutes). ``conflict_cut`` removes the conflict where it is found: the
follower deletes its entries from ``P`` on (never at or below what it has
applied, which is committed), so every later reply names the same, lower
index, and the leader walks back in one step per round trip.

An entry is ``(command, index, term)``, as pysyncobj stores it.

Imports: the standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence

Entry = tuple  # (command: bytes, index: int, term: int)


def guard_append(
    prev_index: int, new: Sequence[Entry], existing: Sequence[Entry], confirmed: int
) -> list[Entry]:
    """The entries to hand pysyncobj, which replaces everything after ``prev_index`` with them.

    ``new``: what the leader sent; ``existing``: this follower's entries after
    ``prev_index``, in order; ``confirmed``: the highest index this follower
    accepted from the current leader in its current term (0: none).
    """
    new = list(new)
    if not existing:
        return new
    last_new = new[-1][1] if new else prev_index
    if existing[-1][1] <= last_new:
        return new  # the message covers the whole log: nothing acknowledged is lost
    for entry in new:
        offset = entry[1] - prev_index - 1
        if offset >= len(existing) or existing[offset][1] != entry[1]:
            return new  # not contiguous with what we hold: let pysyncobj decide
        if existing[offset][2] != entry[2]:
            return new  # a conflict: Raft deletes from here on
    keep = [e for e in existing if last_new < e[1] <= confirmed]
    return new + keep


def conflict_cut(
    prev_index: int, prev_term: int, held_term: int | None, last_applied: int
) -> int | None:
    """Where to delete this follower's log from, given that it holds ``held_term`` at
    ``prev_index`` (None: no entry there) and the leader says ``prev_term``: the
    conflicting entry and all after it, or None (no conflict, or applied)."""
    if held_term is None or held_term == prev_term or prev_index <= last_applied:
        return None
    return prev_index


class AppendGuard:
    """What this follower accepted from its current leader, for ``guard_append``."""

    def __init__(self) -> None:
        self.term = -1
        self.confirmed = 0
        self.kept = 0  # entries saved from truncation (for logs and tests)
        self.cut = 0  # conflicting entries deleted where found

    def confirmed_for(self, term: int) -> int:
        return self.confirmed if term == self.term else 0

    def accepted(self, term: int, last_index: int) -> None:
        """The leader of ``term`` had this follower's log end in ``last_index`` accepted."""
        if term != self.term:
            self.term, self.confirmed = term, 0
        self.confirmed = max(self.confirmed, last_index)

    def reset(self) -> None:
        self.term, self.confirmed = -1, 0
