"""``Verdict``: what every checker returns.

A checker is a pure function from recorded evidence to one ``Verdict``: its
name, whether the run passed, a one-line summary, a short excerpt a person can
read to see a violation (at most ~10 lines), and machine-readable details for
the JSON report. A checker that could not decide (a search budget ran out)
returns ``ok=False``: an undecided check is never a pass.

Imports: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXCERPT_LINES = 10


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    summary: str
    excerpt: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "excerpt": list(self.excerpt),
            "details": self.details,
        }

    def __str__(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.summary}"
        return "\n".join([head, *(f"    {line}" for line in self.excerpt)])
