"""Layering: the client never imports server code, the pure core imports nothing heavy,
and the client's public API is pinned."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
SERVER_PACKAGES = {"ha_namenode", "datanode", "chaos"}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in ``path`` names (relative ones resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module)
    return found


def python_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=python_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_scan_sees_the_client_modules():
    modules = sorted(p.relative_to(ROOT).as_posix() for p in CLIENT.rglob("*.py"))
    assert {"client/client.py", "client/rpc.py", "client/cli/main.py"} <= set(modules)
    assert "grpc" in imported_modules(CLIENT / "rpc.py")
    assert "client.cli.context" in imported_modules(CLIENT / "cli" / "fsquery.py")


@pytest.mark.parametrize(
    "path", sorted(CLIENT.rglob("*.py")), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_client_modules_do_not_import_server_code(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in SERVER_PACKAGES}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_channel_modules_import_grpc_in_the_client():
    users = {
        p.relative_to(ROOT).as_posix()
        for p in CLIENT.rglob("*.py")
        if any(m.split(".")[0] == "grpc" for m in imported_modules(p))
    }
    assert users == {"client/rpc.py", "client/transfer.py"}


def test_the_pure_namespace_core_imports_nothing_heavy():
    out = run_python(
        "import json, sys\n"
        "import ha_namenode.namespace.applier\n"
        "print(json.dumps([m for m in ('grpc', 'sqlalchemy', 'pysyncobj') if m in sys.modules]))"
    )
    assert json.loads(out) == []


def test_importing_the_client_package_is_light():
    out = run_python(
        "import json, sys\n"
        "import client, client.cli.main\n"
        "heavy = ('grpc', 'rich', 'ha_namenode', 'datanode', 'chaos', 'sqlalchemy',"
        " 'prometheus_client')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    assert json.loads(out) == []


def test_only_the_metrics_modules_import_prometheus_client():
    packages = ("hafs_api", "ha_namenode", "datanode", "client", "chaos")
    sources = [p for package in packages for p in (ROOT / package).rglob("*.py")]
    users = {
        p.relative_to(ROOT).as_posix()
        for p in sources
        if any(m.split(".")[0] == "prometheus_client" for m in imported_modules(p))
    }
    assert users == {"hafs_api/metrics.py", "ha_namenode/metrics.py", "datanode/metrics.py"}


def test_namenode_start_execs_without_importing_server_code(tmp_path):
    conf = tmp_path / "nn.toml"
    conf.write_text("# a NameNode config\n")
    out = run_python(
        "import json, os, sys\n"
        "from client.cli.main import main\n"
        "calls = []\n"
        "os.execv = lambda exe, argv: calls.append([exe, *argv]) or sys.exit(0)\n"
        f"try:\n    main(['namenode', 'start', '--config', {str(conf)!r}])\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps({'calls': calls, 'loaded': 'ha_namenode' in sys.modules}))"
    )
    result = json.loads(out)
    assert result["loaded"] is False
    exe = result["calls"][0][0]
    assert result["calls"] == [[exe, exe, "-m", "ha_namenode", "--config", str(conf)]]


PUBLIC_API = [
    "AccessDenied",
    "BalancerNode",
    "BalancerStatus",
    "BlockHealth",
    "BlockLocation",
    "BlockMissing",
    "CheckpointInfo",
    "ChecksumMismatch",
    "Client",
    "ClientConfig",
    "ConfigError",
    "ContentSummary",
    "CrossNamespace",
    "DatanodeReport",
    "DeadlineExceeded",
    "DirectoryNotEmpty",
    "DsQuotaExceeded",
    "ExpungeResult",
    "FileAlreadyExists",
    "FileChecksum",
    "FileHealth",
    "FileNotFound",
    "FileStatus",
    "FsckReport",
    "HafsError",
    "InternalError",
    "InvalidArgument",
    "InvalidPath",
    "IsADirectory",
    "LeaseConflict",
    "LeaseExpired",
    "MetaSaveReport",
    "Mount",
    "MountChange",
    "MountTable",
    "NodeStatus",
    "NotLeader",
    "NsQuotaExceeded",
    "ParentNotDirectory",
    "QuotaExceeded",
    "ReadOnlyMount",
    "RecoveryInProgress",
    "ReplicaNotFound",
    "RequestTooLarge",
    "RetryPolicy",
    "SafeModeOn",
    "SafeModeStatus",
    "ServerDefaults",
    "StorageFull",
    "Unavailable",
    "Unsupported",
    "WrongNamespace",
    "XAttrExists",
    "XAttrNotFound",
]


def test_public_api_is_pinned():
    import client
    from hafs_api import errors

    assert client.__all__ == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(client, name) is not None
    assert client.FileNotFound is errors.FileNotFound  # one error tree, shared with servers
    assert client.Client.__module__ == "client.client"
    with pytest.raises(AttributeError):
        client.NotThere  # noqa: B018


def test_the_admin_mixin_names_the_same_service_as_the_rpc_layer():
    from client import admin, rpc

    assert admin.HA_ADMIN == rpc.HA_ADMIN
