"""``fsck``: the health of every block under a path, as ``hdfs fsck`` reports it.

Reads one consistent view and the leader's node liveness; changes nothing.
Counts follow the replication monitor's census (``planner.census``): a block is
under-replicated with fewer live replicas than it needs (its file's
replication, less its replicas on nodes in maintenance but at least
``maintenance_min``: ``planner.live_target``), missing with no good replica on
a DataNode that is not dead, corrupt with a replica known to be bad.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ha_namenode.blocks.monitor import block_states
from ha_namenode.blocks.planner import census, live_target
from ha_namenode.blocks.registry import Liveness, NodeView
from ha_namenode.namespace.resolve import path_of, resolve
from ha_namenode.namespace.store import StoreView, walk
from hafs_api.errors import FileNotFound


@dataclass(frozen=True, slots=True)
class BlockHealth:
    block_id: int
    gen_stamp: int
    num_bytes: int
    expected: int
    live: int
    corrupt: int
    decommissioning: int
    locations: tuple[str, ...]  # DataNode ids of the good replicas
    open: bool
    maintenance: int = 0  # good replicas on nodes entering or in maintenance, up or down


@dataclass(frozen=True, slots=True)
class FileHealth:
    path: str
    length: int
    replication: int
    blocks: tuple[BlockHealth, ...]
    open: bool


@dataclass
class FsckReport:
    files: int = 0
    directories: int = 0
    total_bytes: int = 0
    blocks: int = 0
    replicas: int = 0
    under_replicated: int = 0
    missing: int = 0
    corrupt: int = 0
    over_replicated: int = 0
    open_for_write: int = 0
    datanodes: int = 0
    entries: list[FileHealth] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.missing == 0 and self.corrupt == 0


def fsck(
    view: StoreView,
    path: str,
    nodes: Mapping[str, NodeView],
    list_files: bool = False,
    maintenance_min: int = 1,
) -> FsckReport:
    root = resolve(view, path).last
    if root is None:
        raise FileNotFound("fsck: no such file or directory", path)
    report = FsckReport(datanodes=sum(1 for n in nodes.values() if n.liveness is Liveness.LIVE))
    for node in walk(view, root):
        if node.is_dir:
            report.directories += 1
            continue
        report.files += 1
        report.total_bytes += node.length
        report.open_for_write += bool(node.holder)
        healths = []
        for state in block_states(view, view.blocks(node.id)):
            c = census(state, nodes)
            target = live_target(state.expected, len(c.maintenance), maintenance_min)
            health = BlockHealth(
                state.block_id,
                state.gen_stamp,
                state.num_bytes,
                state.expected,
                len(c.live),
                len(c.corrupt),
                len(c.decommissioning),
                c.sources,
                state.open,
                len(c.maintenance),
            )
            healths.append(health)
            report.blocks += 1
            report.replicas += len(c.live)
            if state.open:
                continue
            if not c.sources:
                report.missing += 1
            elif len(c.live) < target:
                report.under_replicated += 1
            elif len(c.live) > state.expected:
                report.over_replicated += 1
            if c.corrupt:
                report.corrupt += 1
        if list_files:
            report.entries.append(
                FileHealth(
                    path_of(view, node),
                    node.length,
                    node.replication,
                    tuple(healths),
                    bool(node.holder),
                )
            )
    return report
