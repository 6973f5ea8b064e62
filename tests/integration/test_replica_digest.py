"""The replicated log digest on a 3-NameNode Raft nameservice of real processes: every
replica reaches the same (state index, log digest), also one killed and restarted
behind the others, and ``hactl ha status --json`` shows both per NameNode."""

from __future__ import annotations

import json
import signal
import time

import pytest
from click.testing import CliRunner

from client import Client
from client.cli.main import cli

pytestmark = pytest.mark.integration


class Positions:
    """Every (state index, log digest) seen per NameNode; one index must have one digest."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[str, int]] = {}

    def sample(self, fs: Client) -> dict[str, tuple[int, int]]:
        now = {n.node_id: (n.state_index, n.log_digest) for n in fs.ha_status() if n.reachable}
        for node, (index, digest) in now.items():
            self.seen.setdefault(index, {})[node] = digest
        return now

    def converge(self, fs: Client, nodes: int, timeout: float = 30.0) -> tuple[int, int]:
        """Poll until ``nodes`` NameNodes report one (index, digest); bounded."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.sample(fs)
            if len(now) == nodes and len(set(now.values())) == 1:
                index, digest = next(iter(now.values()))
                if index > 0:
                    return index, digest
            assert time.monotonic() < deadline, f"no common position in {timeout} s: {now}"
            time.sleep(0.1)

    def check(self) -> None:
        split = {i: d for i, d in self.seen.items() if len(set(d.values())) > 1}
        assert not split, f"replicas disagree at the same index: {split}"


def test_replicas_reach_the_same_index_and_digest(make_cluster, superuser):
    cluster = make_cluster(namenodes=3)
    leader = cluster.wait_leader()
    positions = Positions()
    with Client(addresses=cluster.addresses, user=superuser) as fs:
        for i in range(20):
            fs.mkdir(f"/d/{i}", parents=True)
            if i % 5 == 0:
                positions.sample(fs)
        first = positions.converge(fs, 3)

        follower = next(n for n in cluster.namenode_nodes if n is not leader)
        follower.signal(signal.SIGKILL)
        assert follower.wait_exit(10)
        for i in range(20):
            fs.mkdir(f"/e/{i}", parents=True)
        behind = positions.converge(fs, 2)
        assert behind[0] > first[0] and behind[1] != first[1]
        follower.start()  # replays its journal from its store's index, continuing the chain
        again = positions.converge(fs, 3)
        assert again[0] >= behind[0]
    positions.check()

    result = CliRunner().invoke(
        cli, ["--conf", str(cluster.client_conf), "--json", "ha", "status"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    nodes = json.loads(result.stdout)
    assert len(nodes) == 3
    assert all(n["state_index"] > 0 and n["log_digest"] > 0 for n in nodes)
