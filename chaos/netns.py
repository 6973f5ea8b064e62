"""A private network of Linux network namespaces whose links the chaos suite can cut.

Loopback cannot be partitioned (every process shares 127.0.0.1), so each node
gets a network namespace of its own, and every packet between two nodes, or
between a node and the test process, passes through one router namespace where
a fault is a policy rule::

    host namespace: the test process, node "client"   10.A.B.254  link hafs<pid>-<n>
                          |
    <prefix>net   the router: ip_forward=1, port hv<k> per node, 10.A.B.253 on each
          |                |
    <prefix>nn1      <prefix>dn1 ...   lo + hv<k> = 10.A.B.k, 10.A.B.0/24 via .253

``<prefix>`` is ``hafs-<pid>-<n>-``: the owner's pid and a per-process counter,
so only our namespaces are ever touched and ``cleanup_stale`` can tell a dead
run's leftovers (owner pid gone) from a live one's. Each ``Network`` takes a
``10.A.B.0/24`` (A in 150..249) no host route or address overlaps, picked under
a file lock so concurrent runs never share one. Links are point-to-point veths
(``hv<k>`` at both ends, inside the namespaces); the host gets one veth, its
address and one route, all removed by ``close()``.

A fault is a ``from SRC/32 to DST/32 blackhole`` rule in the router: packets
from SRC to DST are discarded silently (no ICMP, no RST), whatever their
protocol. What a cut SRC -> DST does to TCP:

- SRC connecting to DST: the SYN is lost; ``connect`` retries and times out;
- DST connecting to SRC: the SYN arrives, SRC's SYN-ACK is lost; it times out too
  (a TCP connection needs both directions, so one cut direction stops new
  connections both ways; UDP from DST to SRC still arrives);
- an established connection: SRC's data and ACKs are lost; SRC retransmits with
  backoff and its peer's reads block until a deadline or heal; after heal the
  retransmission gets through and the connection carries on.

Faults add up (``partition``, ``isolate``, ``bridge``, ``one_way``); ``heal()``
removes them all. Nodes a fault does not name keep every link. The node named
``client`` is the host namespace, where the test process and its clients live.
(A router, not a bridge: this kernel has no tc drop action (act_gact) and
there is no iptables/nft, while policy rules drop forwarded packets anywhere.)

Imports: the standard library only.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import itertools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CLIENT = "client"  # the host namespace: the test process
ROUTER = "net"  # the router namespace's suffix, not a node name
TAG = "hafs"
RULE_PREF = 100
NAMESPACE_RE = re.compile(rf"^{TAG}-(?P<pid>\d+)-(?P<n>\d+)-")
HOST_LINK_RE = re.compile(rf"^{TAG}(?P<pid>\d+)-(?P<n>\d+)$")
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
ROUTER_HOST, CLIENT_HOST = 253, 254
LOCK_DIR = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
LOCK_FILE = LOCK_DIR / "hafs-netns.lock"  # held while a network picks and claims a subnet

_counter = itertools.count(1)


class NetworkError(RuntimeError):
    """An ``ip`` command failed (the message names it and quotes its stderr)."""


@dataclass(frozen=True)
class Availability:
    """Whether namespaces can be made here; falsy with the ``reason`` when not."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def ip(*args: str, stdin: str | None = None, check: bool = True) -> str:
    """Run ``ip ARGS``; its stdout, or NetworkError when it fails and ``check``."""
    done = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def namespaces() -> list[str]:
    """Every named network namespace (``ip netns list``)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def host_links() -> list[str]:
    """The host namespace's link names."""
    out = ip("-o", "link", "show")
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(namespace: str) -> None:
    """SIGKILL the processes still in one of our namespaces (ours: we started them)."""
    for pid in ip("netns", "pids", namespace, check=False).split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def cleanup_stale(
    namespace_re: re.Pattern[str] = NAMESPACE_RE, link_re: re.Pattern[str] = HOST_LINK_RE
) -> list[str]:
    """Remove the namespaces and host links a crashed run of ours left: names matching
    the patterns (group ``pid``) whose owner pid is gone. Returns what was removed."""
    removed = []
    for name in host_links():  # first: it would go with its router, but not at once
        found = link_re.match(name)
        if found and not _pid_alive(int(found["pid"])):
            ip("link", "delete", name, check=False)
            removed.append(name)
    for name in namespaces():
        found = namespace_re.match(name)
        if found and not _pid_alive(int(found["pid"])):
            _kill_inside(name)
            ip("netns", "delete", name, check=False)
            removed.append(name)
    if removed:
        log.info("removed %d stale namespaces and links: %s", len(removed), " ".join(removed))
    return removed


