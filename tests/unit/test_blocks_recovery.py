"""Block recovery of an open last block: truncate to the shortest replica among the
DataNodes that answer, wait while the only holders are unreachable, drop the block
when nobody has it. A fake namespace and a fake ReplicaClient; no sockets."""

from __future__ import annotations

import pytest

from ha_namenode.blocks.recovery import ReplicaInfo, recover_block
from ha_namenode.blocks.registry import Liveness, NodeView, Stats
from ha_namenode.namespace.commands import BeginBlockRecovery, CommitBlockRecovery
from ha_namenode.namespace.model import AdminState, Done, LocatedBlock
from hafs_api.errors import Unavailable

PATH, BLOCK = "/logs/app.log", 42
OLD_GS, NEW_GS = 1001, 1004
TOKEN = b"recover-42"
DOWN = "down"  # the DataNode does not answer (raises Unavailable)
DEAD = "dead"  # the leader has declared the DataNode dead


class Namespace:
    """``propose`` as the leader's namespace answers it (see namespace/recovery.py):
    BeginBlockRecovery bumps the stamp and returns the block with its non-corrupt
    replica holders; CommitBlockRecovery closes the file."""

    def __init__(self, holders: tuple[str, ...]) -> None:
        self.holders = holders
        self.commands: list[object] = []

    def __call__(self, command: object) -> object:
        self.commands.append(command)
        if isinstance(command, BeginBlockRecovery):
            return LocatedBlock(command.block_id, NEW_GS, 512, 4096, True, self.holders)
        if isinstance(command, CommitBlockRecovery):
            return Done()
        raise AssertionError(f"unexpected command {command!r}")

    @property
    def commits(self) -> list[CommitBlockRecovery]:
        return [c for c in self.commands if isinstance(c, CommitBlockRecovery)]


class Replicas:
    """DataNodes by address: a ReplicaInfo, None (no replica) or DOWN."""

    def __init__(self, held: dict[str, ReplicaInfo | str | None], broken: set[str]) -> None:
        self.held = held
        self.broken = broken  # addresses whose recover_replica fails
        self.asked: list[str] = []
        self.recovered: dict[str, tuple[int, int, int]] = {}

    def get_replica(self, address: str, block_id: int, token: bytes) -> ReplicaInfo | None:
        assert (block_id, token) == (BLOCK, TOKEN)
        self.asked.append(address)
        info = self.held.get(address)
        if info == DOWN:
            raise Unavailable(f"{address} did not answer")
        return info

    def recover_replica(
        self,
        address: str,
        block_id: int,
        gen_stamp: int,
        new_gen_stamp: int,
        length: int,
        token: bytes,
    ) -> int:
        assert (block_id, token) == (BLOCK, TOKEN)
        if address in self.broken:
            raise Unavailable(f"{address} failed to finalize")
        self.recovered[address] = (gen_stamp, new_gen_stamp, length)
        return length


def view(id: str, liveness: Liveness = Liveness.LIVE) -> NodeView:
    return NodeView(id, f"{id}:9866", "/r1", AdminState.IN_SERVICE, liveness, Stats(), True, 0, 1.0)


def recover(
    replicas: dict[str, int | str | None], broken: str = ""
) -> tuple[bool, Namespace, Replicas]:
    """Recover BLOCK whose holders are ``replicas``' keys: a length (a replica at the old
    stamp), None (no replica), DOWN, DEAD; DataNodes in ``broken`` fail to finalize."""
    ns = Namespace(tuple(replicas))
    nodes = {
        dn: view(dn, Liveness.DEAD if r == DEAD else Liveness.LIVE) for dn, r in replicas.items()
    }
    held = {
        f"{dn}:9866": ReplicaInfo(OLD_GS, r, False) if isinstance(r, int) else r
        for dn, r in replicas.items()
    }
    client = Replicas(held, {f"{dn}:9866" for dn in broken.split()})
    done = recover_block(PATH, BLOCK, ns, nodes, client, lambda b: TOKEN if b == BLOCK else b"")
    assert ns.commands[0] == BeginBlockRecovery(PATH, BLOCK)
    return done, ns, client


