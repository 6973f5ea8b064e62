"""The hafs DataNode: block storage and the data pipeline (built in the DataNode issue)."""
