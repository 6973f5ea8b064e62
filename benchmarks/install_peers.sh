#!/bin/sh
# Install the systems the benchmarks compare hafs with, when they are missing.
#
#   benchmarks/install_peers.sh      # prints "etcd=PATH" and "etcdctl=PATH"
#
# Peers: etcd (Debian's `etcd-server` and `etcd-client`, 3.4 on Debian 12). The
# benchmark `etcd` (benchmarks/peers/etcd.py) starts its own 3-member cluster from the
# binary on 127.0.0.1; it never uses a system service. So the install goes through
# scripts/debian_packages.sh: the package may not start its daemon (a temporary
# policy-rc.d), Recommends are not pulled in, and under systemd the `etcd` unit is
# disabled and stopped, so nothing is left listening on :2379. An etcd that was already
# installed is left exactly as it was. Idempotent: with the binaries present it installs
# nothing and only prints their paths.
#
# Exit codes: 0 ready; 1 the install failed; 2 cannot install (not root, or no apt-get).
set -eu

# shellcheck source=scripts/debian_packages.sh
. "$(dirname "$0")/../scripts/debian_packages.sh"

find_binaries() {
    ETCD=$(command -v etcd 2>/dev/null || true)
    ETCDCTL=$(command -v etcdctl 2>/dev/null || true)
    [ -n "$ETCD" ] || { [ -x /usr/bin/etcd ] && ETCD=/usr/bin/etcd; } || true
    [ -n "$ETCDCTL" ] || { [ -x /usr/bin/etcdctl ] && ETCDCTL=/usr/bin/etcdctl; } || true
    [ -n "$ETCD" ] && [ -n "$ETCDCTL" ]
}

report() {
    echo "etcd=$ETCD"
    echo "etcdctl=$ETCDCTL"
}

if find_binaries; then
    report
    exit 0
fi
dp_can_install install_peers etcd/etcdctl || exit 2
dp_lock
if find_binaries; then  # another run installed it while this one waited
    report
    exit 0
fi
dp_no_service_starts
dp_apt_install install_peers etcd-server etcd-client || exit 1
dp_keep_stopped etcd
if ! find_binaries; then
    echo "install_peers: installed, but etcd/etcdctl are not on PATH" >&2
    exit 1
fi
report
