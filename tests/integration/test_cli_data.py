"""``hactl fs`` data commands on a real cluster (1 NameNode, 3 DataNodes, 64 KiB blocks):
-put/-get (files, trees, stdin), -cat, -appendToFile, -checksum, -setrep -w, errors.

Most tests run hactl in-process through click's CliRunner, like test_client_cli;
the last ones run the real entry point, with pipes and with a terminal on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hactl_runner import hactl_runner

from client import Client

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": BLOCK}
HACTL = str(Path(sys.executable).parent / "hactl")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def no_copying_left(fs: Client, local: Path) -> None:
    remote = [f"{top}/{name}" for top, dirs, files in fs.walk("/") for name in dirs + files]
    assert not [p for p in remote if "_COPYING_" in p], remote
    assert not list(local.rglob("*_COPYING_*"))


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.bin": os.urandom(3 * BLOCK + 5),
        "empty": b"",
        "sub/b.txt": b"hello\n",
        "sub/deeper/c.bin": os.urandom(BLOCK),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "sub" / "hollow").mkdir()
    return files


def test_put_and_get_files_and_trees(hactl, fs, tmp_path):
    data = os.urandom(5 * BLOCK + 123)
    (tmp_path / "big").write_bytes(data)
    hactl("fs", "-mkdir", "/data")
    put = hactl("fs", "-put", str(tmp_path / "big"), "/data/big")
    assert put.stdout == "" and put.stderr == ""  # no progress bar without a terminal
    assert fs.stat("/data/big").length == len(data)
    assert len(fs.block_locations("/data/big")) == 6
    hactl("fs", "-get", "/data/big", str(tmp_path / "back"))
    assert sha((tmp_path / "back").read_bytes()) == sha(data)

    tree = tmp_path / "tree"
    files = make_tree(tree)
    hactl("fs", "-put", "-t", "3", str(tree), "/data")  # into the existing directory
    assert sorted(fs.ls("/data", detail=False)) == ["/data/big", "/data/tree"]
    assert fs.stat("/data/tree/sub/hollow").is_dir
    out = tmp_path / "out"
    out.mkdir()
    got = json.loads(
        hactl("--json", "fs", "-copyToLocal", "-t", "2", "/data/tree", str(out)).stdout
    )
    assert sorted(Path(g["path"]).relative_to(out / "tree").as_posix() for g in got) == sorted(
        files
    )
    assert {g["source"] for g in got} == {"/data/tree"}
    for name, content in files.items():
        assert sha((out / "tree" / name).read_bytes()) == sha(content), name
    assert (out / "tree" / "sub" / "hollow").is_dir()

    # several sources into a directory, relative to the home directory, as copyFromLocal
    fs.mkdir(f"/user/{fs.user}/in", parents=True)
    (tmp_path / "one").write_bytes(b"1")
    (tmp_path / "two").write_bytes(b"22")
    put = hactl(
        "--json", "fs", "-copyFromLocal", str(tmp_path / "one"), str(tmp_path / "two"), "in"
    )
    assert [r["path"] for r in json.loads(put.stdout)] == [
        f"/user/{fs.user}/in/one",
        f"/user/{fs.user}/in/two",
    ]
    result = hactl("fs", "-put", str(tmp_path / "one"), str(tmp_path / "two"), "/nodir", code=1)
    assert result.stderr == "put: '/nodir': No such file or directory\n"
    result = hactl("fs", "-get", "/data/big", "/data/tree", str(tmp_path / "big"), code=1)
    assert result.stderr == f"get: '{tmp_path / 'big'}': Is not a directory\n"
    no_copying_left(fs, tmp_path)


def test_put_from_stdin_and_onto_existing_files(hactl, fs, tmp_path):
    first = os.urandom(2 * BLOCK + 1)
    hactl("fs", "-put", "-", "/s", stdin=first)
    assert sha(fs.read_bytes("/s")) == sha(first)
    result = hactl("fs", "-put", "-", "/s", stdin=b"other", code=1)
    assert result.stderr == "put: '/s': File exists\n"
    assert sha(fs.read_bytes("/s")) == sha(first)
    hactl("fs", "-put", "-f", "-", "/s", stdin=b"other")
    assert fs.read_bytes("/s") == b"other"
    fs.mkdir("/dir")
    result = hactl("fs", "-put", "-", "/dir", stdin=b"x", code=1)
    assert result.stderr == "put: '/dir': Is a directory\n"

    local = tmp_path / "f"
    local.write_bytes(b"local bytes")
    result = hactl("fs", "-put", str(local), "/s", code=1)
    assert result.stderr == "put: '/s': File exists\n"
    assert fs.read_bytes("/s") == b"other"
    hactl("fs", "-put", "-f", str(local), "/s")
    assert fs.read_bytes("/s") == b"local bytes"
    no_copying_left(fs, tmp_path)


def test_put_p_keeps_times_and_permissions(hactl, fs, tmp_path):
    top = tmp_path / "kept"
    (top / "inner").mkdir(parents=True)
    local = top / "inner" / "file"
    local.write_bytes(b"x")
    local.chmod(0o640)
    (top / "inner").chmod(0o750)
    os.utime(local, ns=(1_600_000_000_123_000_000, 1_500_000_000_456_000_000))
    os.utime(top / "inner", ns=(1_400_000_000_000_000_000, 1_300_000_000_000_000_000))
    hactl("fs", "-put", "-p", str(top), "/kept")
    st = fs.stat("/kept/inner/file")
    assert (st.permission, st.mtime, st.atime) == (0o640, 1_500_000_000_456, 1_600_000_000_123)
    st = fs.stat("/kept/inner")
    assert (st.permission, st.mtime, st.atime) == (0o750, 1_300_000_000_000, 1_400_000_000_000)
    assert fs.stat("/kept").permission == (top.stat().st_mode & 0o777)


def test_cat_and_append_to_file(hactl, fs, tmp_path):
    one, two = os.urandom(BLOCK + 7), bytes(range(256)) * 3  # not UTF-8
    fs.write_bytes("/one", one)
    fs.write_bytes("/two", two)
    assert sha(hactl("fs", "-cat", "/one", "/two").stdout_bytes) == sha(one + two)

    (tmp_path / "part").write_bytes(b"part-1|")
    hactl("fs", "-appendToFile", str(tmp_path / "part"), "/log")  # creates it
    appended = hactl("--json", "fs", "-appendToFile", "-", "/log", stdin=b"from stdin")
    assert json.loads(appended.stdout) == {"path": "/log", "appended": 10, "length": 17}
    hactl("fs", "-appendToFile", str(tmp_path / "part"), str(tmp_path / "part"), "/log")
    assert hactl("fs", "-cat", "/log").stdout_bytes == b"part-1|from stdinpart-1|part-1|"

    result = hactl("fs", "-appendToFile", str(tmp_path / "part"), "nope", "/log", code=1)
    assert result.stderr == "appendToFile: 'nope': No such file or directory\n"
    assert fs.stat("/log").length == 31  # nothing appended when a source is missing
    result = hactl("fs", "-cat", "/one", "/missing", "/two", code=1)
    assert result.stdout_bytes == one + two
    assert result.stderr == "cat: '/missing': No such file or directory\n"
    assert hactl("fs", "-cat", "/", code=1).stderr == "cat: '/': Is a directory\n"


def test_checksum(hactl, fs):
    content = os.urandom(2 * BLOCK + 100)
    fs.write_bytes("/a", content)
    fs.write_bytes("/b", content)
    fs.write_bytes("/c", content[:-1] + bytes([content[-1] ^ 1]))
    lines = hactl("fs", "-checksum", "/a", "/b", "/c").stdout.splitlines()
    parsed = [line.split("\t") for line in lines]
    assert [p[0] for p in parsed] == ["/a", "/b", "/c"]
    for _, algorithm, value in parsed:
        assert re.fullmatch(r"MD5-of-\d+MD5-of-512CRC32C", algorithm), algorithm
        assert re.fullmatch(r"00000200[0-9a-f]{48}", value), value
    assert parsed[0][1:] == parsed[1][1:]
    assert parsed[0][2] != parsed[2][2]
    records = json.loads(hactl("--json", "fs", "-checksum", "/a", "/c").stdout)
    assert [set(r) for r in records] == [{"path", "algorithm", "checksum", "length"}] * 2
    assert records[0] == {
        "path": "/a",
        "algorithm": parsed[0][1],
        "checksum": parsed[0][2],
        "length": len(content),
    }
    result = hactl("fs", "-checksum", "/", "/a", code=1)
    assert result.stderr == "checksum: '/': Is a directory\n"
    assert result.stdout.startswith("/a\t")


def test_setrep_waits_for_the_replicas(hactl, fs):
    fs.write_bytes("/rep/f", os.urandom(3 * BLOCK))
    fs.write_bytes("/rep/g", os.urandom(10))
    out = hactl("fs", "-setrep", "-w", "2", "/rep").stdout.splitlines()
    assert out[:2] == ["Replication 2 set: /rep/f", "Replication 2 set: /rep/g"]
    assert re.fullmatch(r"Waiting for /rep/f \.\.\.\.* done", out[2]), out
    assert re.fullmatch(r"Waiting for /rep/g \.\.\.\.* done", out[3]), out
    for path in ("/rep/f", "/rep/g"):
        blocks = fs.block_locations(path)
        assert blocks and all(len(b.hosts) == 2 for b in blocks), blocks

    result = hactl("fs", "-setrep", "-w", "--timeout", "1", "4", "/rep/g", code=1)
    assert "Replication 4 set: /rep/g" in result.stdout
    assert re.fullmatch(
        r"setrep: '/rep/g': gave up after 1s waiting for 4 replicas of every block "
        r"\(block \d+ has [23]\)\n",
        result.stderr,
    ), result.stderr
    error = json.loads(
        hactl("--json", "fs", "-setrep", "-w", "--timeout", "0", "4", "/rep/g", code=1).stderr
    )["error"]
    assert (error["code"], error["path"]) == ("DEADLINE_EXCEEDED", "/rep/g")


def test_errors_and_exit_codes(hactl, fs, tmp_path):
    good = tmp_path / "good"
    good.write_bytes(b"ok")
    fs.mkdir("/in")
    result = hactl("fs", "-put", "nope", str(good), "/in", code=1)
    assert result.stderr == "put: 'nope': No such file or directory\n"
    assert fs.read_bytes("/in/good") == b"ok"  # the other source still went
    result = hactl("fs", "-put", str(good), code=1)  # into the home directory: missing
    assert result.stderr == "put: '.': No such file or directory\n"
    fs.mkdir(f"/user/{fs.user}", parents=True)
    hactl("fs", "-put", str(good))
    assert fs.read_bytes(f"/user/{fs.user}/good") == b"ok"

    result = hactl("fs", "-get", "/missing", str(tmp_path / "x"), code=1)
    assert result.stderr == "get: '/missing': No such file or directory\n"
    result = hactl("fs", "-get", "/in/good", str(good), code=1)
    assert result.stderr == f"get: '{good}': File exists\n"
    hactl("fs", "-get", "-f", "/in/good", str(good))
    result = hactl("fs", "-get", "/in/good", str(tmp_path / "no" / "such"), code=1)
    assert result.stderr == f"get: '{tmp_path / 'no' / 'such'}': No such file or directory\n"
    assert hactl("fs", "-checksum", "/missing", code=1).stderr == (
        "checksum: '/missing': No such file or directory\n"
    )
    error = json.loads(hactl("--json", "fs", "-put", "nope", "/in", code=1).stderr)["error"]
    assert error == {
        "command": "put",
        "code": "FILE_NOT_FOUND",
        "message": "No such file or directory",
        "path": "nope",
    }
    no_copying_left(fs, tmp_path)


def test_the_entry_point_pipes_bytes(cluster, fs):
    conf = ["--conf", str(cluster.client_conf)]
    data = os.urandom(3 * BLOCK + 1)
    put = subprocess.run(
        [HACTL, *conf, "fs", "-put", "-", "/piped"], input=data, capture_output=True, timeout=60
    )
    assert (put.returncode, put.stderr) == (0, b"")
    cat = subprocess.run([HACTL, *conf, "fs", "-cat", "/piped"], capture_output=True, timeout=60)
    assert cat.returncode == 0 and sha(cat.stdout) == sha(data)
    bad = subprocess.run([HACTL, *conf, "fs", "-cat", "/nope"], capture_output=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr == b"cat: '/nope': No such file or directory\n"


def test_a_progress_bar_only_on_a_terminal(cluster, fs, tmp_path):
    local = tmp_path / "big"
    local.write_bytes(os.urandom(4 * BLOCK))
    conf = ["--conf", str(cluster.client_conf)]
    master, slave = pty.openpty()
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last writer is gone
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    with subprocess.Popen(
        [HACTL, *conf, "fs", "-put", str(local), "/tty"], stderr=slave, env=env
    ) as proc:
        os.close(slave)
        assert proc.wait(timeout=60) == 0
    reader.join(timeout=10)
    os.close(master)
    text = seen.decode(errors="replace")
    assert "put /tty" in text and "256.0/256.0 KiB" in text, text
    assert fs.stat("/tty").length == 4 * BLOCK
