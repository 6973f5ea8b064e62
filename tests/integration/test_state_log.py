"""Each NameNode of a Raft group keeps an fsynced log of its roles by term: after a
leader is killed, the logs name at most one leader per term, the new one in a later term."""

from __future__ import annotations

import pytest

from chaos.cluster import wait_until
from ha_namenode.consensus.statelog import FILE_NAME, read

pytestmark = pytest.mark.integration


def leaders_by_term(cluster) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for node in cluster.namenode_nodes:
        for record in read(cluster.base_dir / node.node_id / FILE_NAME):
            if record["state"] == "leader":
                out.setdefault(record["term"], set()).add(record["node"])
    return out


def test_the_logs_name_one_leader_per_term(make_cluster):
    cluster = make_cluster(namenodes=3)
    first = cluster.wait_leader(10)
    before = leaders_by_term(cluster)
    assert [nodes for nodes in before.values()] == [{first.node_id}]
    first.kill()
    second = cluster.wait_leader(10)
    wait_until(lambda: len(leaders_by_term(cluster)) == 2, 5, "the new leader's record")
    after = leaders_by_term(cluster)
    assert all(len(nodes) == 1 for nodes in after.values())
    (old_term,) = before
    new_term = max(after)
    assert new_term > old_term and after[new_term] == {second.node_id}
    records = read(cluster.base_dir / second.node_id / FILE_NAME)
    assert {r["nameservice"] for r in records} == {"ns1"}
