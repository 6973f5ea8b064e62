"""The extended-attribute ``hactl fs`` commands, as ``hdfs dfs`` has them:
``-setfattr {-n NAME [-v VALUE] | -x NAME} PATH`` and
``-getfattr [-R] {-n NAME | -d} [-e text|hex|base64] PATH``.

Values on the command line are read as HDFS's ``XAttrCodec`` reads them: in
double quotes, the string inside; ``0x``/``0X`` then hex digits; ``0s``/``0S``
then base64; anything else, the string itself (UTF-8). ``-getfattr`` prints
``# file: PATH``, then one line per attribute: ``name=VALUE`` with VALUE
encoded by ``-e`` (text: ``"..."``, hex: ``0x...``, base64: ``0s...``), or only
``name`` when the value is empty. ``-d`` prints every attribute you may see,
by name.

JSON shapes (``--json``): ``-setfattr`` a list of ``{"path", "name", "action"}``
(``"set"`` or ``"remove"``); ``-getfattr`` a list of ``{"path", "xattrs"}`` where
``xattrs`` maps names to values encoded by ``-e`` (text: the string, unquoted,
with undecodable bytes replaced; hex ``0x...``; base64 ``0s...``).
"""

from __future__ import annotations

import base64
import binascii

import click

from client.cli.context import json_option, pass_state, report_for
from client.cli.fschange import tree
from client.cli.fsformat import absolute
from client.cli.globargs import expand
from hafs_api.errors import HafsError

ENCODINGS = ("text", "hex", "base64")


def decode_value(text: str) -> bytes:
    """A ``-v`` argument as bytes; ValueError for bad hex or base64."""
    if len(text) >= 2:
        if text.startswith('"') and text.endswith('"'):
            return text[1:-1].encode("utf-8")
        prefix, rest = text[:2].lower(), text[2:]
        if prefix == "0x":
            try:
                return bytes.fromhex(rest)
            except ValueError:
                raise ValueError(f"bad hex value {text!r}") from None
        if prefix == "0s":
            try:
                return base64.b64decode(rest, validate=True)
            except binascii.Error:
                raise ValueError(f"bad base64 value {text!r}") from None
    return text.encode("utf-8")


def encode_value(value: bytes, encoding: str) -> str:
    """A value as ``-getfattr -e ENCODING`` prints it."""
    if encoding == "hex":
        return "0x" + value.hex()
    if encoding == "base64":
        return "0s" + base64.b64encode(value).decode("ascii")
    return '"' + value.decode("utf-8", errors="replace") + '"'


def json_value(value: bytes, encoding: str) -> str:
    if encoding == "text":
        return value.decode("utf-8", errors="replace")
    return encode_value(value, encoding)


class ValueType(click.ParamType):
    name = "VALUE"

    def convert(self, value, param, ctx) -> bytes:
        if isinstance(value, bytes):
            return value
        try:
            return decode_value(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


@click.command("setfattr")
@click.option("-n", "name", metavar="NAME", help="The attribute to set (user.x, trusted.x).")
@click.option(
    "-v",
    "value",
    type=ValueType(),
    metavar="VALUE",
    help='Its value: "text", 0xHEX or 0sBASE64 (default: empty).',
)
@click.option("-x", "remove", metavar="NAME", help="Remove this attribute instead.")
@json_option
@click.argument("path")
@pass_state
def setfattr(state, name, value, remove, json_, path) -> None:
    """Set (-n NAME [-v VALUE]) or remove (-x NAME) an extended attribute."""
    if name is not None and remove is not None:
        raise click.UsageError("Can not specify both '-n name' and '-x name' option.")
    if name is None and remove is None:
        raise click.UsageError("Must specify '-n name' or '-x name' option.")
    if remove is not None and value is not None:
        raise click.UsageError("-v goes with -n, not with -x.")
    report = report_for(state, json_, "setfattr")
    client = state.client()
    for arg in expand(client, report, [path]):
        target = absolute(arg, client.home)
        try:
            if remove is not None:
                client.remove_xattr(target, remove)
            else:
                client.set_xattr(target, name, b"" if value is None else value)
        except HafsError as err:
            report.error(err, arg)
            continue
        action = "remove" if remove is not None else "set"
        report.record({"path": target, "name": remove or name, "action": action})
    report.finish()


@click.command("getfattr")
@click.option("-R", "recursive", is_flag=True, help="Also every file and directory below.")
@click.option("-n", "name", metavar="NAME", help="Print this attribute.")
@click.option("-d", "dump", is_flag=True, help="Print every attribute.")
@click.option(
    "-e",
    "encoding",
    type=click.Choice(ENCODINGS, case_sensitive=False),
    default="text",
    show_default=True,
    help='How to print values: "text" in quotes, hex as 0x..., base64 as 0s....',
)
@json_option
@click.argument("path")
@pass_state
def getfattr(state, recursive, name, dump, encoding, json_, path) -> None:
    """Print the extended attributes of a file or directory (-n NAME, or -d for all)."""
    if not dump and name is None:
        raise click.UsageError("Must specify '-n name' or '-d' option.")
    encoding = encoding.lower()
    report = report_for(state, json_, "getfattr")
    client = state.client()
    for arg in expand(client, report, [path]):
        try:
            top = client.stat(absolute(arg, client.home))
            for st in tree(client, top, report.error) if recursive else [top]:
                report.line(f"# file: {st.path}")
                try:
                    found = (
                        client.get_xattrs(st.path) if dump else client.get_xattrs(st.path, [name])
                    )
                except HafsError as err:
                    report.error(err, st.path)
                    continue
                for key, value in found.items():
                    report.line(f"{key}={encode_value(value, encoding)}" if value else key)
                report.record(
                    {
                        "path": st.path,
                        "xattrs": {k: json_value(v, encoding) for k, v in found.items()},
                    }
                )
        except HafsError as err:
            report.error(err, arg)
    report.finish()


COMMANDS = (setfattr, getfattr)
