"""The NameNode's readiness (``hafs.ready``) from its consensus status: a pure verdict.

``hafs_api.readiness`` defines what ready means and runs the loop that keeps the
gRPC health service current; this reads the parts of a ``ConsensusStatus``
that decide it. Imports: ``hafs_api.readiness`` and the consensus interface.
"""

from __future__ import annotations

from ha_namenode.consensus.base import ConsensusStatus
from hafs_api.readiness import Verdict, namenode_verdict


def verdict(status: ConsensusStatus, max_lag: int) -> Verdict:
    """Ready: a leader known and connected (or this node), and caught up within
    ``max_lag`` entries of the commit index known here or at the leader."""
    leader = status.leader_id
    connected = leader == status.node_id or any(
        m.node_id == leader and m.reachable for m in status.members
    )
    return namenode_verdict(
        leader,
        connected,
        status.commit_index,
        status.applied_index,
        max_lag,
        status.leader_commit_index,
    )
