"""Leadership transfer and membership changes of a Raft nameservice of real processes.

``hactl ha transfer``, ``add-replica`` and ``remove-replica`` against NameNode
processes from the harness; a fourth NameNode is configured and started here
(with ``[members]`` listing all four) and stopped whatever happens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from click.testing import CliRunner

from chaos.cluster import HOST, LocalCluster, free_port, wait_serving, wait_until, write_toml
from client import Client
from client.cli.main import cli
from ha_namenode.persistence import read_dump
from hafs_api.errors import NotLeader
from hafs_api.status import from_rpc_error
from hafs_api.v1 import admin_pb2, admin_pb2_grpc

pytestmark = pytest.mark.integration


def admin(address: str, method: str, request, timeout: float = 20.0):
    with grpc.insecure_channel(address) as channel:
        return getattr(admin_pb2_grpc.HaAdminStub(channel), method)(request, timeout=timeout)


def status(address: str) -> admin_pb2.GetStatusResponse:
    return admin(address, "GetStatus", admin_pb2.GetStatusRequest(), timeout=2.0)


def members(address: str) -> dict[str, str]:
    """The group as the NameNode at ``address`` sees it: id -> client RPC address."""
    return {m.node_id: m.address for m in status(address).members}


def active_id(addresses: list[str]) -> str:
    """The id of the NameNode among ``addresses`` that says it is active, or ""."""
    for address in addresses:
        try:
            st = status(address)
        except grpc.RpcError:
            continue
        if st.state == admin_pb2.ACTIVE:
            return st.node_id
    return ""


def leader_everywhere(addresses: list[str], node_id: str) -> bool:
    return all(status(a).leader_id == node_id for a in addresses)


def hactl(cluster: LocalCluster, *args: str, code: int = 0):
    result = CliRunner().invoke(
        cli, ["--conf", str(cluster.client_conf), *args], catch_exceptions=False
    )
    assert result.exit_code == code, (args, result.output, result.stderr)
    return result


class ExtraNameNode:
    """A NameNode beside a harness cluster, configured here: its [members] lists the
    cluster's NameNodes and itself. ``extra_namenode`` stops it whatever happens."""

    def __init__(self, cluster: LocalCluster, node_id: str) -> None:
        base = cluster.base_dir
        template = tomllib.loads(cluster.nodes[0].config_path.read_text())
        self.node_id = node_id
        self.rpc_address = f"{HOST}:{free_port()}"
        self.raft_address = f"{HOST}:{free_port()}"
        me = {"rpc_address": self.rpc_address, "raft_address": self.raft_address}
        group = {**template["members"], node_id: me}
        self.config = base / f"{node_id}.toml"
        self.log_path = base / f"{node_id}.log"
        namenode = {"id": node_id, "rpc_address": self.rpc_address, "data_dir": str(base / node_id)}
        write_toml(
            self.config,
            {
                "namenode": {**template["namenode"], **namenode},
                "namespace": template.get("namespace", {}),
                "raft": template["raft"],
                **{f"members.{i}": m for i, m in group.items()},
            },
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ha_namenode", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_serving(self.rpc_address, 60)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def extra_namenode(cluster: LocalCluster, node_id: str) -> Iterator[ExtraNameNode]:
    node = ExtraNameNode(cluster, node_id)
    try:
        yield node
    except BaseException:
        if node.log_path.exists():
            print(f"---- {node.log_path}\n{node.log_path.read_text(errors='replace')}")
        raise
    finally:
        node.stop()


def test_transfer_leadership_to_a_chosen_follower(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    target = next(n for n in cluster.nodes if n is not leader)
    started = time.monotonic()
    out = json.loads(hactl(cluster, "--json", "ha", "transfer", "--to", target.node_id).output)
    took = time.monotonic() - started
    assert out == {"to": target.node_id}
    assert status(target.address).state == admin_pb2.ACTIVE  # it leads when hactl returns
    wait_until(lambda: leader_everywhere(cluster.addresses, target.node_id), 10, "agreement")
    print(f"leadership transfer {leader.node_id} -> {target.node_id}: {took:.2f} s")
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/after-transfer")
        assert fs.exists("/after-transfer")
        # And back, through the Python client, while a writer keeps the log moving.
        acked: list[int] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def writer() -> None:
            for i in range(100_000):
                if stop.is_set():
                    return
                try:
                    fs.mkdir(f"/load/{i}", parents=True)
                except BaseException as e:
                    errors.append(e)
                    return
                acked.append(i)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_until(lambda: len(acked) >= 20 or errors, 30, "writes before the transfer")
            started = time.monotonic()
            fs.transfer_leadership(leader.node_id)
            print(f"back to {leader.node_id} under load: {time.monotonic() - started:.2f} s")
            count = len(acked)
            wait_until(lambda: len(acked) > count + 20 or errors, 30, "writes after it")
        finally:
            stop.set()
            thread.join(30)
        assert errors == []
        assert sorted(int(s.name) for s in fs.ls("/load")) == sorted(acked)
    assert status(leader.address).state == admin_pb2.ACTIVE

    bad = hactl(cluster, "ha", "transfer", "--to", "nn9", code=1)
    assert "unknown NameNode 'nn9'" in bad.stderr

    # Membership changes are the leader's: a follower names it.
    with pytest.raises(grpc.RpcError) as info:
        admin(target.address, "RemoveReplica", admin_pb2.RemoveReplicaRequest(node_id="nn9"))
    err = from_rpc_error(info.value)
    assert isinstance(err, NotLeader) and err.leader_hint == leader.address

    # The leader cannot remove itself.
    refused = hactl(cluster, "--json", "ha", "remove-replica", leader.node_id, code=1)
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "INVALID_ARGUMENT" and "transfer" in error["message"]


def test_add_a_fourth_namenode_then_remove_one(make_cluster, superuser):
    # Compaction every 100 entries: the new NameNode catches up by snapshot install,
    # and the dumps must carry the new member's id and rpc address.
    cluster = make_cluster(namenodes=3, raft={"compaction_min_entries": 100})
    leader = cluster.wait_leader()
    fs = Client(addresses=cluster.addresses, user=superuser)
    try:
        for i in range(150):
            fs.mkdir(f"/before/{i}", parents=True)
        with extra_namenode(cluster, "nn4") as nn4:
            # etcd's order: add the member, then start it. Started first, it campaigns
            # (pysyncobj has no pre-vote) and its term deposes the leader as it joins.
            term = status(leader.address).term
            started = time.monotonic()
            out = hactl(
                cluster,
                *("--json", "ha", "add-replica", "--id", "nn4"),
                *("--rpc", nn4.rpc_address, "--raft", nn4.raft_address),
            )
            assert json.loads(out.output)["changed"] is True
            added = time.monotonic() - started
            nn4.start()
            target = status(leader.address).commit_index
            wait_until(
                lambda: status(nn4.rpc_address).applied_index >= target, 30, "nn4 to catch up"
            )
            caught_up = time.monotonic() - started
            print(f"add-replica {added:.2f} s; nn4 applied index {target} after {caught_up:.2f} s")
            # Usually no election at all; not asserted, as nn4 may time out once before
            # the leader's connection reaches it (pysyncobj retries every 0.5 s).
            print(f"terms while nn4 joined: {term} -> {status(nn4.rpc_address).term}")

            everyone = [*cluster.addresses, nn4.rpc_address]
            expected = {n.node_id: n.address for n in cluster.nodes}
            expected["nn4"] = nn4.rpc_address
            for address in everyone:
                wait_until(lambda a=address: members(a) == expected, 10, f"members at {address}")
            rows = json.loads(hactl(cluster, "--json", "ha", "status").output)
            assert {r["node_id"]: r["address"] for r in rows} == expected
            assert all(r["state"] in ("active", "standby") for r in rows)

            again = hactl(
                cluster,
                *("--json", "ha", "add-replica", "--id", "nn4"),
                *("--rpc", nn4.rpc_address, "--raft", nn4.raft_address),
            )
            assert json.loads(again.output)["changed"] is False
            clash = hactl(
                cluster,
                *("ha", "add-replica", "--id", "nn5"),
                *("--rpc", f"{HOST}:{free_port()}", "--raft", nn4.raft_address),
                code=1,
            )
            assert "member nn4 uses" in clash.stderr

            # A follower restarted from a dump taken after the change still names nn4.
            follower = next(n for n in cluster.nodes if n.node_id != leader.node_id)
            dump = cluster.base_dir / follower.node_id / "raft.dump"
            for i in range(150):
                fs.mkdir(f"/between/{i}", parents=True)
            wait_until(
                lambda: dump.exists() and nn4.rpc_address in read_dump(dump)[1],
                30,
                "a dump naming nn4",
            )
            follower.stop()
            follower.start()
            wait_serving(follower.address, 60)
            wait_until(lambda: members(follower.address) == expected, 20, "restarted members")

            # Remove a follower (a restart may have moved leadership): gone from every
            # member's status, and writes go on.
            active = wait_until(lambda: active_id(everyone), 10, "an active NameNode")
            if follower.node_id == active:
                follower = next(n for n in cluster.nodes if n.node_id not in (active, "nn4"))
            out = hactl(cluster, "--json", "ha", "remove-replica", follower.node_id)
            assert json.loads(out.output) == {"id": follower.node_id, "changed": True}
            follower.stop()
            del expected[follower.node_id]
            remaining = [a for a in everyone if a != follower.address]
            for address in remaining:
                wait_until(lambda a=address: members(a) == expected, 10, f"members at {address}")
            rows = json.loads(hactl(cluster, "--json", "ha", "status").output)
            assert {r["node_id"]: r["address"] for r in rows} == expected
            fs.mkdir("/after-remove")
            assert fs.exists("/after-remove")
            wait_until(
                lambda: (
                    status(nn4.rpc_address).applied_index
                    >= status(expected[active_id(remaining)]).commit_index
                ),
                10,
                "nn4 to apply the write",
            )

            out = hactl(cluster, "--json", "ha", "remove-replica", follower.node_id)
            assert json.loads(out.output) == {"id": follower.node_id, "changed": False}
            unknown = hactl(cluster, "ha", "remove-replica", "nn9", code=1)
            assert "unknown NameNode 'nn9'" in unknown.stderr
            assert "nn4" in unknown.stderr  # the message lists the members
    finally:
        fs.close()


def test_changes_that_would_lose_the_quorum_are_refused(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    down, up = [n for n in cluster.nodes if n is not leader]
    down.stop()
    wait_until(
        lambda: (
            not next(
                m for m in status(leader.address).members if m.node_id == down.node_id
            ).reachable
        ),
        10,
        f"the leader to see {down.node_id} down",
    )
    add = hactl(
        cluster,
        *("ha", "add-replica", "--id", "nn4"),
        *("--rpc", f"{HOST}:{free_port()}", "--raft", f"{HOST}:{free_port()}"),
        code=1,
    )
    assert "2 of 4 members would be reachable, fewer than the quorum of 3" in add.stderr
    live = hactl(cluster, "ha", "remove-replica", up.node_id, code=1)
    assert "1 of 2 members would be reachable" in live.stderr
    # Removing the one that is down leaves two of two: allowed, and writes go on.
    hactl(cluster, "ha", "remove-replica", down.node_id)
    assert set(members(leader.address)) == {leader.node_id, up.node_id}
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        fs.mkdir("/two-left")
        assert fs.exists("/two-left")


def test_membership_changes_on_a_single_namenode_are_unsupported(make_cluster):
    cluster = make_cluster(namenodes=1)
    add = hactl(
        cluster,
        *("--json", "ha", "add-replica", "--id", "nn2"),
        *("--rpc", f"{HOST}:{free_port()}", "--raft", f"{HOST}:{free_port()}"),
        code=1,
    )
    error = json.loads(add.stderr)["error"]
    assert error["code"] == "UNSUPPORTED"
    assert "single NameNode (nn1)" in error["message"] and "[members]" in error["message"]
    remove = hactl(cluster, "ha", "remove-replica", "nn1", code=1)
    assert "single NameNode (nn1)" in remove.stderr and "no Raft group" in remove.stderr
