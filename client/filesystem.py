"""``HafsFileSystem``: hafs as an fsspec filesystem, protocol ``hafs``.

Registered through the ``fsspec.specs`` entry point (pyproject.toml), so
``fsspec.open("hafs://prod/data/x.csv")``, ``pandas.read_parquet("hafs://...")``
and ``to_parquet``/``read_csv``, and dask use it with no glue. pyarrow resolves
URL schemes only through its own (C++) registry, so give it the filesystem:
``pyarrow.dataset.dataset("/dir", filesystem=fs)``, with ``fs, path =
fsspec.url_to_fs("hafs://prod/dir")`` for a URL (what pandas and dask do).

URLs are ``hafs://HOST/path``. ``HOST`` is a nameservice of the ``$HAFS_CONF``
config, else a logical cluster name of ``~/.config/hafs/clusters.toml`` (see
``client.config``; that cluster's default nameservice); ``hafs:///path`` is the
default nameservice of ``$HAFS_CONF``. ``hafs:///path`` and a cluster name see the
whole federated tree (the client routes each path by the mount table); a
nameservice as host or option talks to that nameservice alone, with no mount
check (HDFS's direct ``hdfs://ns/`` access). Storage options instead of a URL host:
``conf=`` (a config file or cluster name: the host then names one of its
nameservices), ``addresses=["host:port", ...]`` (the host is then ignored;
``nameservice=`` names what they serve, default ``ns1``), ``user=`` and
``nameservice=``.

The config is resolved when the instance is made (a bad name fails at once);
the ``Client`` is made on first use, and again in a forked child. Pickling
keeps only the construction arguments (fsspec's ``__reduce__``), so an
unpickled instance reconnects lazily, in any process. fsspec caches instances
by their arguments: one made before ``$HAFS_CONF`` changed keeps the old config
until ``HafsFileSystem.clear_instance_cache()``.

Paths inside the filesystem are absolute hafs paths without the protocol
(``/data/x``); ``unstrip_protocol`` puts the instance's host back. Deleting
(``rm``) skips the trash, as fsspec means it. ``mv`` is one ``Rename``.

Imports: ``fsspec``, ``client.client``, ``client.config`` and ``hafs_api``.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import shutil
import threading
import weakref
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.utils import stringify_path

from client.client import Client
from client.config import (
    DEFAULT_NAMESERVICE,
    ENV_CONF,
    ClientConfig,
    ConfigError,
    cluster_names,
    clusters_file,
    from_addresses,
    load,
    load_cluster,
)
from client.files import DEFAULT_BUFFER_SIZE
from client.types import FileStatus
from hafs_api import paths
from hafs_api.errors import InvalidArgument, IsADirectory

PROTOCOL = "hafs"
COPY_CHUNK = 1 << 20


def resolve(
    host: str | None = None,
    *,
    conf: str | os.PathLike[str] | None = None,
    addresses: list[str] | None = None,
    user: str | None = None,
    nameservice: str | None = None,
) -> tuple[ClientConfig, str]:
    """The config and nameservice a ``hafs://HOST/`` URL and storage options name."""
    if addresses is not None:
        if conf is not None:
            raise InvalidArgument("pass conf= or addresses=, not both")
        ns = nameservice or DEFAULT_NAMESERVICE
        return from_addresses(list(addresses), user=user, nameservice=ns), ns
    if conf is not None or not host:
        config = load(conf).with_user(user)
        return config, config.nameservice(nameservice or host).name
    if os.environ.get(ENV_CONF):
        config = load()
        if host in {ns.name for ns in config.nameservices}:
            return config.with_user(user), host
    if host in cluster_names():
        config = load_cluster(host).with_user(user)
        return config, config.nameservice(nameservice).name
    env = os.environ.get(ENV_CONF)
    where = f"${ENV_CONF} ({env})" if env else f"${ENV_CONF} (not set)"
    raise ConfigError(
        f"hafs://{host}/: {host!r} is neither a nameservice of {where} "
        f"nor a cluster in {clusters_file()}"
    )


class HafsFile(io.BufferedReader):
    """A hafs file open for reading: the client's buffered, seekable, failover-aware
    reader, with the attributes fsspec and pyarrow look for (``fs``, ``path``, ``size``)."""

    def __init__(self, fs: HafsFileSystem, path: str, raw: io.RawIOBase, buffer_size: int):
        super().__init__(raw, buffer_size)
        self.fs = fs
        self.path = path

    @property
    def size(self) -> int:
        return self.raw.length  # type: ignore[attr-defined]

    def info(self) -> dict[str, Any]:
        return self.fs.info(self.path)


