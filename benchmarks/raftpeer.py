"""One raw pysyncobj node of the Raft ceiling benchmark: ``python -m benchmarks.raftpeer``.

``benchmarks.raftceiling`` starts three of these, one process each. A node
replicates a trivial state machine (a dict of ``KEYS`` keys, each set to a
``VALUE_BYTES`` value) through pysyncobj alone: no hafs code, no gRPC, no
SQLite. This is the only benchmark code that imports pysyncobj; inside hafs
that is ``ha_namenode.consensus.raft``, whose ``SyncObjConf`` the node copies.

The parent talks to it in JSON lines: one object on the command line
(``--conf``: addresses, data directory, the ``SyncObjConf`` keywords) and the
Raft password in ``HAFS_RAFTPEER_PASSWORD`` (kept out of ``ps``). The node
prints ``{"ready": ...}`` once its replica is built, then answers each request
on stdin with one line on stdout:

- ``{"cmd": "status"}``: leader or not, term, commit and applied index;
- ``{"cmd": "load", "concurrency": C, "seconds": T}``: on the leader, keep ``C``
  replicated writes outstanding for ``T`` seconds (see ``load``) and return
  the latency of every write that completed in time;
- ``{"cmd": "quit"}``, or the end of stdin: stop the replica and exit.

Imports: the standard library and pysyncobj only, so the node starts fast.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

PASSWORD_ENV = "HAFS_RAFTPEER_PASSWORD"
VALUE_BYTES = 100
KEYS = 1024  # the dict stays small, so a snapshot never dominates
REASONS = {v: k.lower() for k, v in vars(FAIL_REASON).items() if k.isupper()}


class Store(SyncObj):
    """A replicated dict: the least state machine pysyncobj can run."""

    def __init__(self, me: str, partners: list[str], conf: SyncObjConf) -> None:
        self.data: dict[int, bytes] = {}  # before the base class, which may replay a journal
        super().__init__(me, partners, conf)

    @replicated
    def put(self, key: int, value: bytes) -> int:
        self.data[key] = value
        return len(self.data)


def load(store: Store, concurrency: int, seconds: float) -> dict[str, Any]:
    """Keep ``concurrency`` writes outstanding for ``seconds``; what completed in time.

    Each write is a ``@replicated`` call with a callback. The callback runs on
    pysyncobj's tick thread when the entry is applied, and submits the next
    write from there (an enqueue, never a synchronous call), so the window
    stays full without a thread per write: this measures the library, not
    Python's thread switches. Writes completed after the deadline are waited
    for (so none is left in the queue) but not counted. A failed write is
    counted by its reason and not replaced.
    """
    value = b"v" * VALUE_BYTES
    keys = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    outstanding = 0
    drained = threading.Event()
    start = time.perf_counter()
    deadline = start + seconds

    def submit() -> None:
        began = time.perf_counter()
        store.put(next(keys) % KEYS, value, callback=lambda _res, err: done(began, err))

    def done(began: float, err: int) -> None:
        nonlocal outstanding
        now = time.perf_counter()
        if err != FAIL_REASON.SUCCESS:  # the slot retires: no retry storm on the tick thread
            errors[REASONS.get(err, str(err))] += 1
        elif now <= deadline:
            latencies.append(now - began)
            submit()
            return
        with lock:
            outstanding -= 1
            if outstanding == 0:
                drained.set()

    with lock:
        outstanding = concurrency
    for _ in range(concurrency):
        submit()
    time.sleep(max(0.0, deadline - time.perf_counter()))
    complete = drained.wait(seconds + 10.0)
    return {
        "concurrency": concurrency,
        "seconds": seconds,
        "latencies_ms": [round(x * 1000, 4) for x in latencies],
        "errors": dict(errors),
        "drained": complete,
    }


def status(store: Store) -> dict[str, Any]:
    st = store.getStatus()
    return {
        "leader": store._isLeader(),
        "leader_address": str(st["leader"]) if st["leader"] is not None else "",
        "term": st["raft_term"],
        "commit_index": st["commit_idx"],
        "applied_index": st["last_applied"],
        "connected": sum(
            1 for k, v in st.items() if k.startswith("partner_node_status_server_") and v == 2
        ),
    }


def make_conf(options: dict[str, Any], data_dir: str, password: str) -> SyncObjConf:
    """pysyncobj's config: ``options`` (the keywords hafs sets) plus the files and password."""
    files: dict[str, Any] = {}
    if options.pop("journal", True):
        files = {
            "journalFile": os.path.join(data_dir, "raft.journal"),
            "fullDumpFile": os.path.join(data_dir, "raft.dump"),
        }
    return SyncObjConf(password=password, **files, **options)


def answer(store: Store, request: dict[str, Any]) -> dict[str, Any]:
    cmd = request.get("cmd")
    if cmd == "status":
        return status(store)
    if cmd == "load":
        if not store._isLeader():
            return {"error": "not the leader", **status(store)}
        return load(store, int(request["concurrency"]), float(request["seconds"]))
    return {"error": f"unknown request {cmd!r}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.raftpeer")
    parser.add_argument("--conf", required=True, help="JSON: self, partners, data_dir, options")
    args = parser.parse_args(argv)
    conf = json.loads(args.conf)
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        parser.error(f"{PASSWORD_ENV} is not set (pysyncobj unpickles traffic without one)")
    os.makedirs(conf["data_dir"], exist_ok=True)
    store = Store(
        conf["self"], conf["partners"], make_conf(dict(conf["options"]), conf["data_dir"], password)
    )
    try:
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("cmd") == "quit":
                break
            print(json.dumps(answer(store, request)), flush=True)
    finally:
        store.destroy_synchronous()
    return 0


if __name__ == "__main__":
    sys.exit(main())