def _used_networks() -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (every table) and addresses, default routes left out."""
    used = []
    for line in ip("-4", "-o", "route", "show", "table", "all").splitlines():
        words = line.split()
        if words and words[0] in ("local", "broadcast", "unreachable", "blackhole", "prohibit"):
            words = words[1:]
        if words and words[0] != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(words[0], strict=False))
    for line in ip("-4", "-o", "addr", "show").splitlines():
        words = line.split()
        if "inet" in words:
            used.append(ipaddress.ip_interface(words[words.index("inet") + 1]).network)
    return used


def _free_subnet(seed: int) -> ipaddress.IPv4Network:
    """A 10.A.B.0/24 (A in 150..249) that overlaps no host route or address."""
    used = _used_networks()
    slots = 100 * 256
    for i in range(slots):
        slot = (seed + i) % slots
        candidate = ipaddress.ip_network(f"10.{150 + slot // 256}.{slot % 256}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise NetworkError("no free 10.A.B.0/24 for a test network")


class Network:
    """A router namespace plus one namespace per node; faults are router rules.

    ``Network(["nn1", "nn2"])`` makes the router, the host link and those nodes'
    namespaces at once; ``add(name)`` makes more later. ``close()`` (also run
    at exit) removes everything this network made.
    """

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self.pid = os.getpid()
        self.number = next(_counter)
        self.prefix = f"{TAG}-{self.pid}-{self.number}-"
        self.host_link = f"{TAG}{self.pid}-{self.number}"
        self.router = self.prefix + ROUTER
        self.addresses: dict[str, str] = {}  # node -> IPv4 address, the client's included
        self.namespaces: dict[str, str] = {}  # node -> namespace name
        self.cuts: set[tuple[str, str]] = set()  # (src, dst): packets from src to dst dropped
        self._closed = False
        if len(self.host_link) > 15:  # IFNAMSIZ
            raise NetworkError(f"link name {self.host_link} too long: too many networks")
        if self.router in namespaces() or self.host_link in host_links():
            raise NetworkError(f"{self.prefix}*: names already taken")
        atexit.register(self.close)
        try:
            with _locked():
                self.subnet = _free_subnet(self.pid * 97 + self.number)
                self._make_router_and_host()
            for name in nodes:
                self.add(name)
        except BaseException:
            self.close()
            raise
        log.info("network %s on %s: %s", self.prefix, self.subnet, " ".join(self.addresses))

    # -- availability --------------------------------------------------------------

    _availability: Availability | None = None

    @classmethod
    def available(cls) -> Availability:
        """Whether this process can make namespaces and veths (root, ``ip netns``)."""
        if cls._availability is None:
            cls._availability = _probe()
        return cls._availability

    # -- building ------------------------------------------------------------------

    def _host(self, k: int) -> str:
        return str(self.subnet.network_address + k)

    def _make_router_and_host(self) -> None:
        router_ip, client_ip = self._host(ROUTER_HOST), self._host(CLIENT_HOST)
        ip("netns", "add", self.router)
        ip("-n", self.router, "link", "set", "lo", "up")
        _enable_forwarding(self.router)
        port = f"hv{CLIENT_HOST}"
        peer = ("peer", "name", port, "netns", self.router)
        ip("link", "add", self.host_link, "type", "veth", *peer)
        ip("addr", "add", f"{client_ip}/32", "peer", f"{router_ip}/32", "dev", self.host_link)
        ip("link", "set", self.host_link, "up")
        self._router_port(port, client_ip)
        ip("route", "add", str(self.subnet), "via", router_ip, "dev", self.host_link)
        self.addresses[CLIENT] = client_ip

    def _router_port(self, port: str, peer: str) -> None:
        router_ip = self._host(ROUTER_HOST)
        ip("-n", self.router, "addr", "add", f"{router_ip}/32", "peer", f"{peer}/32", "dev", port)
        ip("-n", self.router, "link", "set", port, "up")

    def add(self, name: str) -> str:
        """Make node ``name``'s namespace (once) and return its address."""
        if name in self.addresses:
            return self.addresses[name]
        if self._closed:
            raise NetworkError(f"network {self.prefix} is closed")
        if name == ROUTER or not NODE_NAME_RE.match(name):
            raise ValueError(f"bad node name {name!r}")
        k = len(self.namespaces) + 1
        if k >= ROUTER_HOST:
            raise ValueError(f"a network holds at most {ROUTER_HOST - 1} nodes")
        namespace, link, address = self.prefix + name, f"hv{k}", self._host(k)
        ip("netns", "add", namespace)
        self.namespaces[name] = namespace
        ip("-n", namespace, "link", "set", "lo", "up")
        peer = ("peer", "name", link, "netns", namespace)
        ip("-n", self.router, "link", "add", link, "type", "veth", *peer)
        self._router_port(link, address)
        router_ip = self._host(ROUTER_HOST)
        ip("-n", namespace, "addr", "add", f"{address}/32", "peer", f"{router_ip}/32", "dev", link)
        ip("-n", namespace, "link", "set", link, "up")
        ip("-n", namespace, "route", "add", str(self.subnet), "via", router_ip, "src", address)
        self.addresses[name] = address
        return address

    def address(self, name: str) -> str:
        return self.addresses[self._known(name)]

    def run_in(self, name: str) -> list[str]:
        """The argv prefix that starts a program in node ``name``'s namespace. ``ip netns
        exec`` execs the program, so the child's pid is the program's."""
        if name == CLIENT:
            return []
        return ["ip", "netns", "exec", self.namespaces[self._known(name)]]

    def _known(self, name: str) -> str:
        if name not in self.addresses:
            known = ", ".join(self.addresses)
            raise KeyError(f"unknown node {name!r} in network {self.prefix} (known: {known})")
        return name

    # -- faults --------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Nodes in different groups cannot talk, either way; others keep every link."""
        sets = [{self._known(n) for n in g} for g in groups]
        seen: set[str] = set()
        for group in sets:
            if group & seen:
                raise ValueError(f"nodes in two groups: {sorted(group & seen)}")
            seen |= group
        pairs = set()
        for a, b in itertools.permutations(range(len(sets)), 2):
            pairs |= {(x, y) for x in sets[a] for y in sets[b]}
        self._cut(pairs, f"partition {' | '.join(','.join(sorted(g)) for g in sets)}")

    def isolate(self, node: str, *, client: bool = False) -> None:
        """``node`` can talk to no other node; the client still reaches it unless
        ``client`` (or ``node`` is the client)."""
        spared = set() if client or node == CLIENT else {CLIENT}
        self.partition([{node}, set(self.addresses) - {node} - spared])

    def bridge(self, a_side: Iterable[str] | str, b_side: Iterable[str] | str, middle: str) -> None:
        """The two sides cannot talk to each other; both still talk to ``middle``."""
        a, b = _names(a_side), _names(b_side)
        if middle in a | b:
            raise ValueError(f"{middle} is the bridge, not a side")
        self.partition([a, b])

    def one_way(self, src: str, dst: str) -> None:
        """Packets from ``src`` to ``dst`` are dropped; ``dst`` -> ``src`` still flow (so
        TCP between them fails both ways, UDP from ``dst`` arrives)."""
        self._cut({(self._known(src), self._known(dst))}, f"one-way {src} -> {dst}")

    def heal(self) -> None:
        """Remove every fault."""
        if self.cuts and not self._closed:
            self._rules("del", self.cuts)
            log.info("healed %d cut links", len(self.cuts))
        self.cuts.clear()

    def connected(self, src: str, dst: str) -> bool:
        """Whether packets from ``src`` reach ``dst``."""
        return (self._known(src), self._known(dst)) not in self.cuts

    def _cut(self, pairs: set[tuple[str, str]], what: str) -> None:
        new = pairs - self.cuts
        if new:
            self._rules("add", new)
            self.cuts |= new
        log.info("%s: %d more links cut, %d in all", what, len(new), len(self.cuts))

    def _rules(self, verb: str, pairs: Iterable[tuple[str, str]]) -> None:
        lines = [
            f"rule {verb} from {self.addresses[s]}/32 to {self.addresses[d]}/32 "
            f"blackhole pref {RULE_PREF}"
            for s, d in sorted(pairs)
        ]
        ip("-n", self.router, "-batch", "-", stdin="\n".join(lines) + "\n")

    # -- teardown ------------------------------------------------------------------

    def close(self) -> None:
        """Delete every namespace and link this network made (idempotent); processes
        still inside its namespaces are killed first."""
        if self._closed or os.getpid() != self.pid:  # a forked child owns none of it
            return
        self._closed = True
        self.cuts.clear()
        for namespace in [*self.namespaces.values(), self.router]:
            _kill_inside(namespace)
            ip("netns", "delete", namespace, check=False)
        ip("link", "delete", self.host_link, check=False)  # at once, not when the router goes
        atexit.unregister(self.close)
        log.info("network %s closed", self.prefix)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _names(side: Iterable[str] | str) -> set[str]:
    return {side} if isinstance(side, str) else set(side)


