"""``put`` and ``get``: copy files and directory trees between the local disk and hafs.

The shapes of ``hdfs dfs -put`` and ``-get``: a destination that is an existing
directory receives the source under its own name; otherwise the destination
becomes the copy. Directories are created first, then the files are copied,
``threads`` at a time. Each file is written to ``<destination>._COPYING_`` and
renamed into place only once complete, so a reader never sees half a file and
a failed copy leaves no partial file behind (its temporary is removed).

``progress(n)`` is called with each number of bytes done (acknowledged by the
DataNodes for ``put``, read for ``get``), from one thread at a time.

Imports: the standard library, ``client.client`` (for typing only) and ``hafs_api``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hafs_api import paths
from hafs_api.errors import FileAlreadyExists, HafsError, InvalidArgument

if TYPE_CHECKING:
    from client.client import Client

COPYING = "._COPYING_"
CHUNK = 1 << 20
Progress = Callable[[int], None]
T = TypeVar("T")


def put(
    fs: Client,
    local_path: str | os.PathLike[str],
    remote_path: str,
    *,
    overwrite: bool = False,
    threads: int = 1,
    progress: Progress | None = None,
) -> list[str]:
    """Copy a local file or tree to hafs (``remote_path`` normalized); returns the files
    written."""
    src = Path(local_path)
    if not src.exists():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(src))
    target = _into_remote_dir(fs, src.name, remote_path)
    jobs: list[tuple[Path, str]] = []
    if src.is_dir():
        fs.mkdir(target, parents=True, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            relative = Path(dirpath).relative_to(src).parts
            base = paths.join([*paths.split(target), *relative])
            for name in dirnames:
                fs.mkdir(paths.child(base, name), exist_ok=True)
            jobs.extend(
                (Path(dirpath, name), paths.child(base, name)) for name in sorted(filenames)
            )
    else:
        jobs.append((src, target))
    report = _serialized(progress)
    return _run(jobs, lambda s, d: _put_file(fs, s, d, overwrite, report), threads)


def get(
    fs: Client,
    remote_path: str,
    local_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    threads: int = 1,
    progress: Progress | None = None,
) -> list[str]:
    """Copy a hafs file or tree to the local disk; returns the local files written."""
    status = fs.stat(remote_path)
    dst = Path(local_path)
    if dst.is_dir() and status.name:
        dst = dst / status.name
    jobs: list[tuple[str, Path]] = []
    if status.is_dir:
        dst.mkdir(parents=True, exist_ok=True)
        for dirpath, dirnames, filenames in fs.walk(status.path):
            dirnames.sort()
            relative = paths.split(dirpath)[len(paths.split(status.path)) :]
            base = dst.joinpath(*relative)
            base.mkdir(exist_ok=True)
            jobs.extend((paths.child(dirpath, name), base / name) for name in sorted(filenames))
    else:
        jobs.append((status.path, dst))
    report = _serialized(progress)
    return _run(jobs, lambda s, d: _get_file(fs, s, d, overwrite, report), threads)


def _into_remote_dir(fs: Client, name: str, dst: str) -> str:
    try:
        return paths.child(dst, name) if fs.stat(dst).is_dir else dst
    except FileNotFoundError:
        return dst


def _put_file(fs: Client, src: Path, dst: str, overwrite: bool, progress) -> str:
    if not overwrite and fs.exists(dst):
        raise FileAlreadyExists("already exists", dst)
    temporary = dst + COPYING
    try:
        with src.open("rb") as fin, fs.open(temporary, "wb", progress=progress) as fout:
            shutil.copyfileobj(fin, fout, CHUNK)
        fs.rename(temporary, dst, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(HafsError, OSError):  # never written, or already gone
            fs.delete(temporary, skip_trash=True)
        raise
    return dst


def _get_file(fs: Client, src: str, dst: Path, overwrite: bool, progress) -> str:
    if not overwrite and dst.exists():
        raise FileExistsError(errno.EEXIST, "File exists", str(dst))
    temporary = dst.with_name(dst.name + COPYING)
    try:
        with fs.open(src, "rb") as fin, temporary.open("wb") as fout:
            while data := fin.read(CHUNK):
                fout.write(data)
                if progress is not None:
                    progress(len(data))
        os.replace(temporary, dst)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return str(dst)


def _serialized(progress: Progress | None) -> Progress | None:
    if progress is None:
        return None
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)

    return report


def _run(jobs: Sequence[tuple], copy: Callable[..., T], threads: int) -> list[T]:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgument(f"threads must be an integer >= 1, got {threads!r}")
    if threads == 1 or len(jobs) <= 1:
        return [copy(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hafs-copy") as pool:
        futures = [pool.submit(copy, *job) for job in jobs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


__all__ = ["COPYING", "get", "put"]
