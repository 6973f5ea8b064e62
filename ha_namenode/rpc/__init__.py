"""gRPC edge of the NameNode: the only server code that imports grpc.

Servicers only translate between protobuf and domain calls on the Namesystem;
errors map to statuses through ``hafs_api.status``.
"""
