"""The hafs DataNode: on-disk block storage, the block scanner and the data pipeline."""
