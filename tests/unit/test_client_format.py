"""hdfs-shaped formatting (-ls, -du, -count, -stat), mode and owner parsing, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from client.cli import fsformat as f
from client.cli.fs import DashGroup
from client.types import FileStatus, permission_string
from hafs_api.errors import (
    AccessDenied,
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotFound,
    IsADirectory,
    ParentNotDirectory,
    Unavailable,
)

T = int(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000) + 678


def status(
    path="/f",
    kind="file",
    length=0,
    replication=3,
    permission=0o644,
    owner="alice",
    group="supergroup",
    **kw,
) -> FileStatus:
    defaults = dict(block_size=134217728 if kind == "file" else 0, mtime=T, atime=T - 60_000)
    defaults.update(kw)
    return FileStatus(
        path=path,
        kind=kind,
        length=length,
        replication=replication if kind == "file" else 0,
        permission=permission,
        owner=owner,
        group=group,
        **defaults,
    )


def directory(path="/d", permission=0o755, **kw) -> FileStatus:
    return status(path=path, kind="directory", permission=permission, **kw)


@pytest.mark.parametrize(
    "perm, is_dir, expected",
    [
        (0o755, True, "drwxr-xr-x"),
        (0o644, False, "-rw-r--r--"),
        (0o1777, True, "drwxrwxrwt"),
        (0o1776, True, "drwxrwxrwT"),
        (0o000, False, "----------"),
        (0o750, True, "drwxr-x---"),
    ],
)
def test_mode_string(perm, is_dir, expected):
    st = directory(permission=perm) if is_dir else status(permission=perm)
    assert st.mode_string == expected
    assert permission_string(perm) == expected[1:]
    assert st.is_dir is is_dir and st.is_file is not is_dir


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, "0"),
        (1023, "1023"),
        (1024, "1 K"),
        (1536, "1.5 K"),
        (1126, "1.1 K"),
        (1048575, "1.0 M"),
        (1048576, "1 M"),
        (10**12, "931.3 G"),
        (3 * 2**40, "3 T"),
        (-2048, "-2 K"),
        (2**60, "1 E"),
    ],
)
def test_human_size_matches_hdfs(n, expected):
    assert f.human_size(n) == expected


def test_ls_lines_use_hdfs_columns():
    fmt = f.LsFormatter(tz=UTC)
    lines = fmt.batch([directory("/user"), status("/data.csv", length=1234)])
    assert lines == [
        "drwxr-xr-x   - alice supergroup          0 2024-01-02 03:04 /user",
        "-rw-r--r--   3 alice supergroup       1234 2024-01-02 03:04 /data.csv",
    ]
    assert f.found_line(2) == "Found 2 items"


def test_ls_widths_grow_within_a_command_and_never_shrink():
    fmt = f.LsFormatter(tz=UTC)
    first = fmt.batch([status("/a", length=12345678901, owner="bartholomew", group="g")])
    second = fmt.batch([status("/b", length=1, owner="al", group="g", permission=0o600)])
    assert first == ["-rw-r--r--   3 bartholomew g 12345678901 2024-01-02 03:04 /a"]
    assert second == ["-rw-------   3 al          g           1 2024-01-02 03:04 /b"]


def test_ls_human_sizes_and_sticky_bit():
    fmt = f.LsFormatter(human=True, tz=UTC)
    lines = fmt.batch([directory("/tmp", permission=0o1777), status("/big", length=1536)])
    assert lines == [
        "drwxrwxrwt   - alice supergroup          0 2024-01-02 03:04 /tmp",
        "-rw-r--r--   3 alice supergroup      1.5 K 2024-01-02 03:04 /big",
    ]


def test_ls_date_is_local_time_by_default(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no daylight saving
    time.tzset()
    try:
        line = f.LsFormatter().batch([status()])[0]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert line.split()[5:7] == ["2024-01-02", "08:34"]


def summary(path="/d", length=0, files=0, dirs=1, ns_quota=-1, ns_used=1, ds_quota=-1, consumed=0):
    from client.types import ContentSummary

    return ContentSummary(
        path=path,
        length=length,
        file_count=files,
        directory_count=dirs,
        ns_quota=ns_quota,
        ns_used=ns_used,
        ds_quota=ds_quota,
        space_consumed=consumed,
    )


def test_du_is_a_left_aligned_table_two_spaces_apart():
    rows = [summary("/a"), summary("/bigfile", length=1234567, consumed=3703701)]
    assert f.du_lines(rows) == [
        "0        0        /a",
        "1234567  3703701  /bigfile",
    ]
    assert f.du_lines(rows, human=True) == [
        "0      0      /a",
        "1.2 M  3.5 M  /bigfile",
    ]
    assert f.du_lines(rows[:1], header=True) == [
        "SIZE  DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS  FULL_PATH_NAME",
        "0     0                                      /a",
    ]
    assert f.du_lines([]) == [] and f.du_lines([], header=True) == []


@pytest.mark.parametrize(
    "kwargs, quota, human, expected",
    [
        (
            dict(length=1234, files=3, dirs=2),
            False,
            False,
            "           2            3               1234 /d",
        ),
        (
            dict(length=1536, files=2048, dirs=1),
            False,
            True,
            "           1          2 K              1.5 K /d",
        ),
        (
            dict(length=10, files=1, dirs=1, ns_used=2),
            True,
            False,
            "        none             inf            none             inf "
            "           1            1                 10 /d",
        ),
        (
            dict(length=10, files=1, dirs=1, ns_quota=100, ns_used=2, ds_quota=3072, consumed=30),
            True,
            False,
            "         100              98            3072            3042 "
            "           1            1                 10 /d",
        ),
        (
            dict(ns_quota=5, ns_used=7, ds_quota=0, consumed=2048),
            True,
            True,
            "           5              -2               0            -2 K "
            "           1            0                  0 /d",
        ),
    ],
)
def test_count_columns(kwargs, quota, human, expected):
    assert f.count_line(summary(**kwargs), quota=quota, human=human) == expected


def test_count_headers():
    assert f.count_header() == "   DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME"
    assert f.count_header(quota=True) == (
        "       QUOTA       REM_QUOTA     SPACE_QUOTA REM_SPACE_QUOTA "
        "   DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME"
    )


@pytest.mark.parametrize(
    "fmt, st, expected",
    [
        ("%y", status(), "2024-01-02 03:04:05"),
        ("%Y", status(), str(T)),
        ("%x|%X", status(), f"2024-01-02 03:03:05|{T - 60_000}"),
        ("%b %r %o", status(length=77), "77 3 134217728"),
        ("%F", status(), "regular file"),
        ("%F %r %o", directory(), "directory 0 0"),
        ("%a %A", directory(permission=0o1777), "1777 rwxrwxrwt"),
        ("%a", status(permission=0o644), "644"),
        ("%a", status(permission=0o055), "55"),  # hdfs prints toOctal() as a number
        ("%u:%g", status(), "alice:supergroup"),
        ("%n", status("/dir/name.txt"), "name.txt"),
        ("%n", directory("/"), ""),
        ("size=%b%%", status(length=5), "size=5%"),
        ("%q and %", status(), "q and "),
    ],
)
def test_stat_format(fmt, st, expected):
    assert f.format_stat(fmt, st) == expected


@pytest.mark.parametrize(
    "spec, current, is_dir, expected",
    [
        ("755", 0o644, False, 0o755),
        ("1777", 0o755, True, 0o1777),
        ("0644", 0o1777, True, 0o644),
        ("u+x", 0o644, False, 0o744),
        ("go-w", 0o666, False, 0o644),
        ("a=r", 0o777, False, 0o444),
        ("u+x,go-w", 0o666, False, 0o744),
        ("+x", 0o644, False, 0o755),
        ("a+X", 0o644, False, 0o644),
        ("a+X", 0o644, True, 0o755),
        ("a+X", 0o744, False, 0o755),
        ("+t", 0o777, True, 0o1777),
        ("o-t", 0o1777, True, 0o777),
        ("a=rwx", 0o1700, True, 0o1777),  # '=' keeps the sticky bit unless t is named
        ("u=rwx,g=rx,o=", 0o777, False, 0o750),
        ("ug+rw-x", 0o755, False, 0o665),
        ("o=t", 0o777, True, 0o1770),
    ],
)
def test_chmod_modes(spec, current, is_dir, expected):
    assert f.parse_mode(spec).apply(current, is_dir) == expected


@pytest.mark.parametrize("spec", ["x", "u+y", "7777", "999", "", "u", "u+x,", "g+t", "+r w"])
def test_bad_chmod_modes(spec):
    with pytest.raises(ValueError, match="mode"):
        f.parse_mode(spec)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("alice", ("alice", None)),
        ("alice:staff", ("alice", "staff")),
        (":staff", (None, "staff")),
        ("alice:", ("alice", None)),
        ("svc.etl@EXAMPLE", ("svc.etl@EXAMPLE", None)),
    ],
)
def test_owner_specs(spec, expected):
    assert f.parse_owner(spec) == expected


@pytest.mark.parametrize("spec", [":", "", "a b", "a:b:c", "a/b"])
def test_bad_owner_specs(spec):
    with pytest.raises(ValueError, match=r"\[owner\]\[:group\]"):
        f.parse_owner(spec)


@pytest.mark.parametrize(
    "command, err, path, expected",
    [
        (
            "ls",
            FileNotFound("File does not exist", "/nope"),
            None,
            "ls: '/nope': No such file or directory",
        ),
        (
            "ls",
            FileNotFound("File does not exist", "/a"),
            "/a/b",
            "ls: '/a/b': No such file or directory",
        ),
        ("mkdir", FileAlreadyExists("exists", "/d"), None, "mkdir: '/d': File exists"),
        ("rm", IsADirectory("Is a directory", "/d"), None, "rm: '/d': Is a directory"),
        (
            "rmdir",
            DirectoryNotEmpty("not empty", "/d"),
            None,
            "rmdir: '/d': Directory is not empty",
        ),
        (
            "mkdir",
            ParentNotDirectory("parent is a file", "/f/x"),
            None,
            "mkdir: '/f/x': Is not a directory",
        ),
        (
            "mkdir",
            AccessDenied("user=bob, access=WRITE", "/x"),
            None,
            "mkdir: Permission denied: user=bob, access=WRITE: /x",
        ),
        (
            "ls",
            Unavailable("NameNode unreachable: refused"),
            None,
            "ls: NameNode unreachable: refused",
        ),
        ("ls", ValueError("odd"), "/p", "ls: odd"),
    ],
)
def test_error_lines(command, err, path, expected):
    assert f.error_text(command, err, path) == expected


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b"),
        ("/", "/"),
        ("//", "/"),
        (".", "/user/alice"),
        ("x", "/user/alice/x"),
        ("./x/", "/user/alice/x"),
        ("", ""),
    ],
)
def test_relative_paths_resolve_against_home(arg, expected):
    assert f.absolute(arg, "/user/alice") == expected


def test_dash_group_maps_dash_commands_to_subcommands():
    @click.group(cls=DashGroup)
    def group():
        pass

    @group.command("ls")
    @click.option("-R", "recursive", is_flag=True)
    @click.argument("paths", nargs=-1)
    def ls(recursive, paths):
        click.echo(f"ls recursive={recursive} {list(paths)}")

    @group.command("rm")
    @click.option("-skipTrash", "skip_trash", is_flag=True)
    @click.option("-r", "-R", "recursive", is_flag=True)
    @click.argument("paths", nargs=-1)
    def rm(skip_trash, recursive, paths):
        click.echo(f"rm skip={skip_trash} r={recursive} {list(paths)}")

    runner = CliRunner()
    assert runner.invoke(group, ["-ls", "-R", "/"]).output == "ls recursive=True ['/']\n"
    assert runner.invoke(group, ["ls", "/a"]).output == "ls recursive=False ['/a']\n"
    assert (
        runner.invoke(group, ["-rm", "-skipTrash", "-R", "/x"]).output
        == "rm skip=True r=True ['/x']\n"
    )
    unknown = runner.invoke(group, ["-nope"])
    assert unknown.exit_code == 2
