"""Generated protobuf and gRPC code for API version 1; regenerate with ``make proto``."""
