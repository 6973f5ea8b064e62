"""The hafs NameNode: namespace core, consensus, persistence, RPC, and the wiring of them."""
