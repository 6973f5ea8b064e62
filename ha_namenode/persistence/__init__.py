"""Persistence of the replicated state in SQLite: the only code that imports SQLAlchemy.

- ``SqlStore``: the ``ha_namenode.namespace.store.Store`` interface over a live
  database in WAL mode (``sqlstore``), with its tables and statements (``schema``).
- ``write_image`` / ``restore_image`` / ``latest_image``: consistent copies of
  that database and their restore (``image``); ``write_dump`` / ``read_dump``:
  the self-contained image the consensus layer uses as its Raft snapshot.

Imports: SQLAlchemy, the standard library and ``ha_namenode.namespace``.
"""

from ha_namenode.persistence.image import (
    ImageInfo,
    latest_image,
    read_dump,
    restore_image,
    write_dump,
    write_image,
)
from ha_namenode.persistence.sqlstore import SqlStore

__all__ = [
    "ImageInfo",
    "SqlStore",
    "latest_image",
    "read_dump",
    "restore_image",
    "write_dump",
    "write_image",
]
