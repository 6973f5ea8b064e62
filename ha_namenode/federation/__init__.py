"""Federation on the NameNode side: the mount table's ownership check, mount changes,
and keeping every nameservice's copy of the table current (docs/design.md,
"Federation").

- ``access``: which paths a call names, and the pure rules that refuse it;
- ``cache``: the in-memory copy of the replicated table, invalidated by apply;
- ``service``: ``Federation`` (check, pull, install, add/remove mount, push) and
  the ``Peers`` interface to other nameservices;
- ``sync``: the background push/pull loop.

Imports: the namespace core, the namesystem and ``hafs_api``; other nameservices
only through ``Peers`` (gRPC lives in ``ha_namenode.rpc.federation_client``).
"""
