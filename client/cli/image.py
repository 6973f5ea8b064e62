"""``hactl image query IMAGE "SQL"``: read a NameNode image with the stdlib sqlite3.

The image is opened read-only (``file:...?mode=ro``) and, because a read-only
connection can still ``ATTACH`` or ``VACUUM INTO`` new files, an authorizer
allows only reading: SELECT (with CTEs and functions) and introspection
pragmas as statements (``PRAGMA table_info(t)``; the ``pragma_*()`` table
functions are refused, as sqlite reports them as schema writes). One statement
per call. JSON output is a list of row objects keyed by
column name (BLOBs as hex strings).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click

from client.cli.context import json_option, pass_state
from client.cli.output import Failure, dumps

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_LISTING_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "database_list",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "integrity_check",
    "quick_check",
}
_VALUE_PRAGMAS = {  # readable only without an argument (with one, they set)
    "user_version",
    "application_id",
    "schema_version",
    "data_version",
    "page_size",
    "page_count",
    "freelist_count",
    "encoding",
    "journal_mode",
    "auto_vacuum",
}
_ACTION_NAMES = {  # authorizer action codes (they overlap sqlite's result codes)
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "CREATE_INDEX",
        "CREATE_TABLE",
        "CREATE_TEMP_INDEX",
        "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER",
        "CREATE_TEMP_VIEW",
        "CREATE_TRIGGER",
        "CREATE_VIEW",
        "DELETE",
        "DROP_INDEX",
        "DROP_TABLE",
        "DROP_TEMP_INDEX",
        "DROP_TEMP_TABLE",
        "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW",
        "DROP_TRIGGER",
        "DROP_VIEW",
        "INSERT",
        "TRANSACTION",
        "UPDATE",
        "ATTACH",
        "DETACH",
        "ALTER_TABLE",
        "REINDEX",
        "ANALYZE",
        "CREATE_VTABLE",
        "DROP_VTABLE",
        "SAVEPOINT",
    )
}
_ON_TABLE = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}


class ImageQueryError(Exception):
    """The query could not run; the message says why."""


def query_image(path: str | Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only statement on the image at ``path``: ``(columns, rows)``."""
    image = Path(path)
    if not image.exists():
        raise ImageQueryError(f"'{path}': No such file or directory")
    if not image.is_file():
        raise ImageQueryError(f"'{path}': Is not a file")
    denied: list[str] = []

    def authorize(action: int, arg1, arg2, _db, _trigger) -> int:
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _LISTING_PRAGMAS or (name in _VALUE_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
            denied.append(f"PRAGMA {name}" + ("" if arg2 is None else f" = {arg2}"))
        else:
            name = _ACTION_NAMES.get(action, f"action {action}")
            denied.append(f"{name} on {arg1}" if action in _ON_TABLE else name)
        return sqlite3.SQLITE_DENY

    try:
        conn = sqlite3.connect(
            f"{image.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise ImageQueryError(f"'{path}': cannot open: {exc}") from None
    try:
        conn.set_authorizer(authorize)
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return columns, cursor.fetchall()
    except (sqlite3.Error, sqlite3.Warning) as exc:
        if denied or "readonly" in str(exc):
            what = denied[0] if denied else "the statement"
            raise ImageQueryError(
                f"refused: {what} is not allowed: images are opened read-only"
            ) from None
        raise ImageQueryError(f"'{path}': {exc}") from None
    finally:
        conn.close()


@click.group("image")
def image() -> None:
    """Inspect NameNode images (SQLite files) offline."""


@image.command("query")
@json_option
@click.argument("path", metavar="IMAGE")
@click.argument("sql", metavar='"SQL"')
@pass_state
def query(state, json_, path, sql) -> None:
    """Run one read-only SQL statement on IMAGE and print the rows."""
    try:
        columns, rows = query_image(path, sql)
    except ImageQueryError as err:
        raise Failure(f"image query: {err}") from None
    if json_ or state.json:
        click.echo(dumps([dict(zip(columns, row, strict=True)) for row in rows]))
        return
    if not columns:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(
            *(
                "NULL" if v is None else bytes(v).hex() if isinstance(v, bytes) else str(v)
                for v in row
            )
        )
    Console(highlight=False).print(table)
