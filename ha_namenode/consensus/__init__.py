"""Consensus: orders the commands the namespace applies.

``base.Consensus`` is the interface the rest of the NameNode sees. ``local``
is the one-member group used by a single NameNode; the Raft adapter (the only
code that imports pysyncobj) implements the same interface for a replicated
group.
"""
