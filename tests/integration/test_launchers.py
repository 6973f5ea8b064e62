"""How a user starts hafs: `hactl namenode start` and `make run` (`hactl dev up --foreground`)."""

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

from chaos.cluster import free_port, os_process, wait_serving, write_toml

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} not printed in {timeout} s; got:\n{''.join(seen)}")


def reap(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)


def test_hactl_namenode_start_serves_and_stops_on_sigterm(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    config = tmp_path / "nn1.toml"
    write_toml(
        config,
        {"namenode": {"id": "nn1", "rpc_address": address, "data_dir": str(tmp_path / "nn1")}},
    )
    process = subprocess.Popen(
        [str(BIN / "hactl"), "namenode", "start", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_serving(address, 30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        reap(process)
    assert (tmp_path / "nn1" / "namespace.db").exists()


def start_foreground(base: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "hactl"), "dev", "up", "--foreground", "--dir", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def node_pids(base: Path) -> list[int]:
    return [n["pid"] for n in json.loads((base / "cluster.json").read_text())["nodes"]]


def exists(pid: int) -> bool:
    found = os_process(pid)
    return found is not None and found[0] not in ("Z", "X")


def test_dev_cluster_up_foreground_prints_how_to_use_it_and_stops(tmp_path):
    """What `make run` does: 3 NameNodes and 3 DataNodes in the foreground; SIGTERM (or
    Ctrl-C) stops all."""
    base = tmp_path / "dev"
    process = start_foreground(base)
    try:
        text = wait_for_line(process, "dev down --dir", 60)
        assert "hafs dev cluster is up (Ctrl-C stops it): 3 NameNode(s), 3 DataNode(s)" in text
        conf = base / "cluster.toml"
        assert f"export HAFS_CONF={conf}" in text
        listing = subprocess.run(
            [str(BIN / "hactl"), "--conf", str(conf), "fs", "-ls", "/"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listing.returncode == 0, listing.stderr
        pids = node_pids(base)
        assert len(pids) == 6 and all(exists(pid) for pid in pids)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert not [pid for pid in pids if exists(pid)]
    finally:
        reap(process)
        kill_namenodes_under(base)
    assert "hafs dev cluster stopped" in process.stdout.read()


def test_dev_down_stops_a_foreground_cluster(tmp_path):
    base = tmp_path / "dev"
    process = start_foreground(base)
    try:
        wait_for_line(process, "dev down --dir", 60)
        pids = node_pids(base)
        down = subprocess.run(
            [str(BIN / "hactl"), "dev", "down", "--dir", str(base)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 0, down.stderr
        assert process.wait(30) == 0
        assert not [pid for pid in pids if exists(pid)]
    finally:
        reap(process)
        kill_namenodes_under(base)
    assert "hafs dev cluster stopped" in process.stdout.read()


def kill_namenodes_under(base: Path) -> None:
    """Reap nodes a failed test left behind: each writes its pid to an in_use.lock."""
    for lock in base.glob("*/in_use.lock"):
        text = lock.read_text().strip()
        if text.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(text), signal.SIGKILL)
