"""The leader's block management: DataNode liveness, placement, replication planning,
block recovery and fsck. Pure planners beside a small volatile registry; no grpc here."""
