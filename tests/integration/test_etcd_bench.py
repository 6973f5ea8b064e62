"""The etcd benchmark on a real etcd, at tiny scale, and its processes always stopped.

etcd is Debian's ``etcd-server``, installed by ``benchmarks/install_peers.sh`` when
missing (as root with apt-get). When that is impossible here the tests skip, naming
why; under CI (``CI`` set) they fail instead: CI must measure the peer. About 15 s.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.peers import etcd
from benchmarks.peers.etcd_cluster import DEFAULT, EtcdCluster, EtcdError, Timing, find_binary

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "benchmarks" / "install_peers.sh"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@functools.cache
def _install() -> tuple[int, str]:
    result = subprocess.run(
        ["sh", str(INSTALL)], capture_output=True, text=True, timeout=900, check=False
    )
    paths = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    lines = result.stderr.strip().splitlines()
    return result.returncode, paths.get("etcd", "") or (lines[-1] if lines else "no message")


@pytest.fixture(scope="module")
def etcd_binary() -> str:
    found = find_binary()
    if found:
        return found
    code, said = _install()
    if code == 0 and said.startswith("/"):
        return said
    reason = f"etcd unavailable: benchmarks/install_peers.sh exited {code}: {said}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def processes_under(path: Path) -> list[int]:
    """Pids of live processes whose command line names ``path`` (our etcd members)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(path) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_install_script_is_idempotent_and_prints_the_paths(etcd_binary):
    again = subprocess.run(
        ["sh", str(INSTALL)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = again.stdout.splitlines()
    assert f"etcd={etcd_binary}" in lines
    assert any(line.startswith("etcdctl=/") for line in lines)


def test_the_benchmark_measures_etcd_at_tiny_scale(etcd_binary, tmp_path):
    lines: list[str] = []
    out = etcd.run(tmp_path, 0.3, 1, 1, concurrencies=(1, 4), log=lines.append)
    assert out["failures"] == {}, lines
    assert out["version"].startswith("3.")
    assert {(r["operation"], r["concurrency"]) for r in out["rows"]} == {
        ("put", 1),
        ("get", 1),
        ("put", 4),
        ("get", 4),
    }
    for r in out["rows"]:
        assert r["ops"] > 0 and r["errors"] == 0 and r["p50_ms"] > 0, r
        assert {"leader", "load generator"} <= set(r["cpu_cores"]), r
    for name, timing in (("default", (100, 1000)), ("tuned", (20, 200))):
        fo = out["failover"][name]
        assert (fo["heartbeat_ms"], fo["election_ms"]) == timing
        assert fo["kills"] == 1 and len(fo["per_kill"]) == 1
        assert 0 < fo["gap_median_s"] < 10 and fo["lost_acknowledged"] == 0, fo
        assert fo["per_kill"][0]["new_leader"] != fo["per_kill"][0]["killed"]
    assert processes_under(tmp_path) == []


def test_every_member_is_stopped_when_the_body_raises(etcd_binary, tmp_path):
    with pytest.raises(RuntimeError, match="boom"), EtcdCluster(etcd_binary, tmp_path, DEFAULT):
        assert len(processes_under(tmp_path)) == 3
        raise RuntimeError("boom")
    assert processes_under(tmp_path) == []


def test_a_cluster_that_cannot_start_is_stopped_and_says_why(etcd_binary, tmp_path):
    bad = Timing(heartbeat_ms=100, election_ms=200)  # etcd wants election >= 5 heartbeats
    with pytest.raises(EtcdError, match="exited"):
        EtcdCluster(etcd_binary, tmp_path, bad).start(timeout=20)
    assert processes_under(tmp_path) == []
