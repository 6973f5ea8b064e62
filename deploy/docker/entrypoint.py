#!/usr/bin/env python3
"""The hafs container's entry point: run a NameNode or a DataNode, or probe one.

Installed in the image (Dockerfile) as ``/usr/local/bin/hafs-entrypoint``::

    hafs-entrypoint namenode [--config FILE] [ARGS]  # python -m ha_namenode --config ...
    hafs-entrypoint datanode [--config FILE] [ARGS]  # python -m datanode --config ...
    hafs-entrypoint health [--timeout S]   # exit 0 when the daemon's gRPC health is SERVING
    hafs-entrypoint ready [--timeout S]    # exit 0 when its health service hafs.ready is:
                                           # NameNode: a leader is known and this node has
                                           # applied all but [namenode] ready_max_lag
                                           # entries; DataNode: registered everywhere
    hafs-entrypoint COMMAND ...            # anything else (hactl, sh) runs as it is

Secrets never sit in the config files or the image:

* ``NAME_FILE=/path`` (``NAME`` starting with ``HAFS_``) sets ``NAME`` to the file's
  content without its trailing newline, and is then removed from the environment. With
  Docker or Kubernetes secrets mounted as files: ``HAFS__RAFT__PASSWORD_FILE``.
* ``HAFS__SECTION__KEY`` variables override the config file's values (the daemons'
  own rule, ``hafs_api.settings``): ``HAFS__RAFT__PASSWORD``,
  ``HAFS__BLOCKS__TOKEN_SECRET``, ``HAFS__NAMENODE__ID``. The daemons parse such a
  value as a TOML scalar, so a secret of digits alone would become a number: the
  entry point passes every ``HAFS__*__PASSWORD`` and ``HAFS__*__TOKEN_SECRET`` on as a
  quoted TOML string.
* ``${NAME}`` in the config file is replaced by the variable ``NAME``, escaped for a
  TOML string; for keys the override rule cannot reach, such as a DataNode's
  ``[nameservices.ns1] block_token_secret = "${HAFS_NS1_BLOCK_TOKEN_SECRET}"``. A
  placeholder without its variable stops the start with exit code 2.

The config (``--config``, else ``$HAFS_CONFIG``, else ``/etc/hafs/hafs.toml``) is
rendered to ``$HAFS_RUNTIME_DIR/hafs.toml`` (default ``/tmp/hafs``, mode 0600), where
``health`` and ``ready`` read the daemon's RPC address.

Imports: the standard library; ``health`` and ``ready`` also grpc, and ``ready``
``hafs_api.readiness``.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path

DEFAULT_CONFIG = "/etc/hafs/hafs.toml"
DAEMONS = {"namenode": "ha_namenode", "datanode": "datanode"}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class EntrypointError(Exception):
    """A start-up problem the operator must fix; the message says which."""


def resolve_secret_files(env: MutableMapping[str, str]) -> None:
    """Replace every ``HAFS_*_FILE`` variable by the variable it names, read from the file."""
    for name in [n for n in env if n.startswith("HAFS_") and n.endswith("_FILE")]:
        path = env.pop(name)
        try:
            env[name.removesuffix("_FILE")] = Path(path).read_text().rstrip("\r\n")
        except OSError as e:
            raise EntrypointError(f"{name}: cannot read {path}: {e.strerror}") from None


def quote_secrets(env: MutableMapping[str, str]) -> None:
    """Make each ``HAFS__*__PASSWORD`` and ``HAFS__*__TOKEN_SECRET`` a TOML string, so the
    daemon's override rule reads it as text whatever it looks like."""
    for name, value in list(env.items()):
        if name.startswith("HAFS__") and name.endswith(("__PASSWORD", "__TOKEN_SECRET")):
            env[name] = f'"{toml_escape(value)}"'


