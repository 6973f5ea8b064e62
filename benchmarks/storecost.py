"""What the store costs per operation, without processes, Raft or the network.

``python -m benchmarks.storecost [--ops 4096] [--batch 64] [--repeats 5]`` applies
batches of commands to a ``StateMachine`` over a ``SqlStore`` in a temporary
directory (``synchronous = OFF``, so the disk is out of it), as a NameNode's
apply thread does, and times reads on the store's reader connections:

- ``mkdir``, ``create``, ``complete``: microseconds of apply per command, the
  median over batches of ``--batch`` (one log entry each);
- ``resolve``: microseconds per read transaction resolving a 3-level path.

It also counts the SQL statements (SELECT, INSERT, UPDATE, DELETE) each command
runs. It prints the figures and writes ``benchmarks/results/storecost-<date>.json``;
``docs/performance.md`` quotes it. Medians of ``--repeats`` fresh stores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ha_namenode.namespace import codec
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.commands import Complete, Create, Envelope, Format, Mkdir
from ha_namenode.namespace.model import Caller
from ha_namenode.namespace.resolve import resolve
from ha_namenode.persistence import SqlStore

RESULTS = Path(__file__).resolve().parent / "results"
SUPER = Caller("hdfs", ("supergroup",), True)
DIRS = 64


def _path(prefix: str, i: int) -> str:
    return f"/{prefix}/d{i % DIRS}/f{i}"


COMMANDS: dict[str, Callable[[int], object]] = {
    "mkdir": lambda i: Mkdir(_path("m", i), 0o755, parents=True),
    "create": lambda i: Create(_path("c", i), 0o644, f"w{i}", 1, 1 << 27, create_parent=True),
    "complete": lambda i: Complete(_path("c", i), f"w{i}"),
}


def one_store(ops: int, batch: int) -> dict[str, float]:
    """Microseconds per operation on one fresh store, and statements per command."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hafs-storecost-") as tmp:
        store = SqlStore(Path(tmp) / "namespace.db", synchronous="OFF")
        statements = Counter()

        def count(sql: str) -> None:
            verb = sql.split(None, 1)[0].upper()
            if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                statements[verb] += 1

        try:
            machine = StateMachine(store)
            index = 1
            machine.apply(index, codec.encode_batch([Envelope(Format("hdfs", "g"), SUPER, 1)]))
            client, call = uuid.uuid4().hex, 0
            for name, make in COMMANDS.items():
                times = []
                for start in range(0, ops, batch):
                    envelopes = []
                    for i in range(start, min(ops, start + batch)):
                        call += 1
                        envelopes.append(Envelope(make(i), SUPER, 2, client, call))
                    payload = codec.encode_batch(envelopes)
                    index += 1
                    with _traced(store, count if start == 0 else None):
                        started = time.perf_counter()
                        results = machine.apply(index, payload)
                        times.append((time.perf_counter() - started) / len(envelopes))
                    failed = [r for r in results or [] if hasattr(r, "code")]
                    if failed:
                        raise RuntimeError(f"{name} failed: {failed[0]}")
                    if start == 0:
                        out[f"{name}_statements"] = sum(statements.values()) / len(envelopes)
                        statements.clear()
                out[f"{name}_us"] = statistics.median(times) * 1e6
            reads = []
            for i in range(min(ops, 2000)):
                started = time.perf_counter()
                with store.read() as view:
                    resolve(view, _path("m", i))
                reads.append(time.perf_counter() - started)
            out["resolve_us"] = statistics.median(reads) * 1e6
        finally:
            store.close()
    return out


class _traced:
    """Count the writer's statements (the sqlite3 trace hook) while in the block."""

    def __init__(self, store: SqlStore, callback: Callable[[str], None] | None) -> None:
        self._driver = store._writer_conn().connection.dbapi_connection
        self._callback = callback

    def __enter__(self) -> None:
        if self._callback is not None:
            self._driver.set_trace_callback(self._callback)

    def __exit__(self, *exc: object) -> None:
        self._driver.set_trace_callback(None)


def run(ops: int = 4096, batch: int = 64, repeats: int = 5) -> dict:
    samples = [one_store(ops, batch) for _ in range(repeats)]
    figures = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    return {"ops": ops, "batch": batch, "repeats": repeats, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.storecost", description=__doc__)
    ap.add_argument("--ops", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = run(args.ops, args.batch, args.repeats)
    f = result["figures"]
    for name in (*COMMANDS, "resolve"):
        line = f"{name:9s} {f[f'{name}_us']:8.0f} us/op"
        if f"{name}_statements" in f:
            line += f"  {f[f'{name}_statements']:.1f} SQL statements per command"
        print(line)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    out = args.out or RESULTS / f"storecost-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
