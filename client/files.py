"""``FileAccess``: the file-data half of ``Client`` (``client.client``), as a mixin.

``open`` returns a buffered, seekable ``client.reader.FileReader`` or a
streaming ``client.writer.FileWriter``; ``read_bytes``, ``write_bytes``,
``append_bytes``, ``put``/``get`` (``client.filecopy``) and ``checksum`` are
built on them. The data goes straight to the DataNodes through
``client.transfer``. Each file's NameNode calls go to the nameservice that owns
its path (``client.router``: the connection itself for a bound client, else an
endpoint that routes by the path and follows mount changes), so they fail
over and retry like every other call; its blocks are in that nameservice's
block pool. While files are open for writing, ``leases`` renews this client's
lease in the background, in each nameservice that holds one.

``Client`` provides the attributes declared at the top of the class.
Imports: ``client.reader``, ``client.writer``, ``client.filecopy``,
``client.transfer``, ``client.lease``, ``client.convert`` and ``hafs_api``.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from typing import Any, Literal, overload

from client import convert, filecopy
from client.config import ClientConfig
from client.lease import Leases
from client.reader import FileReader, file_checksum, locate
from client.transfer import DataNodes, DataPath
from client.types import BlockLocation, FileChecksum, ServerDefaults
from client.writer import FileWriter
from hafs_api import paths
from hafs_api.errors import InvalidArgument
from hafs_api.v1 import namenode_pb2 as pb

DEFAULT_PACKET_SIZE = 1 << 20  # bytes of data per write packet
DEFAULT_WINDOW = 8  # write packets in flight, unacknowledged
DEFAULT_BUFFER_SIZE = 1 << 20  # of the io.BufferedReader that open("rb") returns
WRITE_MODES = ("wb", "xb", "ab")


def normalize(path: str) -> str:
    """``path`` without a trailing slash (``/`` stays), validated; InvalidPath otherwise."""
    if isinstance(path, str) and len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return paths.validate(path)


class FileAccess:
    # Provided by Client.
    config: ClientConfig
    connection: Any  # client.rpc.NamenodeConnection
    router: Any  # client.router.Router
    nameservice: str
    client_id: str
    umask: int

    def _start_file_access(self) -> None:
        """Set up the data path (Client.__init__ calls this); nothing connects yet."""
        self.packet_size = DEFAULT_PACKET_SIZE
        self.window = DEFAULT_WINDOW
        self.leases = Leases(self._renew_lease)
        self._data_lock = threading.Lock()
        self._datanodes: DataNodes | None = None
        self._defaults: dict[str, ServerDefaults] = {}

    def _stop_file_access(self) -> None:
        """Stop renewing leases and close the DataNode channels (Client.close calls this)."""
        self.leases.close()
        with self._data_lock:
            datanodes, self._datanodes = self._datanodes, None
        if datanodes is not None:
            datanodes.close()

    # -- file data --------------------------------------------------------------

    @overload
    def open(
        self,
        path: str,
        mode: Literal["rb"] = "rb",
        *,
        replication: int | None = None,
        block_size: int | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        permission: int = 0o666,
        progress: Callable[[int], None] | None = None,
    ) -> io.BufferedReader: ...

    @overload
    def open(
        self,
        path: str,
        mode: Literal["wb", "xb", "ab"],
        *,
        replication: int | None = None,
        block_size: int | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        permission: int = 0o666,
        progress: Callable[[int], None] | None = None,
    ) -> FileWriter: ...

    def open(
        self,
        path: str,
        mode: str = "rb",
        *,
        replication: int | None = None,
        block_size: int | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        permission: int = 0o666,
        progress: Callable[[int], None] | None = None,
    ) -> io.BufferedReader | FileWriter:
        """Open a file: ``"rb"`` to read, ``"wb"`` to create or overwrite, ``"xb"`` to
        create (``FileExistsError`` if it exists), ``"ab"`` to append (creating it).

        Reading gives an ``io.BufferedReader`` (``buffer_size`` bytes) over a seekable
        ``FileReader``. Writing gives a ``FileWriter``: ``write``, ``flush``, ``hflush``,
        ``hsync``, ``close`` (which completes the file, also when the ``with`` block
        raised). A new file gets ``permission`` masked by the umask, ``replication``
        and ``block_size`` (default: the config's, else the server's); an appended
        file keeps its own. ``progress(n)`` is called as DataNodes acknowledge bytes.
        """
        path = normalize(path)
        if mode == "rb":
            if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
                raise InvalidArgument(f"buffer_size must be an integer >= 1, got {buffer_size!r}")
            return io.BufferedReader(FileReader(self._data_path(path), path), buffer_size)
        if mode not in WRITE_MODES:
            raise InvalidArgument(f"mode must be 'rb', 'wb', 'xb' or 'ab', got {mode!r}", path)
        return self._open_for_write(path, mode, replication, block_size, permission, progress)

    def read_bytes(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The file's bytes ``[start:end]`` (slice rules: None for the ends, negative from
        the end)."""
        path = normalize(path)
        with FileReader(self._data_path(path), path) as raw:
            lo = _bound(start, raw.length, 0)
            hi = _bound(end, raw.length, raw.length)
            pieces = []
            raw.seek(lo)
            while lo < hi and (data := raw.read(hi - lo)):
                pieces.append(data)
                lo += len(data)
            return b"".join(pieces)

    def write_bytes(self, path: str, data: bytes, overwrite: bool = True) -> None:
        """Write a whole file (``FileExistsError`` if it exists and not ``overwrite``)."""
        with self.open(path, "wb" if overwrite else "xb") as f:
            f.write(data)

    def append_bytes(self, path: str, data: bytes) -> None:
        """Append to a file, creating it if it does not exist."""
        with self.open(path, "ab") as f:
            f.write(data)

    def put(
        self,
        local_path: str | os.PathLike[str],
        remote_path: str,
        *,
        overwrite: bool = False,
        threads: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Copy a local file or directory tree here (``hdfs dfs -put``); see
        ``client.filecopy``. Returns the remote files written."""
        return filecopy.put(
            self,
            local_path,
            normalize(remote_path),
            overwrite=overwrite,
            threads=threads,
            progress=progress,
        )

    def get(
        self,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        threads: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Copy a file or directory tree to the local disk (``hdfs dfs -get``); see
        ``client.filecopy``. Returns the local files written."""
        return filecopy.get(
            self,
            normalize(remote_path),
            local_path,
            overwrite=overwrite,
            threads=threads,
            progress=progress,
        )

    def checksum(self, path: str) -> FileChecksum:
        """The file's MD5-of-MD5-of-CRC32C checksum, from the DataNodes (``-checksum``)."""
        path = normalize(path)
        bpc = self._server_defaults(self.router.owner(path)).bytes_per_checksum
        return file_checksum(self._data_path(path), path, bpc)

    def block_locations(self, path: str, offset: int = 0, length: int = 0) -> list[BlockLocation]:
        """The blocks holding ``[offset, offset + length)`` (``length`` 0: to the end)."""
        path = normalize(path)
        resp = locate(self._data_path(path), path, offset, length)
        return [convert.block_location(block) for block in resp.blocks]

    def recover_lease(self, path: str) -> bool:
        """Ask the NameNode to close a file another writer left open; True once closed."""
        path = normalize(path)
        request = pb.RecoverLeaseRequest(path=path)
        return self.router.call(path, "RecoverLease", request, mutation=True).closed

    # -- plumbing ---------------------------------------------------------------

    def _data_path(self, path: str) -> DataPath:
        """What a reader or writer of ``path`` needs: its owner's endpoint and block pool."""
        with self._data_lock:
            if self._datanodes is None:
                self._datanodes = DataNodes(timeout=self.config.client.attempt_timeout_s)
            datanodes = self._datanodes
        return DataPath(
            namenode=self.router.endpoint(path),
            datanodes=datanodes,
            client_name=self.client_id,
            block_pool=self.router.owner(path),
            packet_size=self.packet_size,
            window=self.window,
            deadline=self.connection.retry.deadline,
        )

    def _server_defaults(self, nameservice: str) -> ServerDefaults:
        """A nameservice's server defaults, asked once per client."""
        defaults = self._defaults.get(nameservice)
        if defaults is None:
            reply = self.router.connection(nameservice).call(
                "GetServerDefaults", pb.GetServerDefaultsRequest(), mutation=False
            )
            defaults = self._defaults[nameservice] = convert.server_defaults(reply)
        return defaults

    def _open_for_write(
        self,
        path: str,
        mode: str,
        replication: int | None,
        block_size: int | None,
        permission: int,
        progress: Callable[[int], None] | None,
    ) -> FileWriter:
        owner = self.router.owner(path)
        defaults = self._server_defaults(owner)
        settings = self.config.client
        replication = settings.replication if replication is None else replication
        block_size = settings.block_size if block_size is None else block_size
        _check_write_options(path, replication, block_size, defaults.bytes_per_checksum, permission)
        last_block = None
        resp = None
        if mode == "ab":
            try:
                resp = self.router.call(path, "Append", pb.AppendRequest(path=path), mutation=True)
            except FileNotFoundError:
                pass  # created below
            else:
                last_block = resp.last_block if resp.HasField("last_block") else None
        if resp is None:
            request = pb.CreateRequest(
                path=path,
                permission=permission & ~self.umask,
                overwrite=mode == "wb",
                create_parent=True,
                replication=replication,
                block_size=block_size,
            )
            resp = self.router.call(path, "Create", request, mutation=True)
        status = resp.status
        ticket = self.leases.add(owner, path)
        return FileWriter(
            self._data_path(path),
            path,
            file_id=status.inode_id,
            length=status.length,
            block_size=status.block_size or block_size or defaults.block_size,
            bytes_per_checksum=defaults.bytes_per_checksum,
            last_block=last_block,
            progress=progress,
            on_close=lambda: self.leases.remove(ticket),
        )

    def _renew_lease(self, nameservice: str) -> None:
        self.router.connection(nameservice).call(
            "RenewLease", pb.RenewLeaseRequest(), mutation=True
        )


def _bound(value: int | None, length: int, default: int) -> int:
    if value is None:
        return default
    return max(length + value, 0) if value < 0 else min(value, length)


def _check_write_options(
    path: str, replication: int, block_size: int, bpc: int, permission: int
) -> None:
    if isinstance(permission, bool) or not isinstance(permission, int):
        raise InvalidArgument(f"permission must be an int in 0..0o1777, got {permission!r}")
    if not 0 <= permission <= 0o1777:
        raise InvalidArgument(f"permission must be an int in 0..0o1777, got {permission!r}")
    if isinstance(replication, bool) or not isinstance(replication, int) or replication < 0:
        raise InvalidArgument(f"replication must be an integer >= 1, got {replication!r}", path)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 0:
        raise InvalidArgument(f"block size must be a positive integer, got {block_size!r}", path)
    if block_size and bpc and block_size % bpc:
        raise InvalidArgument(
            f"block size {block_size} is not a multiple of {bpc} bytes per checksum", path
        )


__all__ = ["DEFAULT_BUFFER_SIZE", "FileAccess", "normalize"]
