"""``StateLog``: every Raft role change of this replica, appended and fsynced.

``<data_dir>/raft-states.log`` holds one JSON object per line::

    {"term": 7, "state": "leader", "node": "nn2", "nameservice": "ns1", "time": 1.7e9}

``state`` is ``leader``, ``candidate`` or ``follower``. The line is fsynced
before the role is acted on, so after any crash the file still says which
terms this replica led. The chaos checkers read these files to prove at most
one leader per term (a replica's own word, independent of what clients saw).

Written on pysyncobj's tick thread; role changes are rare, so one small
append and fsync there is cheap. A write that fails is logged, never raised:
the log is evidence, not state.

Imports: the standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)
FILE_NAME = "raft-states.log"


class StateLog:
    def __init__(self, path: Path, node: str, nameservice: str) -> None:
        self.path = Path(path)
        self.node = node
        self.nameservice = nameservice
        self._lock = threading.Lock()

    def record(self, term: int, state: str) -> None:
        line = json.dumps(
            {
                "term": term,
                "state": state,
                "node": self.node,
                "nameservice": self.nameservice,
                "time": time.time(),
            },
            separators=(",", ":"),
        )
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (line + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            log.error("cannot record Raft state %s of term %d in %s: %s", state, term, self.path, e)


def read(path: Path) -> list[dict]:
    """The records of a state log (a torn last line, from a crash mid-write, is skipped)."""
    records = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
