"""Output of ``hactl`` commands: hdfs-style text or ``--json``, errors and exit codes.

A ``Report`` collects one command's results. In text mode lines go to stdout
as they come and errors to stderr as ``cmd: '/p': reason``. In JSON mode
``finish()`` prints one JSON document to stdout (the command's records, a list
unless the command gives another shape) and each error is one JSON object on
stderr: ``{"error": {"command", "code", "message", "path"}}``. Like ``hdfs
dfs``, a command goes on with its other arguments after an error and exits 1
at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, NoReturn

import click

from client.cli.fsformat import error_text
from hafs_api.errors import HafsError


def quiet_stdout() -> None:
    """The reader went away (``| head``): send what is left to /dev/null, quietly."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class Failure(click.ClickException):
    """Stop the command: print ``message`` to stderr as is and exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


def exec_module(what: str, module: str, *args: str) -> NoReturn:
    """Replace hactl with ``python -m module args...`` (the CLI never imports server or
    chaos code); ``what`` names the command in the error if the exec fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-m", module, *args])
    except OSError as err:
        raise Failure(f"{what}: cannot exec {sys.executable}: {err}") from None


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


RECORDS: Any = object()  # finish(): print the collected records


class Report:
    def __init__(self, command: str, json_mode: bool) -> None:
        self.command = command
        self.json = json_mode
        self.records: list[Any] = []
        self.failed = False

    def line(self, text: str) -> None:
        """A line of text output (ignored in JSON mode)."""
        if not self.json:
            click.echo(text)

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    def record(self, item: Any) -> None:
        """An item of the JSON output (ignored in text mode)."""
        if self.json:
            self.records.append(item)

    def error(self, err: BaseException, path: str | None = None) -> None:
        self.failed = True
        if self.json:
            detail = {
                "command": self.command,
                "code": err.code.value if isinstance(err, HafsError) else type(err).__name__,
                "message": err.message if isinstance(err, HafsError) else str(err),
                "path": path or getattr(err, "path", "") or None,
            }
            click.echo(json.dumps({"error": detail}), err=True)
        else:
            click.echo(error_text(self.command, err, path), err=True)

    def finish(self, data: Any = RECORDS) -> None:
        """Print the JSON document (JSON mode) and exit 1 if any error was reported.

        The document is ``data`` when given (``None`` prints ``null``: a
        single-result command that failed), else the records.
        """
        if self.json:
            click.echo(dumps(self.records if data is RECORDS else data))
        if self.failed:
            raise click.exceptions.Exit(1)
