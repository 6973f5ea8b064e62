"""etcd's failover gap: how long a writer pauses when the etcd leader is SIGKILLed.

The same measurement as hafs's (``benchmarks.failover``), with its probe pacing
(``PacedProbe``: a write every 10 ms) and its figures (``summarize``). The probe puts a
new key (~100 bytes) with a client that behaves as a well-configured etcd client would:

- it sends to the member it believes leads (set before each kill, as hafs's client
  follows the leader), and on any error moves on to the next member;
- an attempt that is not answered within ``ATTEMPT_TIMEOUT_S`` is abandoned and sent
  to the next member: a follower forwards a put to the leader it knows, and a put
  forwarded to a dead leader is only failed by etcd after its request timeout (5 s
  plus two election timeouts);
- between attempts it waits ``RETRY_WAIT_S``, etcd's clientv3 wait between retries.

For each kill: wait until the probe writes through the leader; SIGKILL it; poll the
survivors (Maintenance ``Status``) until one leads in a higher term; the **gap** is the
time from SIGKILL to the first put acknowledged by another member. Then restart the
killed member (same data directory) and wait until it follows a leader and has applied
what the leader had when it came back. At the end every acknowledged key is read back.

Imports: the standard library, grpc, ``benchmarks`` and the generated etcd stubs.
"""

from __future__ import annotations

import time

import grpc

from benchmarks.common import wait_until
from benchmarks.failover import INTERVAL_S, PROBE_DEADLINE_S, PacedProbe, kill_record, summarize
from benchmarks.peers.etcd_cluster import EtcdCluster, Member
from benchmarks.peers.etcdserverpb import rpc_pb2, rpc_pb2_grpc

ATTEMPT_TIMEOUT_S = 0.05
RETRY_WAIT_S = 0.025
GAP_TIMEOUT_S = 30.0
REJOIN_TIMEOUT_S = 60.0
VALUE = b"v" * 100


class EtcdProbe(PacedProbe):
    """Puts ``<prefix>/p0000000``, ``/p0000001``, ... through the cluster's members."""

    def __init__(self, cluster: EtcdCluster, prefix: str, max_writes: int):
        super().__init__(max_writes, INTERVAL_S, name="etcd-failover-probe")
        self.cluster = cluster
        self.prefix = prefix
        self.members = list(cluster.members)
        self.current = 0  # index into members; moved by errors and by ``prefer``

    def prefer(self, member: Member) -> None:
        self.current = self.members.index(member)

    def key(self, seq: int) -> str:
        return f"{self.prefix}/p{seq:07d}"

    def write(self, key: str) -> str:
        deadline = time.monotonic() + PROBE_DEADLINE_S
        while True:
            member = self.members[self.current]
            try:
                rpc_pb2_grpc.KVStub(self.cluster.channel(member)).Put(
                    rpc_pb2.PutRequest(key=key.encode(), value=VALUE), timeout=ATTEMPT_TIMEOUT_S
                )
                return member.address
            except grpc.RpcError:
                if time.monotonic() + RETRY_WAIT_S > deadline:
                    raise
                self.current = (self.current + 1) % len(self.members)
                time.sleep(RETRY_WAIT_S)


def run(cluster: EtcdCluster, kills: int, label: str, log=print) -> dict:
    """Kill the leader ``kills`` times under a writing probe; per-kill figures and summary."""
    prefix = f"/failover/{label}"
    probe = EtcdProbe(cluster, prefix, int(kills * (GAP_TIMEOUT_S + REJOIN_TIMEOUT_S) * 100))
    results: list[dict] = []
    probe.start()
    try:
        for k in range(kills):
            results.append(_one_kill(cluster, probe, k, log))
    finally:
        probe.stop()
    errors = [w for w in probe.writes if w.error]
    acked = {w.path for w in probe.writes if not w.error}
    return {
        "kills": kills,
        "heartbeat_ms": cluster.timing.heartbeat_ms,
        "election_ms": cluster.timing.election_ms,
        "interval_ms": INTERVAL_S * 1000,
        "attempt_timeout_ms": ATTEMPT_TIMEOUT_S * 1000,
        "retry_wait_ms": RETRY_WAIT_S * 1000,
        "writes": len(probe.writes),
        "errors": len(errors),
        "error_samples": sorted({w.error for w in errors})[:5],
        "lost_acknowledged": len(acked - _keys(cluster, prefix)),
        **summarize(results),
        "per_kill": results,
    }


def _keys(cluster: EtcdCluster, prefix: str) -> set[str]:
    """Every key under ``prefix``, read linearizably from the leader."""
    found = cluster.leader()
    assert found is not None, "no etcd leader to read the probe's keys back from"
    start = f"{prefix}/".encode()
    end = start[:-1] + bytes([start[-1] + 1])
    reply = rpc_pb2_grpc.KVStub(cluster.channel(found[0])).Range(
        rpc_pb2.RangeRequest(key=start, range_end=end, keys_only=True), timeout=30
    )
    return {kv.key.decode() for kv in reply.kvs}


def _current_leader(cluster: EtcdCluster) -> tuple[Member, rpc_pb2.StatusResponse]:
    wait_until("an etcd leader", lambda: cluster.leader() is not None, 30)
    found = cluster.leader()
    assert found is not None
    return found


def _one_kill(cluster: EtcdCluster, probe: EtcdProbe, k: int, log) -> dict:
    victim, before = _current_leader(cluster)
    probe.prefer(victim)
    probe.wait_warm(victim.address, "probe writes through the etcd leader")
    killed_at = time.monotonic()
    cluster.kill(victim)
    survivors = [m for m in cluster.members if m is not victim]
    elected = first = None
    elected_at = killed_at
    deadline = killed_at + GAP_TIMEOUT_S
    while (elected is None or first is None) and time.monotonic() < deadline:
        if elected is None:
            found = cluster.leader(survivors)
            if found is not None and found[1].raftTerm > before.raftTerm:
                elected, elected_at = found, time.monotonic()
        if first is None:
            first = probe.acked_since(killed_at, not_by=victim.address)
        time.sleep(0.01)
    if elected is None or first is None:
        raise TimeoutError(f"kill {k + 1}: no etcd member acknowledged a put in {GAP_TIMEOUT_S} s")
    gap = first.ended - killed_at
    new_leader, new_status = elected
    restarted_at = time.monotonic()
    cluster.start_member(victim)
    target = new_status.raftIndex

    def rejoined() -> bool:
        st = cluster.status(victim)
        return st is not None and st.leader != 0 and _applied(st) >= target

    rejoined_at = wait_until(f"etcd {victim.name} rejoins", rejoined, REJOIN_TIMEOUT_S, 0.05)
    return kill_record(
        k, (victim.name, before.raftTerm), (new_leader.name, new_status.raftTerm),
        elected_at - killed_at, gap, rejoined_at - restarted_at, "put", log,
    )  # fmt: skip


def _applied(st: rpc_pb2.StatusResponse) -> int:
    return st.raftAppliedIndex or st.raftIndex
