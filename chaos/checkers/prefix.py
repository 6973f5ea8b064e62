"""The applied prefix is identical across replicas.

Each replica reports ``(index, digest)`` pairs: a digest of its state (or a
rolling hash of the entries) after applying log index ``index``, for every
index or only at checkpoints. Replicas may have applied different lengths, but
wherever two report the same index their digests must be equal. A replica that
reports two different digests for one index (say, before and after a restart)
has diverged from itself. The verdict names the first divergent index, the last
index where all reporters agreed, and each replica's digest there.

Imports: the standard library and ``chaos.checkers.verdict``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from chaos.checkers.verdict import EXCERPT_LINES, Verdict


def check_prefix(replicas: Mapping[str, Iterable[tuple[int, str]]]) -> Verdict:
    """``replicas``: replica name -> its (index, digest) pairs, in any order."""
    at: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    applied: dict[str, int] = {}
    for name, pairs in replicas.items():
        applied[name] = -1
        for index, digest in pairs:
            at[index][name].add(digest)
            applied[name] = max(applied[name], index)
    agreed, compared = None, 0
    for index in sorted(at):
        digests = at[index]
        if len(set().union(*digests.values())) == 1:
            compared += len(digests) > 1
            agreed = index
            continue
        excerpt = [f"first divergence at index {index}; all agreed up to {agreed}"]
        excerpt += [f"   {name}: {', '.join(sorted(d))}" for name, d in sorted(digests.items())][
            : EXCERPT_LINES - 1
        ]
        details = {
            "index": index,
            "agreed": agreed,
            "digests": {name: sorted(d) for name, d in digests.items()},
            "applied": applied,
        }
        summary = f"replicas diverge at index {index} (agreed up to {agreed})"
        return Verdict("prefix", False, summary, excerpt, details)
    details = {"applied": applied, "indices_compared": compared}
    summary = (
        f"{len(replicas)} replicas agree at {compared} shared indices "
        f"(applied up to {min(applied.values(), default=-1)}..{max(applied.values(), default=-1)})"
    )
    return Verdict("prefix", True, summary, [], details)
