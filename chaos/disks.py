"""Small tmpfs disks for DataNodes, so the chaos suite can fill one to the last byte.

A full disk must be real: the DataNode's own writes have to fail with ENOSPC.
Filling the host's disk would hurt everything else on it, so each DataNode of
a chaos cluster gets a tmpfs of ``size`` bytes mounted on its data directory
before it starts. ``fill(name)`` allocates a ballast file at the top of that
mount (outside the DataNode's ``current/`` tree, so it never sees it) taking
every free byte; ``empty(name)`` deletes it. ``close()`` unmounts everything
(lazily, so a process still inside cannot keep it). Mounting needs root; where
it is refused ``Disks.available()`` says why and the full-disk fault is reported
as unavailable.

Imports: the standard library only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

BALLAST = ".chaos-ballast"


class Disks:
    def __init__(self, size: int) -> None:
        self.size = size
        self.mounted: dict[str, Path] = {}  # DataNode -> its mount point

    @staticmethod
    def available() -> str:
        """'' when tmpfs mounts work here, else why not."""
        if os.geteuid() != 0:
            return "not root"
        with tempfile.TemporaryDirectory(prefix="hafs-tmpfs-probe-") as d:
            r = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode != 0:
                return f"mount -t tmpfs failed: {r.stderr.strip()}"
            subprocess.run(["umount", d], check=False, capture_output=True)
        return ""

    def mount(self, name: str, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(directory)],
            check=True,
            capture_output=True,
            text=True,
        )
        self.mounted[name] = directory
        log.info("%s: tmpfs of %d bytes on %s", name, self.size, directory)

    def fill(self, name: str) -> int:
        """Take every free byte of ``name``'s disk; the bytes taken."""
        root = self.mounted[name]
        st = os.statvfs(root)
        free = st.f_bavail * st.f_frsize
        fd = os.open(root / BALLAST, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            taken = 0
            step = free
            while step >= 4096:  # tmpfs may refuse one allocation of it all: halve and go on
                try:
                    os.posix_fallocate(fd, taken, step)
                    taken += step
                except OSError:
                    step //= 2
        finally:
            os.close(fd)
        return taken

    def empty(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.mounted[name] / BALLAST).unlink()

    def empty_all(self) -> None:
        for name in self.mounted:
            self.empty(name)

    def close(self) -> None:
        for name, directory in list(self.mounted.items()):
            subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)
            del self.mounted[name]