def toml_escape(value: str) -> str:
    """``value`` as the inside of a TOML basic string."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def render(text: str, env: Mapping[str, str]) -> str:
    """``text`` with each ``${NAME}`` replaced by ``env[NAME]``, TOML-escaped."""
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(env))
    if missing:
        raise EntrypointError(f"the config needs {', '.join(missing)}: set it or {missing[0]}_FILE")
    return PLACEHOLDER.sub(lambda m: toml_escape(env[m.group(1)]), text)


def runtime_config(env: Mapping[str, str]) -> Path:
    return Path(env.get("HAFS_RUNTIME_DIR", "/tmp/hafs")) / "hafs.toml"


def write_config(source: str, env: Mapping[str, str]) -> Path:
    """Render ``source`` into the runtime config file, readable by this user only."""
    try:
        text = Path(source).read_text()
    except OSError as e:
        raise EntrypointError(f"config {source}: {e.strerror}") from None
    target = runtime_config(env)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(text, env))
    return target


def split_config(args: list[str], env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The ``--config FILE`` (or ``--config=FILE``) of ``args``, and the other arguments."""
    rest, config = [], env.get("HAFS_CONFIG", DEFAULT_CONFIG)
    it = iter(args)
    for arg in it:
        if arg == "--config":
            config = next(it, config)
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return config, rest


def daemon_argv(role: str, args: list[str], env: MutableMapping[str, str]) -> list[str]:
    """Resolve secrets, render the config and return the daemon's command line."""
    resolve_secret_files(env)
    quote_secrets(env)
    source, rest = split_config(args, env)
    config = write_config(source, env)
    return [sys.executable, "-m", DAEMONS[role], "--config", str(config), *rest]


def rpc_address(env: Mapping[str, str]) -> tuple[str, str]:
    """``(role, host:port)`` of the daemon configured by the runtime config (or
    ``$HAFS_CONFIG``), after the environment's overrides; a wildcard host becomes
    the loopback address."""
    path = runtime_config(env)
    if not path.exists():
        path = Path(env.get("HAFS_CONFIG", DEFAULT_CONFIG))
    with open(path, "rb") as f:
        data = tomllib.load(f)
    role = "namenode" if "namenode" in data or "members" in data else "datanode"
    address = env.get(
        f"HAFS__{role.upper()}__RPC_ADDRESS", data.get(role, {}).get("rpc_address", "")
    )
    if not address:
        raise EntrypointError(f"{path}: no [{role}] rpc_address")
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return role, f"{host}:{port}"


def health(timeout: float, env: Mapping[str, str]) -> int:
    """Exit code 0 when the daemon's liveness (health service "") is SERVING."""
    _, address = rpc_address(env)
    return check(address, "", timeout)


def ready(timeout: float, env: Mapping[str, str]) -> int:
    """Exit code 0 when the daemon's readiness (health service ``hafs.ready``) is SERVING:
    a NameNode that knows a leader and has caught up, a DataNode registered with every
    nameservice's leader (``hafs_api.readiness`` defines both)."""
    from hafs_api.readiness import READY_SERVICE

    _, address = rpc_address(env)
    return check(address, READY_SERVICE, timeout)


def check(address: str, service: str, timeout: float) -> int:
    """Ask ``address``'s gRPC health service about ``service``; 0 when SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as e:
            print(f"{address}: {e.code().name}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(f"{address}: {service + ' ' if service else ''}{status}")
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else 1


def _timeout(args: list[str]) -> float:
    if args[:1] == ["--timeout"] and len(args) > 1:
        return float(args[1])
    return 3.0


def main(argv: list[str], env: MutableMapping[str, str]) -> int:
    if not argv:
        argv = ["namenode"]
    command, args = argv[0], argv[1:]
    try:
        if command in DAEMONS:
            daemon = daemon_argv(command, args, env)
            os.execve(daemon[0], daemon, dict(env))
        if command == "health":
            return health(_timeout(args), env)
        if command == "ready":
            return ready(_timeout(args), env)
    except EntrypointError as e:
        print(f"hafs-entrypoint: {e}", file=sys.stderr)
        return 2
    os.execvpe(command, argv, dict(env))
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