@pytest.mark.parametrize(
    ("replicas", "broken", "length", "committed"),
    [
        ({"dn1": 300, "dn2": 200, "dn3": 250}, "", 200, "dn1 dn2 dn3"),
        ({"dn1": 300, "dn2": DOWN, "dn3": 250}, "", 250, "dn1 dn3"),  # go on without it
        ({"dn1": 300, "dn2": None, "dn3": 250}, "", 250, "dn1 dn3"),  # it has none
        ({"dn1": DEAD, "dn2": 250, "dn3": 300}, "", 250, "dn2 dn3"),  # dead: has nothing
        ({"dn1": 300, "dn2": 200, "dn3": 250}, "dn3", 200, "dn1 dn2"),  # finalize failed
        ({"dn1": None, "dn2": None}, "", 0, ""),  # nobody has it: the empty block is dropped
        ({}, "", 0, ""),
    ],
)
def test_recovery_commits_the_shortest_length_on_the_replicas_that_finalized(
    replicas, broken, length, committed
):
    done, ns, client = recover(replicas, broken)
    assert done
    holders = tuple(committed.split())
    assert ns.commits == [CommitBlockRecovery(PATH, BLOCK, NEW_GS, length, holders)]
    assert client.recovered == {f"{dn}:9866": (OLD_GS, NEW_GS, length) for dn in holders}
    assert len(ns.commands) == 2


@pytest.mark.parametrize(
    ("replicas", "broken"),
    [
        ({"dn1": DOWN, "dn2": DOWN}, ""),  # the only holders may come back
        ({"dn1": DEAD, "dn2": None}, ""),  # only a dead node may have it
        ({"dn1": DOWN, "dn2": None}, ""),
        ({"dn1": DOWN, "dn2": DEAD}, ""),
        ({"dn1": DOWN}, ""),
        ({"dn1": 300, "dn2": 200}, "dn1 dn2"),  # nobody finalized
    ],
)
def test_recovery_waits_and_commits_nothing(replicas, broken):
    done, ns, client = recover(replicas, broken)
    assert not done
    assert ns.commits == []
    assert client.recovered == {}


def test_every_holder_dead_keeps_the_file_open():
    """Dead DataNodes are not asked, but what only they held is not given up: the file
    stays open until one returns (as HDFS does)."""
    done, ns, client = recover({"dn1": DEAD, "dn2": DEAD})
    assert not done and client.asked == []
    assert ns.commits == []


def test_dead_and_unknown_holders_are_not_asked():
    ns = Namespace(("dn1", "dn2", "gone"))
    nodes = {"dn1": view("dn1", Liveness.DEAD), "dn2": view("dn2")}
    client = Replicas({"dn2:9866": ReplicaInfo(OLD_GS, 70, False)}, set())
    assert recover_block(PATH, BLOCK, ns, nodes, client, lambda b: TOKEN)
    assert client.asked == ["dn2:9866"]
    assert ns.commits == [CommitBlockRecovery(PATH, BLOCK, NEW_GS, 70, ("dn2",))]


def test_a_stale_holder_is_still_asked():
    ns = Namespace(("dn1", "dn2"))
    nodes = {"dn1": view("dn1", Liveness.STALE), "dn2": view("dn2")}
    held = {"dn1:9866": ReplicaInfo(OLD_GS, 90, False), "dn2:9866": ReplicaInfo(OLD_GS, 120, True)}
    client = Replicas(held, set())
    assert recover_block(PATH, BLOCK, ns, nodes, client, lambda b: TOKEN)
    assert ns.commits == [CommitBlockRecovery(PATH, BLOCK, NEW_GS, 90, ("dn1", "dn2"))]


def test_each_replica_is_restamped_from_its_own_stamp():
    # dn2 already took the stamp of an earlier recovery attempt that did not commit.
    ns = Namespace(("dn1", "dn2"))
    nodes = {"dn1": view("dn1"), "dn2": view("dn2")}
    held = {
        "dn1:9866": ReplicaInfo(OLD_GS, 300, False),
        "dn2:9866": ReplicaInfo(OLD_GS + 2, 200, True),
    }
    client = Replicas(held, set())
    assert recover_block(PATH, BLOCK, ns, nodes, client, lambda b: TOKEN)
    assert client.recovered == {
        "dn1:9866": (OLD_GS, NEW_GS, 200),
        "dn2:9866": (OLD_GS + 2, NEW_GS, 200),
    }


def test_a_replica_newer_than_the_recovery_stamp_is_ignored():
    ns = Namespace(("dn1", "dn2"))
    nodes = {"dn1": view("dn1"), "dn2": view("dn2")}
    held = {
        "dn1:9866": ReplicaInfo(OLD_GS, 300, False),
        "dn2:9866": ReplicaInfo(NEW_GS + 1, 10, False),
    }
    client = Replicas(held, set())
    assert recover_block(PATH, BLOCK, ns, nodes, client, lambda b: TOKEN)
    assert ns.commits == [CommitBlockRecovery(PATH, BLOCK, NEW_GS, 300, ("dn1",))]
