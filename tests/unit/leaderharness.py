"""An in-process leader for the block-management tests: a formatted namespace in a
``MemoryStore`` committed through ``LocalConsensus``, the ``BlockManager``, its block
monitor and the balancer's dispatcher, on fake clocks, with simulated DataNodes that
obey the commands of their heartbeat replies. No sockets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ha_namenode.blocks.dispatcher import Dispatcher
from ha_namenode.blocks.manager import BlockManager, DeleteBlocks, ReplicateBlock
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.blocks.registry import Stats
from ha_namenode.config import BlocksSection, NameNodeConfig, NamespaceSection
from ha_namenode.consensus.local import LocalConsensus
from ha_namenode.identity import GroupMapping
from ha_namenode.namespace import commands as c
from ha_namenode.namespace.applier import StateMachine
from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.model import Datanode, Replica
from ha_namenode.namesystem import Namesystem

SUPERUSER = "hdfs"
START_WALL = 1_800_000_000.0


class Clock:
    """A clock that moves only when told (monotonic or wall, seconds)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeDatanode:
    id: str
    rack: str
    capacity: int
    extra: int = 0  # used bytes that are not this pool's blocks
    blocks: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (gs, bytes)
    alive: bool = True
    refuses_copies: bool = False  # heartbeats, but every copy to it fails

    @property
    def used(self) -> int:
        return self.extra + sum(size for _, size in self.blocks.values())

    def stats(self) -> Stats:
        return Stats(self.capacity, self.used, self.capacity - self.used)


class Leader:
    def __init__(self, **blocks_settings) -> None:
        settings = {"token_secret": "s", "stale_after_s": 3.0, "dead_after_s": 5.0}
        settings.update(blocks_settings)
        self.config = NameNodeConfig(
            namespace=NamespaceSection(superuser=SUPERUSER, trash_interval_s=0),
            blocks=BlocksSection(**settings),
        )
        self.store = MemoryStore()
        self.consensus = LocalConsensus(StateMachine(self.store), "nn1", "127.0.0.1:1")
        self.consensus.start()
        groups = GroupMapping({}, SUPERUSER, "supergroup", True)
        self.wall = Clock(START_WALL)
        self.clock = Clock()
        self.ns = Namesystem(self.config, self.store, self.consensus, groups, clock=self.wall)
        self.ns.system(c.Format(SUPERUSER, "supergroup"))
        self.manager = BlockManager(self.ns, self.config.blocks, clock=self.clock)
        self.balancer = Dispatcher(self.manager, clock=self.clock, wall=self.wall)
        self.monitor = BlockMonitor(self.manager, None, self.balancer)  # type: ignore[arg-type]
        self.datanodes: dict[str, FakeDatanode] = {}
        self.deletions: list[tuple[str, int]] = []  # (DataNode, block) as ordered

    def close(self) -> None:
        self.consensus.stop()

    # ---- DataNodes -------------------------------------------------------------------

    def add_datanode(self, id: str, rack: str = "/r1", capacity: int = 10_000, extra: int = 0):
        dn = self.datanodes[id] = FakeDatanode(id, rack, capacity, extra)
        self.manager.register(Datanode(id, f"{id}:9866", rack))
        self.manager.report(id, [], full=True)
        self.manager.heartbeat(id, dn.stats())
        return dn

    def heartbeat_all(self) -> None:
        """Every live DataNode heartbeats and obeys what the reply carries."""
        for dn in self.datanodes.values():
            if dn.alive:
                _, commands = self.manager.heartbeat(dn.id, dn.stats())
                for command in commands or ():
                    self.obey(dn, command)

    def obey(self, dn: FakeDatanode, command: object) -> None:
        if isinstance(command, ReplicateBlock):
            for view in command.targets:
                target = self.datanodes[view.id]
                if target.alive and not target.refuses_copies and command.block_id in dn.blocks:
                    target.blocks[command.block_id] = (command.gen_stamp, command.num_bytes)
                    received = [(command.block_id, command.gen_stamp, command.num_bytes, 1)]
                    self.manager.report(target.id, received)
        elif isinstance(command, DeleteBlocks):
            gone = []
            for block_id, gen_stamp in command.blocks:
                self.deletions.append((dn.id, block_id))
                if dn.blocks.pop(block_id, None) is not None:
                    gone.append((block_id, gen_stamp))
            self.manager.report(dn.id, [], gone)

    def tick(self, seconds: float = 0.5) -> None:
        """Time passes, heartbeats arrive, the monitor runs a pass."""
        self.clock.advance(seconds)
        self.wall.advance(seconds)
        self.heartbeat_all()
        self.monitor.run_once()

    # ---- files -------------------------------------------------------------------------

    def write(self, path: str, sizes: Sequence[int], where: Sequence[Sequence[str]]) -> list[int]:
        """A closed file of one block per size, each finalized on the DataNodes ``where``
        names for it; its replication is the first block's count. Returns the block ids."""
        holder = "writer"
        replication = len(where[0])
        self.ns.system(c.Create(path, 0o644, holder, replication, 1 << 20, create_parent=True))
        ids, previous = [], None
        for size, nodes in zip(sizes, where, strict=True):
            located = self.ns.system(
                c.AddBlock(path, holder, previous=previous, targets=tuple(nodes))
            )
            for dn in nodes:
                self.datanodes[dn].blocks[located.block_id] = (located.gen_stamp, size)
                self.manager.report(dn, [(located.block_id, located.gen_stamp, size, 1)])
            previous = c.BlockRef(located.block_id, located.gen_stamp, size)
            ids.append(located.block_id)
        self.ns.system(c.Complete(path, holder, last=previous))
        return ids

    def replicas(self, block_id: int) -> list[Replica]:
        return self.ns.view(lambda v: v.replicas(block_id))

    def holders(self, block_id: int) -> set[str]:
        return {r.datanode for r in self.replicas(block_id)}

    def admin(self, datanode: str):
        node = self.ns.view(lambda v: v.datanode(datanode))
        return node.admin, node.maintenance_expiry
