"""When a DataNode's admin state moves on by itself: decommissioning and maintenance.

Pure: block states, censuses and node views in, decisions out. The block
monitor reads the blocks of each DataNode that is DECOMMISSIONING or
ENTERING_MAINTENANCE and proposes the next state once no block holds it:

* DECOMMISSIONING -> DECOMMISSIONED once every block it holds has its full
  replication on in-service nodes (its own replicas do not count);
* ENTERING_MAINTENANCE -> IN_MAINTENANCE once every block it holds has at least
  ``maintenance_min`` live replicas on in-service nodes (or its replication, if
  lower), so the node may stop without a block becoming unreadable;
* ENTERING_MAINTENANCE or IN_MAINTENANCE -> IN_SERVICE once the maintenance
  expiry (wall-clock ms, 0: none) has passed.

Open blocks (under construction) never hold a node: their writer's pipeline
owns them. The proposals re-check their condition on apply (``only_from``,
``ExpireMaintenance``), so an operator's change made meanwhile wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from ha_namenode.blocks.planner import BlockState, Census
from ha_namenode.blocks.registry import NodeView
from ha_namenode.namespace.model import AdminState

NEXT = {
    AdminState.DECOMMISSIONING: AdminState.DECOMMISSIONED,
    AdminState.ENTERING_MAINTENANCE: AdminState.IN_MAINTENANCE,
}


def holds_node(block: BlockState, c: Census, admin: AdminState, maintenance_min: int) -> bool:
    """Whether ``block`` keeps a node of state ``admin`` from its next state."""
    if block.open:
        return False
    if admin is AdminState.DECOMMISSIONING:
        return len(c.live) < block.expected
    if admin is AdminState.ENTERING_MAINTENANCE:
        return len(c.live) < min(maintenance_min, block.expected)
    return False


def expired(nodes: Iterable[NodeView], now_ms: int) -> list[str]:
    """The nodes whose maintenance has passed its expiry by ``now_ms``, by id."""
    return sorted(
        n.id
        for n in nodes
        if n.admin.maintenance and n.maintenance_expiry and n.maintenance_expiry <= now_ms
    )
