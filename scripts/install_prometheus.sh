#!/bin/sh
# Install Prometheus and promtool from Debian's `prometheus` package when they are missing.
#
#   scripts/install_prometheus.sh        # prints "prometheus=PATH" and "promtool=PATH"
#
# Used by the tests (tests/integration/test_prometheus_rules.py) and by `make test` on a
# clean Debian machine; an operator can run it too. It is idempotent: with both binaries
# on PATH (or in /usr/bin) it installs nothing and only prints their paths.
#
# It installs for the project's own use, not as a monitoring service, through
# scripts/debian_packages.sh: the package's maintainer scripts are forbidden to start
# the daemon (a temporary policy-rc.d), Recommends such as prometheus-node-exporter are
# not pulled in, and when systemd runs the machine the freshly installed unit is
# disabled and stopped, so nothing is left listening on :9090. A Prometheus that was
# already installed is left exactly as it was.
#
# Exit codes: 0 ready; 1 the install failed; 2 cannot install (not root, or no apt-get).
set -eu

# shellcheck source=scripts/debian_packages.sh
. "$(dirname "$0")/debian_packages.sh"

find_binaries() {
    PROMETHEUS=$(command -v prometheus 2>/dev/null || true)
    PROMTOOL=$(command -v promtool 2>/dev/null || true)
    [ -n "$PROMETHEUS" ] || { [ -x /usr/bin/prometheus ] && PROMETHEUS=/usr/bin/prometheus; } || true
    [ -n "$PROMTOOL" ] || { [ -x /usr/bin/promtool ] && PROMTOOL=/usr/bin/promtool; } || true
    [ -n "$PROMETHEUS" ] && [ -n "$PROMTOOL" ]
}

report() {
    echo "prometheus=$PROMETHEUS"
    echo "promtool=$PROMTOOL"
}

if find_binaries; then
    report
    exit 0
fi
dp_can_install install_prometheus prometheus/promtool || exit 2
dp_lock
if find_binaries; then  # another run installed it while this one waited
    report
    exit 0
fi
dp_no_service_starts
dp_apt_install install_prometheus prometheus || exit 1
dp_keep_stopped prometheus
if ! find_binaries; then
    echo "install_prometheus: installed, but prometheus/promtool are not on PATH" >&2
    exit 1
fi
report
