"""Generated protobuf and gRPC code for a slice of etcd's v3 API (``rpc.proto``: KV Put
and Range, Maintenance Status); regenerate with ``make proto``."""
