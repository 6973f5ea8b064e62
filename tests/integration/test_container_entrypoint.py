"""The container's entry point (deploy/docker/entrypoint.py) against real daemons, with
no Docker: the health and readiness probes on a three-NameNode cluster, and a NameNode
started through the entry point from a config whose secrets come from files."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.cluster import free_port, write_toml

pytestmark = pytest.mark.integration
ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "entrypoint.py"
_spec = importlib.util.spec_from_file_location("hafs_entrypoint", ENTRYPOINT)
assert _spec and _spec.loader
entrypoint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(entrypoint)


def probe_env(config: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a probe in a container whose daemon was started from ``config``
    (no rendered runtime config: the probe falls back to ``HAFS_CONFIG``)."""
    return {"HAFS_CONFIG": str(config), "HAFS_RUNTIME_DIR": str(tmp_path / "no-runtime")}


def wait_ready(env: dict[str, str], timeout: float = 10.0) -> None:
    """Until ``entrypoint.ready`` exits 0 (its health service hafs.ready is SERVING)."""
    deadline = time.monotonic() + timeout
    while entrypoint.ready(3.0, env) != 0:
        assert time.monotonic() < deadline, f"not ready after {timeout} s"
        time.sleep(0.2)


def test_probes_on_a_raft_cluster(make_cluster, tmp_path, capsys):
    cluster = make_cluster(namenodes=3, datanodes=1)
    cluster.wait_leader()
    for node_id in ("nn1", "nn2", "nn3"):
        env = probe_env(cluster.base_dir / f"{node_id}.toml", tmp_path)
        assert entrypoint.health(3.0, env) == 0, capsys.readouterr()
        wait_ready(env)  # followers learn the commit index from the leader's next append
    dn_env = probe_env(cluster.base_dir / "dn1.toml", tmp_path)
    assert entrypoint.health(3.0, dn_env) == 0
    wait_ready(dn_env)  # registered with the leader (checked every 0.5 s)
    out = capsys.readouterr().out
    assert ": SERVING" in out and ": hafs.ready SERVING" in out


def test_probes_fail_when_nothing_listens(tmp_path, capsys):
    config = tmp_path / "nn.toml"
    write_toml(config, {"namenode": {"rpc_address": f"127.0.0.1:{free_port()}"}})
    env = probe_env(config, tmp_path)
    assert entrypoint.health(1.0, env) == 1
    assert entrypoint.ready(1.0, env) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


def start(role: str, template: Path, runtime: Path, env: dict[str, str]) -> subprocess.Popen:
    """``hafs-entrypoint ROLE`` as a container runs it, with only ``env``'s HAFS variables."""
    return subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), role, "--log-level", "WARNING"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HAFS")},
            "HAFS_CONFIG": str(template),
            "HAFS_RUNTIME_DIR": str(runtime),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -9


def first_line(process: subprocess.Popen, needle: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    if needle not in line:
        process.kill()
        pytest.fail(f"expected {needle!r}, got: {line}{process.stdout.read()}")


def test_a_cluster_starts_through_the_entry_point_with_file_secrets(tmp_path):
    """A NameNode and a DataNode as the containers start them: secrets from files (one
    through HAFS__BLOCKS__TOKEN_SECRET_FILE, one through a ${...} placeholder), and
    the two agree on the block token key: a file is written and read back."""
    from client import Client, HafsError

    secret = tmp_path / "block_token_secret"
    secret.write_text('0123456789"with\\quotes\n')  # digits first, quotes, a newline
    rpc, transfer = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    nn_template = tmp_path / "namenode.toml"
    nn_template.write_text(
        "[namenode]\n"
        'id = "nn1"\n'
        f'rpc_address = "{rpc}"\n'
        f'data_dir = "{tmp_path / "nn1"}"\n'
        "[namespace]\n"
        'superuser = "${HAFS_TEST_SUPERUSER}"\n'
        "default_replication = 1\n"
        "trash_interval_s = 0\n"
    )
    dn_template = tmp_path / "datanode.toml"
    dn_template.write_text(
        "[datanode]\n"
        f'rpc_address = "{transfer}"\n'
        f'data_dirs = ["{tmp_path / "dn1"}"]\n'
        "heartbeat_interval_s = 0.5\n"
        "[nameservices.ns1]\n"
        f'namenodes = ["{rpc}"]\n'
        'block_token_secret = "${HAFS_NS1_BLOCK_TOKEN_SECRET}"\n'
    )
    nn_runtime, dn_runtime = tmp_path / "nn-runtime", tmp_path / "dn-runtime"
    namenode = start(
        "namenode",
        nn_template,
        nn_runtime,
        {"HAFS_TEST_SUPERUSER": "hafs", "HAFS__BLOCKS__TOKEN_SECRET_FILE": str(secret)},
    )
    datanode = None
    try:
        first_line(namenode, f"serving on {rpc}")
        datanode = start(
            "datanode", dn_template, dn_runtime, {"HAFS_NS1_BLOCK_TOKEN_SECRET_FILE": str(secret)}
        )
        first_line(datanode, "serving on")
        rendered = nn_runtime / "hafs.toml"
        assert rendered.stat().st_mode & 0o777 == 0o600
        assert 'superuser = "hafs"' in rendered.read_text()
        assert "0123456789" in (dn_runtime / "hafs.toml").read_text()
        for runtime in (nn_runtime, dn_runtime):
            assert entrypoint.health(3.0, {"HAFS_RUNTIME_DIR": str(runtime)}) == 0
            wait_ready({"HAFS_RUNTIME_DIR": str(runtime)})  # the DataNode: once registered
        data = os.urandom(100_000)
        with Client([rpc], user="hafs") as fs:
            deadline = time.monotonic() + 20
            while True:  # until the DataNode has registered
                try:
                    fs.write_bytes("/probe", data)
                    break
                except HafsError:
                    assert time.monotonic() < deadline, "no DataNode took the block"
                    time.sleep(0.2)
            assert fs.read_bytes("/probe") == data
    finally:
        codes = [stop(p) for p in (datanode, namenode) if p is not None]
    assert codes == [0, 0]


def test_a_missing_secret_stops_the_start(tmp_path):
    template = tmp_path / "datanode.toml"
    template.write_text('[nameservices.ns1]\nblock_token_secret = "${HAFS_NS1_SECRET}"\n')
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HAFS_CONFIG": str(template),
        "HAFS_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "datanode"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "HAFS_NS1_SECRET" in result.stderr
