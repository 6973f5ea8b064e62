"""Path resolution: from a path string to the inodes along it (HDFS INodesInPath).

Pure; reads through a StoreView.
"""

from __future__ import annotations

from dataclasses import dataclass

from ha_namenode.namespace.model import ROOT_ID, Inode
from ha_namenode.namespace.store import StoreView
from hafs_api import paths
from hafs_api.errors import FileNotFound, ParentNotDirectory, Unavailable


@dataclass(slots=True)
class Resolved:
    """``inodes[i]`` is the inode of the first ``i`` components; ``inodes[0]`` is the root.

    Resolution stops at the first missing component or file: the rest are None.
    """

    path: str
    names: tuple[str, ...]
    inodes: list[Inode | None]

    @property
    def is_root(self) -> bool:
        return not self.names

    @property
    def last(self) -> Inode | None:
        return self.inodes[-1]

    @property
    def parent(self) -> Inode | None:
        return self.inodes[-2] if self.names else None

    @property
    def depth_found(self) -> int:
        """Index of the deepest inode that exists."""
        i = len(self.inodes) - 1
        while self.inodes[i] is None:
            i -= 1
        return i

    def prefix(self, i: int) -> str:
        return paths.join(self.names[:i])

    def existing(self) -> list[Inode]:
        return [n for n in self.inodes if n is not None]

    def require(self) -> Inode:
        """The last inode, or FileNotFound."""
        node = self.last
        if node is None:
            raise FileNotFound("No such file or directory", self.path)
        return node

    def require_parent_dir(self) -> Inode:
        """The parent directory, or FileNotFound / ParentNotDirectory."""
        parent = self.parent
        if parent is not None and parent.is_dir:
            return parent
        k = self.depth_found
        top = self.inodes[k]
        assert top is not None
        if not top.is_dir:
            raise ParentNotDirectory("Parent path is not a directory", self.prefix(k))
        raise FileNotFound("Parent directory doesn't exist", self.prefix(len(self.names) - 1))


def resolve(view: StoreView, path: str) -> Resolved:
    names = paths.split(path)
    root = view.inode(ROOT_ID)
    if root is None:
        raise Unavailable("the namespace is not formatted yet")
    inodes: list[Inode | None] = [root]
    current: Inode | None = root
    for name in names:
        current = view.child(current.id, name) if current is not None and current.is_dir else None
        inodes.append(current)
    return Resolved(path, names, inodes)


def path_of(view: StoreView, inode: Inode) -> str:
    """The absolute path of an inode, by walking up its parents."""
    names: list[str] = []
    node: Inode | None = inode
    while node is not None and node.id != ROOT_ID:
        names.append(node.name)
        node = view.inode(node.parent)
    return paths.join(list(reversed(names)))
