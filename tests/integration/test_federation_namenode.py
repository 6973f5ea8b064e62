"""Two nameservices as real processes (one NameNode each), joined by a mount table.

ns1 is the default nameservice and holds the authoritative table; ns2 keeps a
copy. Raw gRPC calls (no client routing) check the NameNodes' side: mount
points, the push, WRONG_NAMESPACE with the current version, pulls on a newer
version, read-only mounts, cross-namespace renames, removal, and mount version 0
going around the check. (The 3+3 NameNode tests with shared DataNodes use the
harness's federated dev cluster.)
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from chaos.cluster import NodeProcess, free_port, wait_serving, wait_until, write_toml
from hafs_api import mounts
from hafs_api.errors import (
    CrossNamespace,
    FileNotFound,
    InvalidArgument,
    ReadOnlyMount,
    WrongNamespace,
)
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc, common_pb2, namenode_pb2_grpc
from hafs_api.v1 import namenode_pb2 as pb

pytestmark = pytest.mark.integration
_calls = itertools.count(1)


class Raw:
    """One NameNode, called directly with a chosen mount version."""

    def __init__(self, address: str, user: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = namenode_pb2_grpc.ClientNamenodeStub(self.channel)
        self.admin = admin_pb2_grpc.HaAdminStub(self.channel)
        self.user = user

    def call(self, method: str, version: int = 0, **fields: Any):
        header = common_pb2.RequestHeader(
            client_id="raw", call_id=next(_calls), user=self.user, mount_version=version
        )
        request = getattr(pb, f"{method}Request")(header=header, **fields)
        try:
            return getattr(self.stub, method)(request, timeout=10)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def admin_call(self, method: str, **fields: Any):
        request = getattr(admin_pb2, f"{method}Request")(**fields)
        try:
            return getattr(self.admin, method)(request, timeout=15)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def table(self) -> mounts.MountTable:
        return mounts.from_proto(self.admin_call("GetMountTable").table)

    def mount(self, path: str, nameservice: str, **kw: Any):
        return self.admin_call("AddMount", path=path, nameservice=nameservice, user=self.user, **kw)

    def close(self) -> None:
        self.channel.close()


@contextlib.contextmanager
def federation(
    base: Path, user: str, settings: dict[str, dict[str, Any]]
) -> Iterator[tuple[dict[str, NodeProcess], dict[str, Raw]]]:
    """Start ns1 (default) and ns2, one NameNode each; ``settings[ns]`` adds to its
    ``[federation]``. Stops both (and prints their logs on failure) at the end."""
    rpc = {ns: f"127.0.0.1:{free_port()}" for ns in ("ns1", "ns2")}
    nodes: dict[str, NodeProcess] = {}
    for ns, address in rpc.items():
        config = base / f"{ns}.toml"
        write_toml(
            config,
            {
                "namenode": {
                    "id": f"nn-{ns}",
                    "nameservice": ns,
                    "rpc_address": address,
                    "data_dir": str(base / ns),
                },
                "namespace": {"trash_interval_s": 0},
                "federation": {"default_nameservice": "ns1", **settings.get(ns, {})},
                **{f"federation.nameservices.{n}": {"namenodes": [a]} for n, a in rpc.items()},
            },
        )
        nodes[ns] = NodeProcess(f"nn-{ns}", config, base / f"{ns}.log", address, nameservice=ns)
    raws: dict[str, Raw] = {}
    ok = False
    try:
        for node in nodes.values():
            node.start()
        for node in nodes.values():
            wait_serving(node.address, 30, lambda node=node: node.running)
        raws = {ns: Raw(node.address, user) for ns, node in nodes.items()}
        yield nodes, raws
        ok = True
    finally:
        for raw in raws.values():
            raw.close()
        for node in nodes.values():
            node.stop()
        if not ok:
            for node in nodes.values():
                print(f"===== {node.node_id} =====\n{node.log_path.read_text()[-20000:]}")


def test_mounts_are_created_pushed_checked_and_removed(tmp_path, superuser):
    with federation(tmp_path, superuser, {}) as (_, nn):
        ns1, ns2 = nn["ns1"], nn["ns2"]
        # The default nameservice starts its table at version 1, and pushes it.
        wait_until(lambda: ns2.table() == mounts.MountTable(1, "ns1", ()), 10, "version 1")

        # AddMount makes the mount point in ns2 (with its quota) and pushes the table.
        reply = ns1.mount("/data", "ns2", ns_quota=1000)
        assert list(reply.pending) == []
        v2 = mounts.from_proto(reply.table)
        assert v2 == mounts.MountTable(2, "ns1", (mounts.Mount("/data", "ns2"),))
        assert ns2.table() == v2
        summary = ns2.call("GetContentSummary", path="/data").summary
        assert summary.ns_quota == 1000
        assert ns2.call("GetFileInfo", path="/data").status.owner == superuser

        reply = ns1.mount("/ro", "ns2", read_only=True)
        assert reply.table.version == 3 and ns2.table().version == 3

        # A client that routed by an older table learns the current version.
        with pytest.raises(WrongNamespace) as caught:
            ns1.call("Mkdir", version=2, path="/ro/x", permission=0o755)
        assert caught.value.mount_version == 3 and caught.value.path == "/ro/x"
        with pytest.raises(WrongNamespace):
            ns2.call("GetListing", version=3, path="/")
        ns1.call("GetListing", version=3, path="/")

        # Paths under a mount are served by its nameservice; read-only refuses writes.
        ns2.call("Mkdir", version=3, path="/data/x", permission=0o755)
        ns2.call("GetFileInfo", version=3, path="/ro")
        with pytest.raises(ReadOnlyMount):
            ns2.call("Mkdir", version=3, path="/ro/x", permission=0o755)
        with pytest.raises(CrossNamespace):
            ns2.call("Rename", version=3, src="/data/x", dst="/x")
        with pytest.raises(CrossNamespace):
            ns1.call("Rename", version=3, src="/x", dst="/data/y")
        with pytest.raises(InvalidArgument, match="mount point"):
            ns2.call("Delete", version=3, path="/data", recursive=True)

        # Mount version 0 is direct access to a nameservice: no check at all.
        ns1.call("Mkdir", version=0, path="/data/shadow", permission=0o755, parents=True)
        ns2.call("Mkdir", version=0, path="/ro/direct", permission=0o755)

        # RemoveMount propagates; the path belongs to the default nameservice again.
        reply = ns1.admin_call("RemoveMount", path="/ro", user=superuser)
        assert reply.table.version == 4 and list(reply.pending) == []
        assert [m.path for m in ns2.table().mounts] == ["/data"]
        with pytest.raises(WrongNamespace) as caught:
            ns2.call("GetFileInfo", version=4, path="/ro")
        assert caught.value.mount_version == 4
        with pytest.raises(FileNotFound):
            ns1.call("GetFileInfo", version=4, path="/ro")

        # Mount changes belong to the default nameservice; it installs no pushed table.
        with pytest.raises(InvalidArgument, match="default nameservice ns1"):
            ns2.mount("/y", "ns2")
        with pytest.raises(InvalidArgument, match="installs none"):
            ns1.admin_call("InstallMountTable", table=reply.table)
        with pytest.raises(InvalidArgument, match="unknown nameservice"):
            ns1.mount("/y", "ns9")


def test_a_lagging_nameservice_pulls_the_table(tmp_path, superuser):
    slow_pushes = {"ns1": {"push_interval_s": 60.0, "rpc_timeout_s": 0.5}}
    with federation(tmp_path, superuser, slow_pushes) as (nodes, nn):
        ns1, ns2 = nn["ns1"], nn["ns2"]
        ns1.mount("/data", "ns2")
        assert ns2.table().version == 2

        # ns2 misses the push (paused), and ns1 will not push again for a minute.
        nodes["ns2"].signal(signal.SIGSTOP)
        try:
            reply = ns1.mount("/data", "ns1")  # moved to the default nameservice
        finally:
            nodes["ns2"].signal(signal.SIGCONT)
        assert list(reply.pending) == ["ns2"] and reply.table.version == 3
        assert ns2.table().version == 2

        # A client at version 2 makes ns2 fetch it before answering.
        with pytest.raises(WrongNamespace) as caught:
            ns2.call("GetFileInfo", version=3, path="/data")
        assert caught.value.mount_version == 3
        assert ns2.table().version == 3
        ns1.call("GetFileInfo", version=3, path="/data")

        # A nameservice that was down catches up by itself when it leads again.
        nodes["ns2"].stop()
        reply = ns1.admin_call("RemoveMount", path="/data", user=superuser)
        assert list(reply.pending) == ["ns2"]
        nodes["ns2"].start()
        wait_serving(nodes["ns2"].address, 30, lambda: nodes["ns2"].running)
        started = time.monotonic()
        wait_until(lambda: ns2.table().version == 4, 10, "ns2 to pull version 4")
        assert time.monotonic() - started < 10
        assert ns2.table().mounts == ()
