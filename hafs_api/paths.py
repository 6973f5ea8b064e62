"""Path rules of the hafs namespace, shared by the servers and the client.

Standard library only. A valid path is absolute, made of non-empty UTF-8
components separated by single slashes, with no ``.``/``..`` components, no NUL,
no component over ``MAX_NAME_BYTES`` and no path over ``MAX_PATH_BYTES`` or
``MAX_DEPTH`` components. The root is ``/``. These limits are part of the
protocol (HDFS: ``dfs.namenode.fs-limits.*``), so every replica applies the same.
"""

from __future__ import annotations

from hafs_api.errors import InvalidPath

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 8000
MAX_DEPTH = 1000
ROOT = "/"


def split(path: str) -> tuple[str, ...]:
    """Validate ``path`` and return its components (``()`` for the root).

    Raises InvalidPath with a message that says what is wrong.
    """
    if not isinstance(path, str):
        raise InvalidPath(f"path must be a string, not {type(path).__name__}")
    if not path:
        raise InvalidPath("path is empty")
    if not path.startswith("/"):
        raise InvalidPath("path is not absolute", _shown(path))
    if "\x00" in path:
        raise InvalidPath("path contains a NUL character", _shown(path))
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidPath("path is not valid UTF-8", _shown(path)) from None
    if size > MAX_PATH_BYTES:
        raise InvalidPath(f"path is {size} bytes, over the limit of {MAX_PATH_BYTES}", _shown(path))
    if path == ROOT:
        return ()
    parts = tuple(path[1:].split("/"))
    if len(parts) > MAX_DEPTH:
        raise InvalidPath(
            f"path has {len(parts)} components, over the limit of {MAX_DEPTH}", _shown(path)
        )
    for part in parts:
        check_name(part, path)
    return parts


def check_name(name: str, path: str = "") -> None:
    """Raise InvalidPath unless ``name`` is a valid single component."""
    where = _shown(path or name)
    if name == "":
        raise InvalidPath("path has an empty component", where)
    if name in (".", ".."):
        raise InvalidPath(f"path component {name!r} is not allowed", where)
    if "/" in name or "\x00" in name:
        raise InvalidPath("name contains '/' or NUL", where)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidPath("name is not valid UTF-8", where) from None
    if size > MAX_NAME_BYTES:
        raise InvalidPath(f"name is {size} bytes, over the limit of {MAX_NAME_BYTES}", where)


def validate(path: str) -> str:
    """Return ``path`` unchanged if valid; raise InvalidPath otherwise."""
    split(path)
    return path


def join(parts: tuple[str, ...] | list[str]) -> str:
    return "/" + "/".join(parts)


def child(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else f"{parent}/{name}"


def parent(path: str) -> str:
    if path == ROOT:
        return ROOT
    head = path.rsplit("/", 1)[0]
    return head or ROOT


def basename(path: str) -> str:
    return "" if path == ROOT else path.rsplit("/", 1)[1]


def is_ancestor(ancestor: str, path: str) -> bool:
    """True when ``ancestor`` is ``path`` or contains it, by whole components."""
    if ancestor == ROOT:
        return True
    return path == ancestor or path.startswith(ancestor + "/")


def _shown(path: str, limit: int = 200) -> str:
    """A printable, bounded rendering of a (possibly hostile) path for messages."""
    text = path.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"
