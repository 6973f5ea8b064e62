"""Glob patterns in the path arguments of ``hactl fs``, expanded the way ``hdfs dfs`` does.

``expand(client, report, args)`` turns the arguments a command was given into
the paths it works on, in order: an argument with a wildcard (``* ? [ {``, see
``client.glob``) becomes its matches, sorted; one that matches nothing is the
error ``ls: 'x*': No such file or directory`` (not with ``missing_ok``:
``-rm -f`` and ``-test``) and gives no path. A literal argument goes through
unchanged, with ``\\`` escapes removed, so a missing one gets the command's own
error. Matches keep the argument's form: a relative pattern (``d*``) gives
paths relative to the home directory (``d1``), which the commands resolve with
``fsformat.absolute`` as they do any argument.

Destinations (``-mv``, ``-cp``, ``-get``, ``-put``) and the paths that
``-mkdir``, ``-put`` and ``-touchz`` create are not expanded here.

Imports: ``client.glob``, ``client.cli.fsformat`` and ``hafs_api``.
"""

from __future__ import annotations

from collections.abc import Iterable

from client.cli.fsformat import absolute
from client.glob import has_wildcard, unescape
from hafs_api.errors import FileNotFound, HafsError


def expand(client, report, args: Iterable[str], *, missing_ok: bool = False) -> list[str]:
    """The paths ``args`` name, globs expanded; errors go to ``report``."""
    found: list[str] = []
    for arg in args:
        if not has_wildcard(arg):
            found.append(unescape(arg) if "\\" in arg else arg)
            continue
        try:
            matches = client.glob(absolute(arg, client.home))
        except HafsError as err:
            report.error(err, arg)
            continue
        if not matches and not missing_ok:
            report.error(FileNotFound("No such file or directory", arg), arg)
        found += matches if arg.startswith("/") else [_relative(m, client.home) for m in matches]
    return found


def _relative(path: str, home: str) -> str:
    """``path`` relative to ``home`` when it lies under it (a relative pattern's match)."""
    prefix = home.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else path


__all__ = ["expand"]
