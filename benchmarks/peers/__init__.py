"""Other systems measured in the same run as hafs, so comparisons are ratios of one run.

- ``etcd``: etcd 3.4 (Debian's ``etcd-server``), 3 members on 127.0.0.1: puts and
  linearizable gets at the metadata benchmark's concurrencies, and its failover gap
  with default and tuned timing (``etcd_cluster``: the processes; ``etcd_failover``:
  the kills).

A peer that is not installed is reported as missing (``benchmarks/install_peers.sh``
installs them), never replaced by quoted figures.
"""
