"""HDFS glob patterns: ``/logs/2024-0[1-3]/*.{csv,json}``, matched over a listing function.

The syntax of ``hadoop fs`` (``GlobPattern`` and ``Globber``):

* ``*`` any run of characters, ``?`` one character, within one path component
  (never ``/``); hidden names (``.x``) match ``*`` like any other, as in HDFS;
* ``[abc]``, ``[a-z]``, ``[!a]`` / ``[^a]`` a character class;
* ``{a,b}`` alternation, nested ``{a,{b,c}d}``; a group that contains ``/``
  (``{2023/01,2024/*}``) is expanded into whole patterns first;
* ``\\`` makes the next character literal (``\\*`` is a star).

Only components with a wildcard list a directory: literal components are
appended and checked once at the end with ``exists``, so ``/a/b*/c`` lists
``/a`` and stats each ``/a/bX/c``. A pattern without wildcards gives ``[path]``
if it exists, else ``[]``. Results are absolute paths, sorted, without
duplicates.

``glob(pattern, listdir, exists)`` is pure: ``listdir(path)`` returns the
``(name, is_dir)`` entries of a directory (empty for a missing path or a
file) and ``exists(path)`` says whether a path exists; ``Client.glob`` gives
it the cluster's. ``component_matcher`` compiles one component (``-find
-name`` uses it for basenames). Imports: the standard library and ``hafs_api``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from hafs_api.errors import InvalidArgument

ListDir = Callable[[str], Iterable[tuple[str, bool]]]
Exists = Callable[[str], bool]

_MAGIC = frozenset("*?[{")


def has_wildcard(pattern: str) -> bool:
    """True if ``pattern`` has an unescaped ``* ? [ {``."""
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in _MAGIC:
            return True
    return False


def unescape(text: str) -> str:
    """``text`` with each ``\\x`` turned into ``x``."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def glob(pattern: str, listdir: ListDir, exists: Exists) -> list[str]:
    """The absolute paths matching ``pattern`` (absolute), sorted; InvalidArgument if
    the pattern is malformed (an unclosed ``[`` or ``{``)."""
    if not pattern.startswith("/"):
        raise InvalidArgument(f"glob pattern is not absolute: {pattern!r}")
    found: set[str] = set()
    for each in expand_slash_groups(pattern):
        found.update(_glob_one(each, listdir, exists))
    return sorted(found)


def _glob_one(pattern: str, listdir: ListDir, exists: Exists) -> list[str]:
    parts = [p for p in pattern.split("/") if p]
    if not any(has_wildcard(p) for p in parts):
        path = "/" + "/".join(unescape(p) for p in parts)
        return [path] if exists(path) else []
    candidates, verified = ["/"], True
    for i, part in enumerate(parts):
        if not has_wildcard(part):
            name = unescape(part)
            candidates, verified = [_child(c, name) for c in candidates], False
            continue
        matcher, last = component_matcher(part), i == len(parts) - 1
        candidates = [
            _child(c, name)
            for c in candidates
            for name, is_dir in listdir(c)
            if (last or is_dir) and matcher(name)
        ]
        verified = True
    return candidates if verified else [c for c in candidates if exists(c)]


def _child(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else f"{parent}/{name}"


def component_matcher(part: str, ignore_case: bool = False) -> Callable[[str], bool]:
    """A predicate for names matching the one-component pattern ``part``."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    regex = re.compile(_translate(part), flags)
    return lambda name: regex.fullmatch(name) is not None


def _translate(part: str) -> str:
    """One component's pattern as a regular expression."""
    out: list[str] = []
    depth, i = 0, 0
    while i < len(part):
        ch = part[i]
        i += 1
        if ch == "\\":
            out.append(re.escape(part[i]) if i < len(part) else re.escape("\\"))
            i += 1
        elif ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            text, i = _char_class(part, i)
            out.append(text)
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "," and depth:
            out.append("|")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        else:
            out.append(re.escape(ch))
    if depth:
        raise InvalidArgument(f"Illegal file pattern: unclosed group in {part!r}")
    return "".join(out)


def _char_class(part: str, i: int) -> tuple[str, int]:
    """The class starting after the ``[`` at ``i - 1``: its regex and the index after ``]``."""
    out = ["["]
    if i < len(part) and part[i] in "!^":
        out.append("^")
        i += 1
    first = True
    while i < len(part):
        ch = part[i]
        i += 1
        if ch == "]" and not first:
            return "".join(out) + "]", i
        first = False
        if ch == "\\" and i < len(part):
            out.append(re.escape(part[i]))
            i += 1
        elif ch == "-":
            out.append("-")
        else:
            out.append(re.escape(ch))
    raise InvalidArgument(f"Illegal file pattern: unclosed character class in {part!r}")


def expand_slash_groups(pattern: str) -> list[str]:
    """Expand each ``{...}`` group that contains a ``/`` into whole patterns (HDFS's
    ``GlobExpander``), leftmost first; groups within one component are kept."""
    start = _slash_group(pattern)
    if start is None:
        return [pattern]
    end, alternatives = _group(pattern, start)
    head, tail = pattern[:start], pattern[end:]
    return [p for alt in alternatives for p in expand_slash_groups(head + alt + tail)]


def _slash_group(pattern: str) -> int | None:
    """The index of the first outermost ``{`` whose group contains ``/``."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            end, alternatives = _group(pattern, i)
            if any("/" in alt for alt in alternatives):
                return i
            i = end
            continue
        i += 1
    return None


def _group(pattern: str, start: int) -> tuple[int, list[str]]:
    """The group opening at ``start``: the index after its ``}`` and its top-level
    alternatives (inner groups and escapes kept as written)."""
    depth, i, piece = 0, start, start + 1
    alternatives: list[str] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                alternatives.append(pattern[piece:i])
                return i + 1, alternatives
        elif ch == "," and depth == 1:
            alternatives.append(pattern[piece:i])
            piece = i + 1
        i += 1
    raise InvalidArgument(f"Illegal file pattern: unclosed group in {pattern!r}")


__all__ = ["component_matcher", "expand_slash_groups", "glob", "has_wildcard", "unescape"]
