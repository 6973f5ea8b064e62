"""Pure formatting and parsing for ``hactl fs``, shaped exactly like ``hdfs dfs``.

* ``LsFormatter``: ``-ls`` lines, ``permissions replicas owner group size date
  time path``, with hdfs's column widths (they only ever grow during one
  command, as in hdfs's ``Ls``); dates ``yyyy-MM-dd HH:mm`` in local time.
* ``du_lines``: hdfs's ``TableBuilder``: left-aligned columns, two spaces apart.
* ``count_line``: ``%12s %12s %18s`` (``-q``: ``%12s %15s %15s %15s`` first).
* ``format_stat``: ``-stat`` specifiers ``%a %A %b %F %g %n %o %r %u %x %X %y %Y``
  (``%x``/``%y`` in UTC, as hdfs prints them).
* ``human_size``: hdfs's ``-h`` (``1.5 K``, ``12 M``: binary prefixes, one decimal).
* ``parse_mode`` (octal ``755``/``1777`` or symbolic ``u+x,go-w,a=r,+t``) and
  ``parse_owner`` (``OWNER[:GROUP]``).
* ``error_text``: ``ls: '/nope': No such file or directory``.

No I/O and no client calls: every function takes values and returns strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from client.types import STICKY, ContentSummary, FileStatus, permission_string
from hafs_api.errors import ErrorCode, HafsError

# -- sizes and dates -------------------------------------------------------------

_PREFIXES = "KMGTPE"


def human_size(n: int) -> str:
    """hdfs's ``TraditionalBinaryPrefix.long2String(n, "", 1)``."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1024:
        return f"{sign}{n}"
    index = min((n.bit_length() - 1) // 10, len(_PREFIXES)) - 1
    value = 1 << (10 * (index + 1))
    if n % value == 0:
        return f"{sign}{n // value} {_PREFIXES[index]}"
    text = _one_decimal(n, value)
    if text.startswith("1024") and index + 1 < len(_PREFIXES):
        index += 1
        text = _one_decimal(n, value << 10)
    return f"{sign}{text} {_PREFIXES[index]}"


def _one_decimal(n: int, unit: int) -> str:
    return str((Decimal(n) / Decimal(unit)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def size_text(n: int, human: bool) -> str:
    return human_size(n) if human else str(n)


def ls_date(ms: int, tz: tzinfo | None = None) -> str:
    """``yyyy-MM-dd HH:mm`` in ``tz`` (None: local time), as ``-ls`` prints."""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def stat_date(ms: int) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in UTC, as ``-stat %y`` prints."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- -ls ---------------------------------------------------------------------------


class LsFormatter:
    """Column widths start at hdfs's minimums and only grow within one command."""

    def __init__(self, human: bool = False, tz: tzinfo | None = None) -> None:
        self.human = human
        self.tz = tz
        self.max_repl, self.max_len, self.max_owner, self.max_group = 3, 10, 0, 0

    def widen(self, entries: Sequence[FileStatus]) -> None:
        """Fit the columns to one listing (hdfs does this per directory, before printing it)."""
        for st in entries:
            self.max_repl = max(self.max_repl, len(str(st.replication)))
            self.max_len = max(self.max_len, len(str(st.length)))
            self.max_owner = max(self.max_owner, len(st.owner))
            self.max_group = max(self.max_group, len(st.group))

    def batch(self, entries: Sequence[FileStatus]) -> list[str]:
        """Lines for one listing, widened to fit it first."""
        self.widen(entries)
        return [self.line(st) for st in entries]

    def line(self, st: FileStatus) -> str:
        repl = str(st.replication) if st.is_file else "-"
        owner = f"{st.owner:<{self.max_owner}} " if self.max_owner else st.owner
        group = f"{st.group:<{self.max_group}} " if self.max_group else st.group
        size = size_text(st.length, self.human)
        return (
            f"{st.mode_string} {repl:>{self.max_repl}} {owner}{group}"
            f"{size:>{self.max_len}} {ls_date(st.mtime, self.tz)} {st.path}"
        )


def found_line(count: int) -> str:
    return f"Found {count} items"


def absolute(path: str, home: str) -> str:
    """hdfs resolves a relative path against the home directory ``/user/<user>``.

    A trailing slash is dropped (not from ``/``); an empty path stays empty and
    fails validation later with a clear message.
    """
    if path == ".":
        path = home
    elif path and not path.startswith("/"):
        path = f"{home}/{path.removeprefix('./')}"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


# -- -du and -count -----------------------------------------------------------------

DU_HEADER = ("SIZE", "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS", "FULL_PATH_NAME")


def du_lines(
    summaries: Iterable[ContentSummary], human: bool = False, header: bool = False
) -> list[str]:
    rows = [DU_HEADER] if header else []
    rows += [
        (size_text(s.length, human), size_text(s.space_consumed, human), s.path) for s in summaries
    ]
    if len(rows) == (1 if header else 0):
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}" for row in rows]


def count_header(quota: bool = False) -> str:
    text = f"{'DIR_COUNT':>12} {'FILE_COUNT':>12} {'CONTENT_SIZE':>18} PATHNAME"
    if quota:
        text = (
            f"{'QUOTA':>12} {'REM_QUOTA':>15} {'SPACE_QUOTA':>15} {'REM_SPACE_QUOTA':>15} "
        ) + text
    return text


def count_line(s: ContentSummary, quota: bool = False, human: bool = False) -> str:
    text = (
        f"{size_text(s.directory_count, human):>12} {size_text(s.file_count, human):>12} "
        f"{size_text(s.length, human):>18} {s.path}"
    )
    if not quota:
        return text
    ns, ns_rem, ds, ds_rem = "none", "inf", "none", "inf"
    if s.ns_quota > 0:
        ns, ns_rem = size_text(s.ns_quota, human), size_text(s.ns_quota - s.ns_used, human)
    if s.ds_quota >= 0:
        ds = size_text(s.ds_quota, human)
        ds_rem = size_text(s.ds_quota - s.space_consumed, human)
    return f"{ns:>12} {ns_rem:>15} {ds:>15} {ds_rem:>15} " + text


# -- -stat ---------------------------------------------------------------------------

DEFAULT_STAT_FORMAT = "%y"


def format_stat(fmt: str, st: FileStatus) -> str:
    """Expand hdfs ``-stat`` specifiers; an unknown ``%c`` gives ``c``, a trailing ``%`` nothing."""
    out = []
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(fmt[i])
            i += 1
            continue
        if i + 1 == len(fmt):
            break
        spec = fmt[i + 1]
        i += 2
        out.append(_stat_field(spec, st))
    return "".join(out)


def _stat_field(spec: str, st: FileStatus) -> str:
    fields = {
        "a": lambda: format(st.permission & 0o1777, "o"),
        "A": lambda: permission_string(st.permission),
        "b": lambda: str(st.length),
        "F": lambda: "directory" if st.is_dir else "regular file",
        "g": lambda: st.group,
        "n": lambda: st.name,
        "o": lambda: str(st.block_size),
        "r": lambda: str(st.replication),
        "u": lambda: st.owner,
        "x": lambda: stat_date(st.atime),
        "X": lambda: str(st.atime),
        "y": lambda: stat_date(st.mtime),
        "Y": lambda: str(st.mtime),
    }
    get = fields.get(spec)
    return get() if get else spec


# -- -chmod and -chown -----------------------------------------------------------------

_OCTAL = re.compile(r"[01]?[0-7]{3}")
_CLAUSE = re.compile(r"([ugoa]*)((?:[-+=][rwxXt]*)+)")
_ACTION = re.compile(r"([-+=])([rwxXt]*)")
_WHO = {"u": 0o700, "g": 0o070, "o": 0o007, "a": 0o777}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111}


@dataclass(frozen=True, slots=True)
class ModeChange:
    """A parsed ``-chmod`` mode: ``apply(current, is_dir)`` gives the new permission."""

    text: str
    octal: int | None
    clauses: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def apply(self, current: int, is_dir: bool) -> int:
        if self.octal is not None:
            return self.octal
        perm = current & 0o1777
        for who, actions in self.clauses:
            mask = 0
            for ch in who or "a":
                mask |= _WHO[ch]
            for op, letters in actions:
                bits = 0
                for ch in letters:
                    if ch in _PERM:
                        bits |= _PERM[ch]
                    elif ch == "X" and (is_dir or perm & 0o111):
                        bits |= 0o111
                bits &= mask
                sticky = STICKY if "t" in letters else 0
                if op == "+":
                    perm |= bits | sticky
                elif op == "-":
                    perm &= ~(bits | sticky)
                else:
                    perm = (perm & ~mask) | bits | sticky
        return perm & 0o1777


def parse_mode(text: str) -> ModeChange:
    """Octal (``755``, ``1777``) or symbolic (``u+x,go-w,a=r``); ValueError otherwise."""
    spec = text.strip()
    if _OCTAL.fullmatch(spec):
        return ModeChange(text, int(spec, 8))
    clauses = []
    for part in spec.split(","):
        match = _CLAUSE.fullmatch(part)
        if not match:
            raise ValueError(f"mode '{text}' does not match the expected pattern.")
        who = match.group(1)
        actions = tuple(_ACTION.findall(match.group(2)))
        if any("t" in letters for _, letters in actions) and who and not set(who) & {"o", "a"}:
            raise ValueError(f"mode '{text}': the sticky bit 't' applies to 'o' or 'a' only.")
        clauses.append((who, actions))
    return ModeChange(text, None, tuple(clauses))


_NAME = re.compile(r"[-\w.@$]+")


def parse_owner(text: str) -> tuple[str | None, str | None]:
    """``OWNER``, ``OWNER:GROUP`` or ``:GROUP`` to ``(owner, group)``; ValueError otherwise."""
    owner, _, group = text.strip().partition(":")
    if (not owner and not group) or any(p and not _NAME.fullmatch(p) for p in (owner, group)):
        raise ValueError(f"'{text}' does not match expected pattern for [owner][:group].")
    return owner or None, group or None


# -- errors ----------------------------------------------------------------------------

_REASONS = {
    ErrorCode.FILE_NOT_FOUND: "No such file or directory",
    ErrorCode.FILE_ALREADY_EXISTS: "File exists",
    ErrorCode.IS_A_DIRECTORY: "Is a directory",
    ErrorCode.PARENT_NOT_DIRECTORY: "Is not a directory",
    ErrorCode.DIRECTORY_NOT_EMPTY: "Directory is not empty",
}


def error_text(command: str, err: BaseException, path: str | None = None) -> str:
    """One hdfs-style error line: ``ls: '/nope': No such file or directory``."""
    if isinstance(err, HafsError):
        where = path or err.path
        reason = _REASONS.get(err.code)
        if reason and where:
            return f"{command}: '{where}': {reason}"
        if err.code is ErrorCode.ACCESS_DENIED and not err.message.startswith("Permission"):
            return f"{command}: Permission denied: {err}"
    return f"{command}: {err}"