def _enable_forwarding(namespace: str) -> None:
    """``net.ipv4.ip_forward=1`` in ``namespace`` only (its own sysctl)."""
    write = "open('/proc/sys/net/ipv4/ip_forward', 'w').write('1')"
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", write],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise NetworkError(f"ip_forward in {namespace}: {done.stderr.strip()}")


@contextlib.contextmanager
def _locked():
    """Hold the host-wide lock under which a network picks and claims its subnet."""
    with open(LOCK_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _probe() -> Availability:
    if not sys.platform.startswith("linux"):
        return Availability(False, f"network namespaces need Linux, not {sys.platform}")
    if os.geteuid() != 0:
        return Availability(False, "network namespaces need root")
    if shutil.which("ip") is None:
        return Availability(False, "no `ip` (iproute2) on PATH")
    probe = f"{TAG}-{os.getpid()}-0-probe"
    try:
        ip("netns", "add", probe)
        ip("-n", probe, "link", "add", "hv1", "type", "veth", "peer", "name", "hv2")
        ip("-n", probe, "rule", "add", "to", "10.0.0.1/32", "blackhole", "pref", str(RULE_PREF))
    except (NetworkError, OSError, subprocess.SubprocessError) as e:
        return Availability(False, f"cannot make a namespace with a veth: {e}")
    finally:
        ip("netns", "delete", probe, check=False)
    return Availability(True)
