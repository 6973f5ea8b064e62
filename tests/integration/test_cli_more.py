"""``hactl fs`` commands of issue 5 on a real cluster (1 NameNode, 3 DataNodes, 64 KiB
blocks): globs in path arguments, -head, -tail [-f], -getmerge, -find, -touchz,
-touch, -test -z, -df, -cp, and the shell completion script.

Like test_cli_data, most tests run hactl in-process through click's CliRunner;
-tail -f runs the real entry point and is stopped with SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hactl_runner import hactl_runner

from client import Client
from client.cli.main import cli

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}
HACTL = str(Path(sys.executable).parent / "hactl")


@pytest.fixture
def cluster(make_cluster):
    return make_cluster(datanodes=3, namespace=SMALL)


@pytest.fixture
def fs(cluster, superuser):
    with Client(addresses=cluster.addresses, user=superuser) as client:
        yield client


@pytest.fixture
def hactl(cluster):
    return hactl_runner(cluster.client_conf)


def write(fs: Client, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        fs.write_bytes(path, data)


def remote_files(fs: Client, top: str = "/") -> list[str]:
    return sorted(f"{d.rstrip('/')}/{name}" for d, _, names in fs.walk(top) for name in names)


# -- globs -----------------------------------------------------------------------------


def test_globs_expand_in_path_arguments(hactl, fs, tmp_path):
    write(fs, {"/d/a1.txt": b"one\n", "/d/a2.txt": b"two\n", "/d/b.csv": b"b\n"})
    write(fs, {"/d/sub1/x": b"x", "/d/sub2/x": b"y", "/d/sub3": b"a file"})
    assert fs.glob("/d/sub*/x") == ["/d/sub1/x", "/d/sub2/x"]
    assert fs.glob("/d/{a1,b}.*") == ["/d/a1.txt", "/d/b.csv"]
    assert fs.glob("/d/a1.txt") == ["/d/a1.txt"] and fs.glob("/d/none") == []

    listed = json.loads(hactl("--json", "fs", "-ls", "/d/a?.txt", "/d/b.csv").stdout)
    assert [st["path"] for st in listed] == ["/d/a1.txt", "/d/a2.txt", "/d/b.csv"]
    assert hactl("fs", "-cat", "/d/a*").stdout == "one\ntwo\n"
    stat = hactl("fs", "-stat", "%n %b", "/d/sub[12]/x")
    assert stat.stdout.splitlines() == ["x 1", "x 1"]

    missing = hactl("fs", "-ls", "/d/zz*", "/d/b.csv", code=1)
    assert missing.stderr == "ls: '/d/zz*': No such file or directory\n"
    assert missing.stdout.endswith(" /d/b.csv\n")  # the other arguments still run
    assert hactl("fs", "-cat", "/nope/*", code=1).stderr.startswith("cat: '/nope/*': No such")
    literal = hactl("fs", "-cat", "/d/nope", code=1)  # a literal keeps its usual error
    assert literal.stderr == "cat: '/d/nope': No such file or directory\n"
    bad = hactl("fs", "-ls", "/d/[ab", code=1)
    assert "Illegal file pattern" in bad.stderr

    out = tmp_path / "out"
    out.mkdir()
    hactl("fs", "-get", "/d/*.txt", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["a1.txt", "a2.txt"]
    assert (out / "a2.txt").read_bytes() == b"two\n"

    hactl("fs", "-rm", "/d/a*")
    assert fs.ls("/d", detail=False) == ["/d/b.csv", "/d/sub1", "/d/sub2", "/d/sub3"]
    assert hactl("fs", "-rm", "/d/a*", code=1).stderr == (
        "rm: '/d/a*': No such file or directory\n"
    )
    assert hactl("fs", "-rm", "-f", "/d/a*").stderr == ""  # -f: nothing to do is fine
    hactl("fs", "-rm", "-r", "/d/sub?")
    assert fs.ls("/d", detail=False) == ["/d/b.csv"]


def test_relative_globs_and_mv(hactl, fs):
    home = f"/user/{fs.user}"
    write(fs, {f"{home}/p1": b"1", f"{home}/p2": b"22", f"{home}/q": b""})
    fs.mkdir(f"{home}/into")
    du = hactl("fs", "-du", "p*").stdout.splitlines()
    assert [line.split()[-1] for line in du] == [f"{home}/p1", f"{home}/p2"]
    summed = hactl("fs", "-checksum", "p*").stdout.splitlines()
    assert [line.split("\t")[0] for line in summed] == ["p1", "p2"]  # as typed: relative
    hactl("fs", "-mv", "p*", "into")
    assert fs.ls(f"{home}/into", detail=False) == [f"{home}/into/p1", f"{home}/into/p2"]
    hactl("fs", "-chmod", "600", f"{home}/into/*")
    assert {fs.stat(f"{home}/into/{n}").permission for n in ("p1", "p2")} == {0o600}


# -- head and tail ---------------------------------------------------------------------


def test_head_and_tail_print_one_kib(hactl, fs):
    data = os.urandom(2 * BLOCK + 3000)  # three blocks: tail reads only the last
    write(fs, {"/f": data, "/small": b"tiny\n"})
    assert hactl("fs", "-head", "/f").stdout_bytes == data[:1024]
    assert hactl("fs", "-tail", "/f").stdout_bytes == data[-1024:]
    assert hactl("fs", "-head", "/small").stdout_bytes == b"tiny\n"
    assert hactl("fs", "-tail", "/small").stdout_bytes == b"tiny\n"
    assert hactl("fs", "-head", "/sm*").stdout_bytes == b"tiny\n"
    fs.mkdir("/dir")
    assert hactl("fs", "-head", "/dir", code=1).stderr == "head: '/dir': Is a directory\n"
    assert hactl("fs", "-tail", "/dir", code=1).stderr == "tail: '/dir': Is a directory\n"
    missing = hactl("fs", "-tail", "/nope", code=1)
    assert missing.stderr == "tail: '/nope': No such file or directory\n"


def test_tail_follow_prints_appended_bytes_until_interrupted(cluster, fs):
    fs.write_bytes("/log", b"first line\n")
    command = ["fs", "-tail", "-f", "--interval", "0.2", "/log"]
    proc = subprocess.Popen(
        [HACTL, "--conf", str(cluster.client_conf), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout.read(len(b"first line\n")) == b"first line\n"
        fs.append_bytes("/log", b"second line\n")
        assert proc.stdout.read(len(b"second line\n")) == b"second line\n"
        fs.append_bytes("/log", b"third\n")
        assert proc.stdout.read(len(b"third\n")) == b"third\n"
    finally:
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


# -- getmerge --------------------------------------------------------------------------


def test_getmerge_concatenates_in_name_order(hactl, fs, tmp_path):
    write(fs, {"/parts/b": b"B", "/parts/a": b"A", "/parts/c": b"C", "/parts/empty": b""})
    fs.mkdir("/parts/subdir")  # a directory's files only, not its subdirectories
    merged = tmp_path / "merged"
    hactl("fs", "-getmerge", "/parts", str(merged))
    assert merged.read_bytes() == b"ABC"
    hactl("fs", "-getmerge", "-nl", "/parts", str(merged))
    assert merged.read_bytes() == b"A\nB\nC\n\n"  # the empty file gets its newline too
    got = hactl("--json", "fs", "-getmerge", "-nl", "-skip-empty-file", "/parts", str(merged))
    assert merged.read_bytes() == b"A\nB\nC\n"
    assert json.loads(got.stdout) == {
        "path": str(merged),
        "sources": ["/parts/a", "/parts/b", "/parts/c"],
        "length": 6,
    }
    hactl("fs", "-getmerge", "/parts/c", "/parts/[ab]", str(merged))  # arguments in order
    assert merged.read_bytes() == b"CAB"
    missing = hactl("fs", "-getmerge", "/nope", str(merged), code=1)
    assert missing.stderr == "getmerge: '/nope': No such file or directory\n"


# -- find ------------------------------------------------------------------------------


def test_find_by_name(hactl, fs):
    home = f"/user/{fs.user}"
    write(fs, {"/t/a.csv": b"", "/t/sub/b.CSV": b"", "/t/sub/c.txt": b"", "/t/sub/deep/d.csv": b""})
    write(fs, {f"{home}/r/x.csv": b""})
    found = hactl("fs", "-find", "/t", "-name", "*.csv", "-print").stdout.splitlines()
    assert found == ["/t/a.csv", "/t/sub/deep/d.csv"]
    found = hactl("fs", "-find", "/t", "-iname", "*.csv").stdout.splitlines()
    assert found == ["/t/a.csv", "/t/sub/b.CSV", "/t/sub/deep/d.csv"]
    everything = hactl("fs", "-find", "/t/sub").stdout.splitlines()
    deep = ["/t/sub/deep", "/t/sub/deep/d.csv"]
    assert everything == ["/t/sub", "/t/sub/b.CSV", "/t/sub/c.txt", *deep]
    assert hactl("fs", "-find", "r", "-name", "x*").stdout == "r/x.csv\n"
    assert json.loads(hactl("--json", "fs", "-find", "/t", "-name", "s?b").stdout) == ["/t/sub"]
    missing = hactl("fs", "-find", "/nope", "-name", "x", code=1)
    assert missing.stderr == "find: '/nope': No such file or directory\n"


# -- touchz, touch and test -z ---------------------------------------------------------


def test_touchz_and_test_z(hactl, fs):
    hactl("fs", "-mkdir", "/z")
    hactl("fs", "-touchz", "/z/new", "/z/other")
    assert fs.stat("/z/new").length == 0 and fs.stat("/z/other").is_file
    hactl("fs", "-touchz", "/z/new")  # an empty file may be touched again
    fs.write_bytes("/z/full", b"data")
    full = hactl("fs", "-touchz", "/z/full", code=1)
    assert full.stderr == "touchz: '/z/full': Not a zero-length file\n"
    assert fs.read_bytes("/z/full") == b"data"
    assert hactl("fs", "-touchz", "/z", code=1).stderr == "touchz: '/z': Is a directory\n"
    orphan = hactl("fs", "-touchz", "/nope/f", code=1)
    assert orphan.stderr == "touchz: '/nope/f': No such file or directory\n"
    assert not fs.exists("/nope")

    hactl("fs", "-test", "-z", "/z/new")
    hactl("fs", "-test", "-z", "/z/full", code=1)
    hactl("fs", "-test", "-z", "/z/missing", code=1)
    hactl("fs", "-test", "-z", "/z/[no]*")  # every match is empty
    hactl("fs", "-test", "-z", "/z/*", code=1)
    hactl("fs", "-test", "-e", "/z/x*", code=1)

    hactl("fs", "-touch", "-t", "20200102:030405", "/z/full", "/z/made")
    assert fs.read_bytes("/z/full") == b"data"
    assert fs.stat("/z/made").length == 0
    stamp = int(time.mktime((2020, 1, 2, 3, 4, 5, 0, 0, -1)) * 1000)
    assert fs.stat("/z/full").mtime == stamp and fs.stat("/z/full").atime == stamp
    hactl("fs", "-touch", "-c", "/z/not-made")
    assert not fs.exists("/z/not-made")


# -- df --------------------------------------------------------------------------------


def test_df_sums_the_live_datanodes(hactl, fs):
    live = [d for d in fs.datanodes() if d.liveness == "live"]
    assert len(live) == 3
    lines = hactl("fs", "-df").stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["Filesystem", "Size", "Used", "Available", "Use%"]
    name, size, used, available, percent = lines[1].split()
    assert name == f"hafs://{fs.nameservice}"
    assert int(size) == sum(d.capacity for d in live) > 0
    assert int(available) > 0 and int(used) >= 0 and percent.endswith("%")
    assert len(lines[0]) == len(lines[1])  # numbers right-aligned under their headers
    human = hactl("fs", "-df", "-h", "/").stdout.splitlines()[1]
    assert human.split()[0] == name and " " in human.split(name)[1].strip()
    data = json.loads(hactl("--json", "fs", "-df", "/").stdout)
    assert data[0]["filesystem"] == name and data[0]["path"] == "/"
    missing = hactl("fs", "-df", "/nope", code=1)
    assert missing.stderr == "df: '/nope': No such file or directory\n"


# -- cp --------------------------------------------------------------------------------


def test_cp_files_and_trees(hactl, fs):
    big = os.urandom(3 * BLOCK + 77)
    tree = {"/src/big": big, "/src/empty": b"", "/src/sub/s.txt": b"sub\n"}
    write(fs, tree)
    fs.mkdir("/src/sub/hollow")

    hactl("fs", "-cp", "/src/big", "/copy")
    assert fs.read_bytes("/copy") == big
    exists = hactl("fs", "-cp", "/src/big", "/copy", code=1)
    assert exists.stderr == "cp: '/copy': File exists\n"
    fs.write_bytes("/copy", b"old")
    hactl("fs", "-cp", "-f", "/src/big", "/copy")
    assert fs.read_bytes("/copy") == big

    got = json.loads(hactl("--json", "fs", "-cp", "/src", "/dst").stdout)
    assert sorted(g["path"] for g in got) == ["/dst/big", "/dst/empty", "/dst/sub/s.txt"]
    for path, data in tree.items():
        assert fs.read_bytes(path.replace("/src", "/dst", 1)) == data
    assert fs.stat("/dst/sub/hollow").is_dir
    hactl("fs", "-cp", "/src", "/dst")  # into the existing directory: /dst/src
    assert fs.read_bytes("/dst/src/big") == big

    fs.mkdir("/many")
    hactl("fs", "-cp", "/src/e*", "/src/sub/*.txt", "/many")
    assert fs.ls("/many", detail=False) == ["/many/empty", "/many/s.txt"]
    not_dir = hactl("fs", "-cp", "/src/big", "/src/empty", "/copy", code=1)
    assert not_dir.stderr == "cp: '/copy': Is not a directory\n"
    into_itself = hactl("fs", "-cp", "/src", "/src/sub", code=1)
    assert "is a subdirectory of itself" in into_itself.stderr
    orphan = hactl("fs", "-cp", "/src/big", "/nope/big", code=1)
    assert orphan.stderr == "cp: '/nope/big': No such file or directory\n"
    assert not [p for p in remote_files(fs) if "_COPYING_" in p]


# -- completion --------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell):
    result = CliRunner().invoke(cli, ["completion", shell], catch_exceptions=False)
    assert result.exit_code == 0
    assert "_HACTL_COMPLETE" in result.stdout and "hactl" in result.stdout
    env = {**os.environ, "_HACTL_COMPLETE": f"{shell}_source"}
    direct = subprocess.run([HACTL], env=env, capture_output=True, text=True, timeout=60)
    assert direct.stdout.strip() == result.stdout.strip()


def test_completion_offers_dash_commands():
    env = {**os.environ, "_HACTL_COMPLETE": "bash_complete", "COMP_WORDS": "hactl fs -getm"}
    env["COMP_CWORD"] = "2"
    done = subprocess.run([HACTL], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["plain,-getmerge"]
