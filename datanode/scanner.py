"""The block scanner: a thread that re-reads every finalized replica, throttled.

Every ``period_s`` it verifies each FINALIZED replica of every block pool
against its stored CRC32Cs, reading at most ``bytes_per_second``, and calls
``on_corrupt(pool, replica, reason)`` for a bad one, once per replica and
generation stamp. A replica deleted or replaced mid-scan is skipped.

Imports: the standard library, ``hafs_api.errors`` and ``datanode.storage``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from datanode.storage import ReplicaInfo, Storage
from hafs_api.errors import ChecksumMismatch, ReplicaNotFound

log = logging.getLogger(__name__)


class _Stopped(Exception):
    pass


class BlockScanner:
    def __init__(
        self,
        storage: Storage,
        on_corrupt: Callable[[str, ReplicaInfo, str], None],
        *,
        period_s: float,
        bytes_per_second: int,
    ) -> None:
        self._storage = storage
        self._on_corrupt = on_corrupt
        self._period_s = period_s
        self._rate = bytes_per_second  # <= 0: unthrottled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: set[tuple[str, int, int]] = set()  # (pool, block id, gen stamp)
        self._started = 0.0  # throttle: when the current pass began
        self._read = 0  # throttle: bytes read since then

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="block-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except _Stopped:
                return
            except Exception:
                log.exception("block scan pass failed")
            self._stop.wait(self._period_s)

    def scan_once(self) -> int:
        """Verify every finalized replica once; the number verified (good or bad)."""
        started = time.monotonic()
        self._started, self._read = started, 0
        checked = bad = gone = 0
        seen: set[tuple[str, int, int]] = set()
        for name in self._storage.pools():
            pool = self._storage.pool(name)
            for replica in pool.replicas():
                if replica.state != "FINALIZED":
                    continue
                key = (name, replica.block_id, replica.gen_stamp)
                seen.add(key)
                try:
                    pool.verify(replica.block_id, replica.gen_stamp, throttle=self._throttle)
                except (ReplicaNotFound, FileNotFoundError):
                    gone += 1
                    continue
                except ChecksumMismatch as exc:
                    checked += 1
                    if pool.get(replica.block_id) != replica:
                        continue  # changed under us (recovered, replaced): not corruption
                    bad += 1
                    self._report(key, name, replica, str(exc))
                    continue
                except OSError as exc:  # a failing volume; Storage has marked it
                    log.warning("block scan of %s %s: %s", name, replica, exc)
                    continue
                checked += 1
        self._reported &= seen
        log.info(
            "block scan: %d replicas verified, %d corrupt, %d gone mid-scan, %d bytes in %.1f s",
            checked, bad, gone, self._read, time.monotonic() - started,
        )  # fmt: skip
        return checked

    def _report(self, key: tuple[str, int, int], pool: str, replica: ReplicaInfo, why: str):
        if key in self._reported:
            return
        self._reported.add(key)
        log.warning("block scan: corrupt replica %s in %s: %s", replica, pool, why)
        try:
            self._on_corrupt(pool, replica, why)
        except Exception:
            log.exception("on_corrupt callback failed for %s", replica)

    def _throttle(self, n: int) -> None:
        if self._stop.is_set() and self._thread is not None:
            raise _Stopped
        self._read += n
        if self._rate <= 0:
            return
        ahead = self._read / self._rate - (time.monotonic() - self._started)
        if ahead > 0 and self._stop.wait(ahead) and self._thread is not None:
            raise _Stopped
