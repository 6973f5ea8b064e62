"""``hactl safemode get|enter|leave|wait``: a read-only namespace, as ``hdfs dfsadmin
-safemode``, per nameservice.

Without ``--nameservice NAME`` each subcommand acts on every configured
nameservice (the default first), and prints one line for each:
``Safe mode is ON in ns1 (reason: upgrade, by hdfs since 2026-11-22 11:39:17)``
or ``Safe mode is OFF in ns1``. ``enter [--reason TEXT]`` and ``leave`` need the
superuser. ``wait [--timeout S]`` returns once safe mode is off everywhere.

JSON: a list with one SafeModeStatus object per nameservice (``nameservice``,
``on``, ``reason``, ``set_by``, ``since`` in ms since the epoch, 0 when off).
Exit 1 when a nameservice did not answer, refused (not the superuser), or
``wait`` timed out; the others are still printed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import click

from client.cli.context import State, json_option, pass_state, report_for
from client.cli.output import Failure
from client.safemode import SafeModeStatus
from hafs_api.errors import HafsError, make_error

T = TypeVar("T")


def nameservice_option(fn):
    return click.option(
        "--nameservice",
        "nameservice",
        metavar="NAME",
        default=None,
        help="Only this nameservice (default: every configured one).",
    )(fn)


def nameservices(state: State, nameservice: str | None, command: str) -> list[str]:
    """``nameservice`` if given (and configured), else every configured one, default first."""
    config = state.client().config
    configured = [ns.name for ns in config.nameservices]
    if nameservice is None:
        return list(dict.fromkeys([config.default_nameservice, *configured]))
    if nameservice not in configured:
        known = ", ".join(configured)
        raise Failure(f"{command}: unknown nameservice {nameservice!r} (configured: {known})")
    return [nameservice]


def per_nameservice(state: State, names: list[str], call: Callable[..., T]) -> list[T | HafsError]:
    """``call(client)`` with a client bound to each nameservice, in parallel; an error
    is returned in its place, its message naming the nameservice."""

    clients = [state.client_for(name) for name in names]  # made here, not in the threads

    def one(name: str, client) -> T | HafsError:
        try:
            return call(client)
        except HafsError as err:
            return make_error(err.code.value, f"{name}: {err.message}", err.path)

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(one, names, clients))


def status_line(s: SafeModeStatus) -> str:
    if not s.on:
        return f"Safe mode is OFF in {s.nameservice}"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.since / 1000))
    reason = s.reason or "entered manually"
    return f"Safe mode is ON in {s.nameservice} (reason: {reason}, by {s.set_by} since {since})"


def _run(state, json_: bool, sub: str, nameservice: str | None, call) -> None:
    out = report_for(state, json_, f"safemode {sub}")
    names = nameservices(state, nameservice, f"safemode {sub}")
    records = []
    for answer in per_nameservice(state, names, call):
        if isinstance(answer, HafsError):
            out.error(answer)
            continue
        out.line(status_line(answer))
        records.append(dataclasses.asdict(answer))
    out.finish(records)


@click.group("safemode")
def safemode() -> None:
    """Safe mode: a read-only namespace (dfsadmin -safemode get|enter|leave|wait)."""


@safemode.command("get")
@nameservice_option
@json_option
@pass_state
def get(state, nameservice, json_) -> None:
    """Show whether each nameservice is in safe mode."""
    _run(state, json_, "get", nameservice, lambda client: client.safe_mode())


@safemode.command("enter")
@click.option("--reason", default="", metavar="TEXT", help="Why; shown by get and in refusals.")
@nameservice_option
@json_option
@pass_state
def enter(state, reason, nameservice, json_) -> None:
    """Make the namespace read-only: every change is refused, reads work (superuser)."""
    _run(state, json_, "enter", nameservice, lambda client: client.enter_safe_mode(reason))


@safemode.command("leave")
@nameservice_option
@json_option
@pass_state
def leave(state, nameservice, json_) -> None:
    """Make the namespace writable again (superuser)."""
    _run(state, json_, "leave", nameservice, lambda client: client.leave_safe_mode())


@safemode.command("wait")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="S",
    help="Give up (exit 1) after S seconds; default: wait as long as it takes.",
)
@nameservice_option
@json_option
@pass_state
def wait(state, timeout, nameservice, json_) -> None:
    """Wait until safe mode is off."""
    _run(state, json_, "wait", nameservice, lambda client: client.wait_safe_mode_off(timeout))
