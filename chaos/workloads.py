"""The chaos workloads: client threads that call hafs and record every call in a ``History``.

Three workloads, each a set of worker threads with a ``Client`` of their own
(their own client id, so retries are deduplicated per worker as in real use):

    register  per-path xattr ``user.v``: get, set and compare-and-set on a few
              dozen files; every value written is unique. Checked for
              linearizability (``chaos.checkers.check_register``).
    set       unique empty files created once each, read back at the end by one
              listing (``check_set``).
    data      files of random sizes, several blocks each, written once with a
              known sha256 and read back during the run (``check_data``); at the
              end every replica of every acknowledged file is read
              (``chaos.verify``). A write that raises is *unknown*: the file
              may exist, partly written, whatever the error said.

Every op is recorded as ``(process, kind, op, key, args, invoke, complete,
outcome, result)``; a timeout or an unreachable cluster is *unknown*. A
workload runs until its ``stop`` event is set or it has made ``max_ops`` calls,
so a load loop is always bounded in count as well as in time. Paths live under
``Workloads.roots``: one root per nameservice (``/chaos`` for the default,
``/chaos/<ns>`` mounted on each other one), so federated runs load every group.

Imports: the standard library, ``client`` and ``chaos.history``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from chaos.history import OK, History
from client import Client
from client.config import load as load_config
from hafs_api.errors import BlockMissing, ChecksumMismatch, FileNotFound, XAttrNotFound

log = logging.getLogger(__name__)

ATTR = "user.v"
KiB, MiB = 1 << 10, 1 << 20
WORKLOADS = ("register", "set", "data")


@dataclass(frozen=True)
class WorkloadSettings:
    """How much load: workers per workload, keys, file sizes, pacing and caps."""

    register_workers: int = 3
    register_keys: int = 24  # per nameservice
    set_workers: int = 2
    data_workers: int = 2
    block_size: int = 1 * MiB
    data_sizes: tuple[int, ...] = (0, 1, 70 * KiB, 300 * KiB, 1 * MiB, 2 * MiB + 12_345)
    data_budget: int = 240 * MiB  # past it, files of at most small_size (the disks are small)
    small_size: int = 70 * KiB
    read_share: float = 0.3  # data: share of calls that read a file back
    pause_s: float = 0.01  # between two calls of one worker: leave the cluster some CPU
    max_ops: int = 200_000  # per worker
    op_deadline_s: float = 8.0  # a call gives up (unknown) after this long
    attempt_timeout_s: float = 2.0


@dataclass
class Workloads:
    """Builds the workers for ``kinds`` against the cluster in ``client_conf``."""

    client_conf: str
    history: History
    roots: list[str]
    seed: int
    settings: WorkloadSettings = field(default_factory=WorkloadSettings)
    kinds: tuple[str, ...] = WORKLOADS
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _clients: list[Client] = field(default_factory=list)
    _written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _values: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def client(self) -> Client:
        """A new client with the chaos deadlines (its own client id)."""
        config = load_config(self.client_conf)
        settings = replace(
            config.client,
            deadline_s=self.settings.op_deadline_s,
            attempt_timeout_s=self.settings.attempt_timeout_s,
        )
        client = Client(config=replace(config, client=settings))
        with self._lock:
            self._clients.append(client)
        return client

    # -- paths --------------------------------------------------------------------------

    def register_keys(self) -> list[str]:
        n = self.settings.register_keys
        return [f"{root}/reg/k{i:02d}" for root in self.roots for i in range(n)]

    def set_dirs(self) -> list[str]:
        return [f"{root}/set" for root in self.roots]

    def data_dirs(self) -> list[str]:
        return [f"{root}/data" for root in self.roots]

    def prepare(self, client: Client) -> None:
        """Create the directories and the register files (empty, no attribute)."""
        for root in self.roots:
            for sub in ("reg", "set", "data"):
                client.mkdir(f"{root}/{sub}", parents=True)
        for key in self.register_keys():
            if not client.exists(key):
                client.write_bytes(key, b"")

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        plans: list[tuple[str, Callable[[str, random.Random], None]]] = []
        counts = {
            "register": self.settings.register_workers,
            "set": self.settings.set_workers,
            "data": self.settings.data_workers,
        }
        loops = {"register": self._register, "set": self._set, "data": self._data}
        for kind in self.kinds:
            plans += [(f"{kind[0]}{i}", loops[kind]) for i in range(counts[kind])]
        for n, (name, loop) in enumerate(plans):
            rng = random.Random(self.seed * 1009 + n)
            t = threading.Thread(target=self._run, args=(name, loop, rng), name=name, daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, name: str, loop: Callable[[str, random.Random], None], rng: random.Random):
        try:
            loop(name, rng)
        except Exception:  # a bug in the workload itself: report it, keep the run going
            log.exception("workload %s stopped", name)

    def join(self, timeout: float = 30.0) -> list[str]:
        """Stop every worker; the names of those still stuck after ``timeout`` s (their open
        call stays in the history as unknown)."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        for client in self._clients:
            try:
                client.close()
            except Exception:
                log.debug("closing a workload client failed", exc_info=True)
        return stuck

    def _ops(self, rng: random.Random):
        """Yields once per allowed call, pacing and honouring the stop event and the cap."""
        for _ in range(self.settings.max_ops):
            if self.stop.is_set():
                return
            yield
            if self.stop.wait(rng.uniform(0, 2 * self.settings.pause_s)):
                return

    # -- register ------------------------------------------------------------------------

    def _register(self, name: str, rng: random.Random) -> None:
        client = self.client()
        keys = self.register_keys()
        seen: dict[str, int | None] = {}
        for _ in self._ops(rng):
            key = rng.choice(keys)
            roll = rng.random()
            if roll < 0.5:
                with self.history.invoke(name, "register", "get", key) as call:
                    try:
                        raw = client.get_xattr(key, ATTR)
                    except XAttrNotFound:
                        raw = None
                    value = None if raw is None else int(raw)
                    seen[key] = value
                    call.ok(value)
                continue
            value = next(self._values)  # unique across workers: every write is told apart
            if roll < 0.75:
                with self.history.invoke(name, "register", "set", key, (value,)):
                    client.set_xattr(key, ATTR, str(value))
            else:
                expected = seen.get(key)
                with self.history.invoke(name, "register", "cas", key, (expected, value)) as call:
                    old = None if expected is None else str(expected).encode()
                    call.ok(client.compare_and_set_xattr(key, ATTR, old, str(value)))

    # -- set ----------------------------------------------------------------------------

    def _set(self, name: str, rng: random.Random) -> None:
        client = self.client()
        dirs = self.set_dirs()
        for n, _ in enumerate(self._ops(rng)):
            path = f"{rng.choice(dirs)}/{name}-{n:06d}"
            with self.history.invoke(name, "set", "create", path):
                client.write_bytes(path, b"", overwrite=False)

    def final_set(self, client: Client) -> None:
        """The final read: one listing of every set directory, recorded as ``list``."""
        with self.history.invoke("final", "set", "list", "*") as call:
            present = [p for d in self.set_dirs() for p in client.ls(d, detail=False)]
            call.ok(sorted(present))

    # -- data ---------------------------------------------------------------------------

    def _data(self, name: str, rng: random.Random) -> None:
        client = self.client()
        dirs = self.data_dirs()
        acked: list[tuple[str, str]] = []
        for n, _ in enumerate(self._ops(rng)):
            if acked and rng.random() < self.settings.read_share:
                path, _sha = rng.choice(acked)
                self.read(client, name, path)
                continue
            size = rng.choice(self.settings.data_sizes)
            with self._lock:
                if self._written + size > self.settings.data_budget:
                    size = min(size, self.settings.small_size)
                self._written += size
            data = rng.randbytes(size)
            sha = hashlib.sha256(data).hexdigest()
            path = f"{rng.choice(dirs)}/{name}-{n:06d}"
            with self.history.invoke(name, "data", "write", path, (sha, size)) as call:
                try:
                    with client.open(path, "xb", block_size=self.settings.block_size) as f:
                        f.write(data)
                except Exception as e:  # the file may exist, partly written: not a clean fail
                    call.unknown(f"{type(e).__name__}: {e}")
            if call.recorded is not None and call.recorded.outcome == OK:
                acked.append((path, sha))

    def read(self, client: Client, process: str, path: str) -> str | None:
        """Read ``path`` whole and record its sha256 (``read``). A missing file is *fail*;
        no reachable replica is *unknown* (availability, not loss)."""
        with self.history.invoke(process, "data", "read", path) as call:
            try:
                data = client.read_bytes(path)
            except (BlockMissing, ChecksumMismatch) as e:
                call.unknown(f"{type(e).__name__}: {e}")
                return None
            except FileNotFound as e:
                call.fail(f"FileNotFound: {e}")
                return None
            return call.ok(hashlib.sha256(data).hexdigest())
        return None

    def acknowledged_files(self) -> list[str]:
        return sorted(
            {
                o.key
                for o in self.history.ops()
                if o.kind == "data" and o.op == "write" and o.outcome == OK
            }
        )