def info_of(status: FileStatus) -> dict[str, Any]:
    """fsspec's info dict for a status: ``name``, ``size``, ``type`` and hafs's extras."""
    return {
        "name": status.path,
        "size": status.length,
        "type": status.kind,  # "file" or "directory", as fsspec spells them
        "mtime": status.mtime / 1000,  # seconds since the epoch, like os.stat
        "atime": status.atime / 1000,
        "owner": status.owner,
        "group": status.group,
        "permission": status.permission,
        "replication": status.replication,
        "block_size": status.block_size,
        "inode_id": status.inode_id,
    }


class HafsFileSystem(AbstractFileSystem):
    """hafs for fsspec: ``HafsFileSystem(host=None, *, conf=None, addresses=None,
    user=None, nameservice=None)``; see the module docstring."""

    protocol = PROTOCOL
    root_marker = "/"

    def __init__(
        self,
        host: str | None = None,
        *,
        conf: str | os.PathLike[str] | None = None,
        addresses: list[str] | None = None,
        user: str | None = None,
        nameservice: str | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        self.host = host or ""
        self.config, self.nameservice = resolve(
            host, conf=conf, addresses=addresses, user=user, nameservice=nameservice
        )
        # A URL or option naming a nameservice talks to it alone; hafs:///path and a
        # cluster name see the whole federated tree (the client routes by mount table).
        names = {ns.name for ns in self.config.nameservices}
        self.bound = bool(nameservice or addresses or (host and host in names))
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._pid = 0

    @property
    def client(self) -> Client:
        """This process's ``Client``, made on first use."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = Client(
                    config=self.config, nameservice=self.nameservice if self.bound else None
                )
                self._pid = os.getpid()
                weakref.finalize(self, self._client.close)
            return self._client

    def close(self) -> None:
        """Close the client (a later call makes a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()

    # -- URLs ------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = "/" + path[len(PROTOCOL) + 3 :].partition("/")[2]
        if not path.startswith("/"):
            path = "/" + path
        return path.rstrip("/") or "/"

    @staticmethod
    def _get_kwargs_from_urls(path):
        path = stringify_path(path)
        if not path.startswith(f"{PROTOCOL}://"):
            return {}
        host = path[len(PROTOCOL) + 3 :].partition("/")[0]
        return {"host": host} if host else {}

    def unstrip_protocol(self, name: str) -> str:
        if name.startswith(f"{PROTOCOL}://"):
            return name
        return f"{PROTOCOL}://{self.host}{self._strip_protocol(name)}"

    # -- the namespace ---------------------------------------------------------------

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        entries = [info_of(status) for status in self.client.iter_ls(path)]
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path, **kwargs):
        return info_of(self.client.stat(self._strip_protocol(path)))

    def exists(self, path, **kwargs):
        try:
            self.info(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        self.client.mkdir(path, parents=create_parents, permission=kwargs.get("permission", 0o777))

    def makedirs(self, path, exist_ok=False):
        self.client.mkdir(self._strip_protocol(path), parents=True, exist_ok=exist_ok)

    def rmdir(self, path):
        path = self._strip_protocol(path)
        if not self.client.stat(path).is_dir:
            raise NotADirectoryError(path)
        self.client.delete(path, skip_trash=True)

    def rm(self, path, recursive=False, maxdepth=None):
        if maxdepth is not None:
            return super().rm(path, recursive=recursive, maxdepth=maxdepth)
        for target in self._expand(path):
            if not recursive and self.client.stat(target).is_dir:
                raise IsADirectory("is a directory (pass recursive=True)", target)
            self.client.delete(target, recursive=recursive, skip_trash=True)

    def rm_file(self, path):
        self.rm(path)

    def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
        """One ``Rename`` per source; into ``path2`` when it is a directory (as fsspec's
        copy does), replacing a file of that name."""
        sources = self._expand(path1)
        target = self._strip_protocol(path2)
        single = isinstance(path1, str) and not _has_magic(path1)
        for src in sources:
            dst = target if single else paths.child(target, paths.basename(src))
            if src == dst:
                continue
            if single:
                try:
                    if self.client.stat(dst).is_dir:
                        dst = paths.child(dst, paths.basename(src))
                except FileNotFoundError:
                    pass
            self.client.rename(src, dst, overwrite=True)

    def du(self, path, total=True, maxdepth=None, withdirs=False, **kwargs):
        if total and maxdepth is None:
            return self.client.content_summary(self._strip_protocol(path)).length
        return super().du(path, total=total, maxdepth=maxdepth, withdirs=withdirs, **kwargs)

    def touch(self, path, truncate=True, **kwargs):
        path = self._strip_protocol(path)
        if truncate or not self.exists(path):
            self.client.write_bytes(path, b"")
        else:
            now = datetime.datetime.now(datetime.UTC)
            self.client.set_times(path, mtime=int(now.timestamp() * 1000))

    def chmod(self, path, mode):
        self.client.chmod(self._strip_protocol(path), mode)

    def chown(self, path, owner=None, group=None):
        self.client.chown(self._strip_protocol(path), owner, group)

    def set_replication(self, path, replication):
        return self.client.set_replication(self._strip_protocol(path), replication)

    def created(self, path):
        raise NotImplementedError("hafs keeps no creation time (only mtime and atime, like HDFS)")

    def modified(self, path):
        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], datetime.UTC)

    def ukey(self, path):
        """Changes whenever the file is replaced or rewritten (inode, length, mtime)."""
        info = self.info(path)
        key = f"{info['inode_id']}:{info['size']}:{info['mtime']}"
        return hashlib.sha256(key.encode()).hexdigest()

    def checksum(self, path):
        """The file's MD5-of-MD5-of-CRC32C checksum (from the DataNodes), as an int."""
        return int.from_bytes(self.client.checksum(self._strip_protocol(path)).value, "big")

    # -- file data ---------------------------------------------------------------------

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kw):
        path = self._strip_protocol(path)
        if mode == "rb":
            buffer_size = block_size or DEFAULT_BUFFER_SIZE
            raw = self.client.open(path, "rb").detach()  # re-buffered as a HafsFile
            return HafsFile(self, path, raw, buffer_size)
        if mode not in ("wb", "xb", "ab"):
            raise ValueError(f"hafs files open as 'rb', 'wb', 'xb' or 'ab', not {mode!r}")
        if not autocommit:
            raise NotImplementedError("hafs does not support fsspec transactions")
        options = {k: kw[k] for k in ("replication", "permission") if k in kw}
        return self.client.open(path, mode, **options)

    def cat_file(self, path, start=None, end=None, **kwargs):
        """The bytes ``[start:end]``, read only from the blocks holding them."""
        return self.client.read_bytes(self._strip_protocol(path), start, end)

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        overwrite = mode == "overwrite"
        self.client.write_bytes(self._strip_protocol(path), value, overwrite=overwrite)

    def cp_file(self, path1, path2, **kwargs):
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.client.stat(src).is_dir:
            self.client.mkdir(dst, parents=True, exist_ok=True)
            return
        with self.client.open(src, "rb") as fin, self.client.open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_CHUNK)

    def put_file(self, lpath, rpath, callback=DEFAULT_CALLBACK, mode="overwrite", **kwargs):
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        callback.set_size(os.path.getsize(lpath))
        overwrite = mode == "overwrite"
        self.client.put(lpath, rpath, overwrite=overwrite, progress=callback.relative_update)

    def get_file(self, rpath, lpath, callback=DEFAULT_CALLBACK, outfile=None, **kwargs):
        rpath = self._strip_protocol(rpath)
        if outfile is None and not isinstance(lpath, str | os.PathLike):
            outfile = lpath  # a file object
        if outfile is not None:
            with self.open(rpath, "rb") as fin:
                callback.set_size(fin.size)
                while data := fin.read(COPY_CHUNK):
                    outfile.write(data)
                    callback.relative_update(len(data))
            return
        status = self.client.stat(rpath)
        if status.is_dir:
            os.makedirs(lpath, exist_ok=True)
            return
        os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
        callback.set_size(status.length)
        self.client.get(rpath, lpath, overwrite=True, progress=callback.relative_update)

    # -- plumbing ---------------------------------------------------------------------

    def _expand(self, path) -> list[str]:
        """Paths, stripped; glob patterns expanded to what they match."""
        found: list[str] = []
        for item in path if isinstance(path, list | tuple) else [path]:
            if _has_magic(item):
                found.extend(self.expand_path(item))
            else:
                found.append(self._strip_protocol(item))
        return found


def _has_magic(path: str) -> bool:
    return any(ch in stringify_path(path) for ch in "*?[")


__all__ = ["HafsFile", "HafsFileSystem", "info_of", "resolve"]
