#!/bin/sh
# Install Prometheus and promtool from Debian's `prometheus` package when they are missing.
#
#   scripts/install_prometheus.sh        # prints "prometheus=PATH" and "promtool=PATH"
#
# Used by the tests (tests/integration/test_prometheus_rules.py) and by `make test` on a
# clean Debian machine; an operator can run it too. It is idempotent: with both binaries
# on PATH (or in /usr/bin) it installs nothing and only prints their paths.
#
# It installs for the project's own use, not as a monitoring service: the package's
# maintainer scripts are forbidden to start the daemon (a temporary policy-rc.d, the
# Debian mechanism invoke-rc.d and deb-systemd-invoke obey), Recommends such as
# prometheus-node-exporter are not pulled in, and when systemd runs the machine the
# freshly installed unit is disabled and stopped, so nothing is left listening on :9090.
# A Prometheus that was already installed is left exactly as it was.
#
# Exit codes: 0 ready; 1 the install failed; 2 cannot install (not root, or no apt-get).
set -eu

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

if [ "$(id -u)" -ne 0 ]; then
    echo "install_prometheus: prometheus/promtool missing and not running as root;" \
        "run 'sudo $0' or 'apt-get install prometheus'" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_prometheus: prometheus/promtool missing and apt-get is not available" >&2
    exit 2
fi

# One installer at a time (parallel test runs); apt's own lock would make the second fail.
LOCK_DIR=/var/lock
[ -d "$LOCK_DIR" ] || LOCK_DIR=/tmp
exec 9>"$LOCK_DIR/hafs-install-prometheus.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if find_binaries; then  # another run installed it while this one waited
    report
    exit 0
fi

POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""
cleanup() {
    if [ -n "$OWN_POLICY" ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT INT TERM
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# hafs install_prometheus.sh: no service starts during install\nexit 101\n' \
        >"$POLICY"
    chmod 755 "$POLICY"
    OWN_POLICY=1
fi

export DEBIAN_FRONTEND=noninteractive
APT_INSTALL="apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

candidate=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    apt-get update -q >&2
fi
# shellcheck disable=SC2086
if ! $APT_INSTALL prometheus >&2; then
    # Stale package lists (a mirror moved on): refresh once and try again.
    apt-get update -q >&2
    # shellcheck disable=SC2086
    $APT_INSTALL prometheus >&2 || {
        echo "install_prometheus: apt-get install prometheus failed" >&2
        exit 1
    }
fi

# Under systemd the unit was enabled by the package; this install is for tools, not a
# service, so make sure it is neither running now nor started at the next boot.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service >&2 2>/dev/null || true
fi
# Without systemd the policy above refused the init script's start; stop it in case a
# policy-rc.d of the machine's own allowed it.
if [ -x /etc/init.d/prometheus ] && [ -z "$OWN_POLICY" ]; then
    /etc/init.d/prometheus stop >&2 2>/dev/null || true
fi

if ! find_binaries; then
    echo "install_prometheus: installed, but prometheus/promtool are not on PATH" >&2
    exit 1
fi
report
