"""``hactl dev``: a background dev cluster of real processes driven from the command line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.cluster import os_process

pytestmark = pytest.mark.integration
HACTL = str(Path(sys.executable).parent / "hactl")


def hactl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HACTL, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def ok(*args: str) -> str:
    done = hactl(*args)
    assert done.returncode == 0, f"hactl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def status(base: Path) -> dict[str, dict]:
    rows = json.loads(ok("dev", "status", "--dir", str(base), "--json"))
    return {row["name"]: row for row in rows}


def wait_status(base: Path, predicate, timeout: float, what: str) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = status(base)
        if predicate(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout} s: {rows}")
        time.sleep(0.1)


def roles(rows: dict[str, dict]) -> list[str]:
    """The NameNodes' roles, sorted."""
    return sorted(row["role"] for row in rows.values() if row["kind"] == "namenode")


def leader_of(rows: dict[str, dict]) -> str:
    return next(name for name, row in rows.items() if row["role"] == "active")


def exists(pid: int) -> bool:
    found = os_process(pid)
    return found is not None and found[0] not in ("Z", "X")


@pytest.fixture
def base(tmp_path):
    """The cluster's directory; afterwards nothing of it runs, even when the test failed."""
    base = tmp_path / "dev"
    try:
        yield base
    finally:
        if (base / "cluster.json").exists():
            hactl("dev", "down", "--dir", str(base), "--timeout", "5")
        for pid in recorded_pids(base):
            found = os_process(pid)
            if found is not None and str(base) in found[1]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def recorded_pids(base: Path) -> list[int]:
    pids = []
    if (base / "cluster.json").exists():
        pids += [n["pid"] for n in json.loads((base / "cluster.json").read_text())["nodes"]]
    for lock in base.glob("*/in_use.lock"):  # each NameNode writes its pid there
        pids.append(lock.read_text().strip())
    return [int(p) for p in pids if str(p).isdigit()]


def test_up_failover_restart_pause_down(base):
    where = ["--dir", str(base)]
    banner = ok("dev", "up", *where)
    conf = base / "cluster.toml"
    assert f"export HAFS_CONF={conf}" in banner
    assert "dev down --dir" in banner and conf.exists()
    rows = status(base)
    assert roles(rows) == ["active", "standby", "standby"]
    assert all(row["alive"] for row in rows.values())
    assert {n: r["role"] for n, r in rows.items() if r["kind"] == "datanode"} == {
        "dn1": "datanode",
        "dn2": "datanode",
        "dn3": "datanode",
    }
    assert {row["nameservice"] for row in rows.values()} == {"ns1"}
    ports = {
        name: (row["rpc_address"], row["raft_address"], row["metrics_address"])
        for name, row in rows.items()
    }
    assert len({row["metrics_address"] for row in rows.values()} - {None}) == 6
    assert "metrics" in banner

    again = hactl("dev", "up", *where)
    assert again.returncode == 1 and "already running" in again.stderr
    unknown = hactl("dev", "kill", *where, "nn9")
    assert unknown.returncode == 1
    assert "unknown node 'nn9'" in unknown.stderr and "nn1, nn2, nn3" in unknown.stderr

    ok("--conf", str(conf), "fs", "-mkdir", "/x")

    leader = leader_of(rows)
    ok("dev", "kill", *where, leader)
    killed_at = time.monotonic()
    rows = wait_status(
        base,
        lambda r: not r[leader]["alive"] and roles(r).count("active") == 1,
        5,
        "a new leader",
    )
    assert time.monotonic() - killed_at < 5
    assert rows[leader]["process"] == "exited" and rows[leader]["pid"] is None
    assert "/x" in ok("--conf", str(conf), "fs", "-ls", "/")

    ok("dev", "start", *where, leader)
    rows = wait_status(base, lambda r: r[leader]["role"] == "standby", 15, "rejoined")
    assert roles(rows) == ["active", "standby", "standby"]

    follower = next(name for name, row in rows.items() if row["role"] == "standby")
    ok("dev", "pause", *where, follower)
    paused = status(base)[follower]
    assert (paused["alive"], paused["process"], paused["role"]) == (False, "paused", "unreachable")
    ok("--conf", str(conf), "fs", "-mkdir", "/y")  # two of three still make a majority
    ok("dev", "resume", *where, follower)
    wait_status(base, lambda r: r[follower]["role"] == "standby", 10, "resumed")

    pids = [row["pid"] for row in status(base).values()]
    assert "stopped nn1, nn2, nn3, dn1, dn2, dn3" in ok("dev", "down", *where)
    assert not [pid for pid in pids if exists(pid)]
    assert not any(row["alive"] for row in status(base).values())
    assert "nothing was running" in ok("dev", "down", *where)

    assert "3 NameNodes and 3 DataNodes" in ok("dev", "up", *where)  # same ports, same data
    rows = status(base)
    addresses = {
        n: (r["rpc_address"], r["raft_address"], r["metrics_address"]) for n, r in rows.items()
    }
    assert addresses == ports
    listing = ok("--conf", str(conf), "fs", "-ls", "/")
    assert "/x" in listing and "/y" in listing
    ok("dev", "down", *where)
    assert not [pid for pid in recorded_pids(base) if exists(pid)]


def test_without_a_cluster_commands_say_so(tmp_path):
    where = ["--dir", str(tmp_path / "none")]
    for args in (["status"], ["down"], ["kill", "nn1"]):
        done = hactl("dev", *args, *where)
        assert done.returncode == 1, args
        assert "no hafs dev cluster" in done.stderr and "dev up --dir" in done.stderr
    assert not (tmp_path / "none").exists()


def test_up_refuses_no_nameservice(tmp_path):
    """``--nameservices 2`` works: tests/integration/test_harness_federation.py."""
    done = hactl("dev", "up", "--dir", str(tmp_path / "dev"), "--nameservices", "0")
    assert done.returncode == 2 and "--nameservices" in done.stderr
    assert not (tmp_path / "dev").exists()
