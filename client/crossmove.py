"""Moving between nameservices: a verified copy, then a delete.

A rename cannot cross nameservices (each is its own Raft group), so
``move_across`` copies instead. Every file is streamed to ``<dst>._COPYING_``
in the destination nameservice with the source's replication and block size,
its SHA-256 is computed while it is read and again by reading the copy back,
and only when they match is the copy renamed into place. Only after every
file of a tree has been copied and verified is the source deleted (skipping
the trash). A failure leaves the source untouched and removes the partial copy.

Imports: ``client.client`` (types only), ``hafs_api``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from hafs_api import paths
from hafs_api.errors import ChecksumMismatch, FileAlreadyExists

if TYPE_CHECKING:
    from client.client import Client

CHUNK = 4 << 20


def move_across(
    src_fs: Client,
    src: str,
    dst_fs: Client,
    dst: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Copy ``src`` (a file or a tree) to ``dst`` in another nameservice, verify, delete
    ``src``; returns the destination files written. ``dst`` must not exist."""
    if dst_fs.exists(dst):
        raise FileAlreadyExists("File exists", dst)
    top = src_fs.stat(src)
    written: list[str] = []
    try:
        if top.is_dir:
            for dirpath, _, files in src_fs.walk(src):
                target = dst + dirpath[len(src) :]
                dst_fs.mkdir(target, parents=True, exist_ok=True)
                for name in files:
                    written.append(
                        _copy_file(
                            src_fs,
                            paths.child(dirpath, name),
                            dst_fs,
                            paths.child(target, name),
                            progress,
                        )
                    )
        else:
            written.append(_copy_file(src_fs, src, dst_fs, dst, progress))
    except BaseException:
        for path in written:  # a half-moved tree is worse than none: undo the copies
            dst_fs.delete(path, skip_trash=True)
        raise
    src_fs.delete(src, recursive=top.is_dir, skip_trash=True)
    return written


def _copy_file(
    src_fs: Client,
    src: str,
    dst_fs: Client,
    dst: str,
    progress: Callable[[int], None] | None,
) -> str:
    status = src_fs.stat(src)
    temporary = f"{dst}._COPYING_"
    sent = hashlib.sha256()
    try:
        with (
            src_fs.open(src, "rb") as reader,
            dst_fs.open(
                temporary,
                "wb",
                replication=status.replication,
                block_size=status.block_size,
                permission=status.permission,
            ) as writer,
        ):
            while chunk := reader.read(CHUNK):
                sent.update(chunk)
                writer.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        copied = hashlib.sha256()
        with dst_fs.open(temporary, "rb") as check:
            while chunk := check.read(CHUNK):
                copied.update(chunk)
        if copied.digest() != sent.digest():
            raise ChecksumMismatch(f"the copy of {src} does not match it", dst)
        dst_fs.rename(temporary, dst)
    except BaseException:
        if dst_fs.exists(temporary):
            dst_fs.delete(temporary, skip_trash=True)
        raise
    return dst
