# shellcheck shell=sh
# Sourced, not run: install Debian packages as tools for the project, never as services.
#
#   . scripts/debian_packages.sh
#   dp_can_install NAME "what is missing" || exit 2   # root and apt-get, else a message
#   dp_lock                                           # one installer at a time
#   dp_no_service_starts                              # temporary policy-rc.d until exit
#   dp_apt_install NAME PACKAGE...                    # apt-get install, no Recommends
#   dp_keep_stopped UNIT...                           # disabled and stopped afterwards
#
# Used by scripts/install_prometheus.sh and benchmarks/install_peers.sh. The mechanism:
# maintainer scripts are forbidden to start a daemon by a temporary policy-rc.d (the
# Debian mechanism that invoke-rc.d and deb-systemd-invoke obey), which is removed on
# exit if this script created it; Recommends are not pulled in; and when systemd runs
# the machine the freshly installed units are disabled and stopped, so nothing is left
# running or starts at the next boot. A package already installed is left as it was:
# callers check for their binaries first and call none of this when they are there.
#
# Installers of different packages share one lock (apt's own lock would make a second
# concurrent apt-get fail), so parallel test runs install one after the other; a caller
# checks again for its binaries once it holds the lock.

DP_POLICY=/usr/sbin/policy-rc.d
DP_OWN_POLICY=""

# dp_can_install NAME WHAT: true when this process can install (root, apt-get present).
dp_can_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$1: $2 missing and not running as root; run 'sudo $0'" >&2
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$1: $2 missing and apt-get is not available" >&2
        return 1
    fi
}

# dp_lock: hold the shared installer lock on file descriptor 9 until this shell exits.
dp_lock() {
    dp_lock_dir=/var/lock
    [ -d "$dp_lock_dir" ] || dp_lock_dir=/tmp
    exec 9>"$dp_lock_dir/hafs-install-packages.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
}

_dp_cleanup() {
    if [ -n "$DP_OWN_POLICY" ]; then
        rm -f "$DP_POLICY"
        DP_OWN_POLICY=""
    fi
}

# dp_no_service_starts: forbid service starts until this shell exits (unless the machine
# already has a policy-rc.d of its own, which is then left alone and obeyed).
dp_no_service_starts() {
    trap _dp_cleanup EXIT
    trap '_dp_cleanup; exit 130' INT TERM
    if [ ! -e "$DP_POLICY" ]; then
        printf '#!/bin/sh\n# hafs %s: no service starts during install\nexit 101\n' \
            "$(basename "$0")" >"$DP_POLICY"
        chmod 755 "$DP_POLICY"
        DP_OWN_POLICY=1
    fi
}

# dp_apt_install NAME PACKAGE...: install non-interactively; refresh stale lists once.
dp_apt_install() {
    dp_name=$1
    shift
    export DEBIAN_FRONTEND=noninteractive
    dp_apt="apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
    for dp_package in "$@"; do
        dp_candidate=$(apt-cache policy "$dp_package" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$dp_candidate" ] || [ "$dp_candidate" = "(none)" ]; then
            apt-get update -q >&2
            break
        fi
    done
    # shellcheck disable=SC2086
    if ! $dp_apt "$@" >&2; then
        # Stale package lists (a mirror moved on): refresh once and try again.
        apt-get update -q >&2
        # shellcheck disable=SC2086
        $dp_apt "$@" >&2 || {
            echo "$dp_name: apt-get install $* failed" >&2
            return 1
        }
    fi
}

# dp_keep_stopped UNIT...: the units just installed neither run now nor start at boot.
dp_keep_stopped() {
    for dp_unit in "$@"; do
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            # Under systemd the package enabled and (without our policy) started the unit.
            systemctl disable --now "$dp_unit.service" >&2 2>/dev/null || true
            continue
        fi
        # No systemd running (a container, another init): remove the enablement the
        # package made anyway, for systemd (offline: links only) and for the init script.
        if command -v systemctl >/dev/null 2>&1; then
            systemctl disable "$dp_unit.service" >&2 2>/dev/null || true
        fi
        if [ -x "/etc/init.d/$dp_unit" ] && command -v update-rc.d >/dev/null 2>&1; then
            update-rc.d "$dp_unit" disable >&2 2>/dev/null || true
        fi
        # Our policy refused the init script's start; stop it in case a policy-rc.d of
        # the machine's own allowed it.
        if [ -x "/etc/init.d/$dp_unit" ] && [ -z "$DP_OWN_POLICY" ]; then
            "/etc/init.d/$dp_unit" stop >&2 2>/dev/null || true
        fi
    done
}
