"""``hactl dev``: a dev cluster kept in a directory, on top of ``LocalCluster``.

``hactl dev ACTION`` execs ``python -m chaos dev ACTION`` (``chaos/__main__.py``),
which calls one function here; each returns the exit code or raises
``DevError`` (printed as ``hactl dev ACTION: message``, exit 1; ``UsageError``
exits 2).

- ``up``: start every node of DIR's cluster (a new one: ``--nameservices K``
  nameservices ``ns1..nsK`` of ``--namenodes`` NameNodes each, default 1 of 3,
  sharing ``--datanodes`` DataNodes, default 3; or the one recorded there, on
  its recorded ports, configs and data, refusing other counts), wait for an
  active, formatted leader in every nameservice, write ``DIR/cluster.toml``
  (every nameservice, ``ns1`` the default) and ``DIR/cluster.json``, print how
  to use it (the banner lists each nameservice with its leader and NameNodes).
  By default the nodes are left running in their own sessions and ``up``
  exits 0; ``--foreground`` stays until Ctrl-C/SIGTERM/SIGHUP and then stops
  every node. When any process of DIR's cluster (or a foreground ``up``) is
  running, ``up`` says so and exits 1: it never half-joins a running cluster
  (``hactl dev start`` restarts one node).
- ``status``: per node: name, kind, nameservice (a DataNode's: every one it
  serves, comma-separated), pid, alive, process
  (``running``/``paused``/``exited``), role (``active``/``standby``/
  ``candidate``, from HaAdmin.GetStatus; ``unreachable`` when not alive or not
  answering), addresses, config, log.
- ``kill|stop|start|pause|resume NODE``: SIGKILL; SIGCONT+SIGTERM (SIGKILL
  after ``--timeout``); restart from its config, appending to its log;
  SIGSTOP; SIGCONT. Each waits (bounded) until the change shows.
- ``down``: SIGTERM to a foreground ``up``, SIGCONT+SIGTERM to every node,
  SIGKILL after ``--timeout``; idempotent.

Files in DIR besides the cluster's own: ``.lock`` (flock: one changing command
at a time) and ``supervisor.pid`` (while a foreground ``up`` runs).

Imports: the standard library, ``chaos.cluster`` and (lazily) rich.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaos.cluster import (
    LocalCluster,
    NodeProcess,
    is_serving,
    node_role,
    os_process,
    wait_serving,
)

DEFAULT_NAMENODES = 3  # per nameservice
DEFAULT_DATANODES = 3  # shared by every nameservice
DEFAULT_NAMESERVICES = 1
LOCK_TIMEOUT_S = 90.0  # longer than an ``up`` that holds the lock while it waits for a leader
SIGNAL_WAIT_S = 5.0  # for SIGKILL, SIGSTOP and SIGCONT to show
ROLE_TIMEOUT_S = 1.0


class DevError(Exception):
    exit_code = 1


class UsageError(DevError):
    exit_code = 2


# -- the directory --------------------------------------------------------------


@contextlib.contextmanager
def dir_lock(base: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold ``base/.lock`` so two commands never change one cluster at once."""
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DevError(
                        f"{base} is busy: another hactl dev command held {base / '.lock'} "
                        f"for {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def load(base: Path) -> LocalCluster:
    try:
        return LocalCluster.load(base)
    except (FileNotFoundError, ValueError) as e:
        hint = f"; start one with: {hactl()} dev up --dir {shlex.quote(str(base))}"
        raise DevError(f"{e}{hint if isinstance(e, FileNotFoundError) else ''}") from None


def supervisor_file(base: Path) -> Path:
    return base / "supervisor.pid"


def supervisor_pid(base: Path) -> int | None:
    """The pid of a foreground ``up`` running for ``base``, if any."""
    try:
        pid = int(supervisor_file(base).read_text().strip())
    except (OSError, ValueError):
        return None
    found = os_process(pid)
    if found is None or found[0] in ("Z", "X", "") or "chaos" not in found[1]:
        return None
    return pid


def hactl() -> str:
    """How the user runs this installation's hactl: ``hactl`` when on PATH, else its path."""
    path = Path(sys.executable).parent / "hactl"
    if not path.exists():
        return "hactl"
    on_path = shutil.which("hactl")
    if on_path and Path(on_path).resolve() == path.resolve():
        return "hactl"
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"  ({path}: no log)"
    return "\n".join(f"  {line}" for line in text)


# -- up ---------------------------------------------------------------------------


def up(
    base: Path,
    namenodes: int | None = None,
    datanodes: int | None = None,
    nameservices: int | None = None,
    foreground: bool = False,
    timeout: float = 60.0,
) -> int:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig in previous:  # a signal while starting stops what was started, like Ctrl-C
        signal.signal(sig, signal.default_int_handler)
    try:
        with dir_lock(base):
            cluster = _cluster_to_start(base, namenodes, datanodes, nameservices)
            if foreground:
                supervisor_file(base).write_text(f"{os.getpid()}\n")
            try:
                cluster.start(timeout)
            except BaseException as e:
                supervisor_file(base).unlink(missing_ok=True)
                if isinstance(e, KeyboardInterrupt):
                    print("interrupted: stopped the nodes it had started", file=sys.stderr)
                    return 130
                if not isinstance(e, Exception):
                    raise
                logs = "\n".join(f"{n.log_path}:\n{tail(n.log_path)}" for n in cluster.nodes)
                raise DevError(f"the dev cluster did not start: {e}\n{logs}") from None
        if foreground:
            return supervise(cluster)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(banner(cluster, foreground=False), flush=True)
    return 0


def _cluster_to_start(
    base: Path, namenodes: int | None, datanodes: int | None, nameservices: int | None
) -> LocalCluster:
    try:
        cluster = LocalCluster.load(base)
    except FileNotFoundError:
        cluster = LocalCluster(
            base,
            namenodes=namenodes or DEFAULT_NAMENODES,
            datanodes=DEFAULT_DATANODES if datanodes is None else datanodes,
            nameservices=nameservices or DEFAULT_NAMESERVICES,
        )
        print(f"starting a hafs dev cluster of {describe(cluster)} in {base} ...")
        return cluster
    except ValueError as e:
        raise DevError(str(e)) from None
    running = [f"{n.node_id} (pid {n.pid})" for n in cluster.nodes if n.running]
    where = shlex.quote(str(base))
    if running or supervisor_pid(base):
        sup = supervisor_pid(base)
        also = f"; a foreground hactl dev up (pid {sup}) supervises it" if sup else ""
        raise DevError(
            f"the dev cluster in {base} is already running: {', '.join(running) or 'no node'}"
            f"{also}. See {hactl()} dev status --dir {where}; stop it with "
            f"{hactl()} dev down --dir {where}"
        )
    for what, asked, held in (
        ("nameservice", nameservices, cluster.nameservices),
        ("NameNode", namenodes, cluster.namenodes),
        ("DataNode", datanodes, cluster.datanodes),
    ):
        if asked not in (None, held):
            per = " per nameservice" if what == "NameNode" else ""
            raise DevError(
                f"{base} holds a cluster of {held} {what}s{per}, not {asked}: "
                f"use another --dir, or delete this one (rm -r {where})"
            )
    print(f"restarting the hafs dev cluster of {describe(cluster)} in {base} ...")
    return cluster


def describe(cluster: LocalCluster) -> str:
    """``3 NameNodes and 3 DataNodes``, or with several nameservices
    ``2 nameservices of 3 NameNodes each and 3 shared DataNodes``."""
    if cluster.nameservices == 1:
        return f"{cluster.namenodes} NameNodes and {cluster.datanodes} DataNodes"
    return (
        f"{cluster.nameservices} nameservices of {cluster.namenodes} NameNodes each "
        f"and {cluster.datanodes} shared DataNodes"
    )


def supervise(cluster: LocalCluster) -> int:
    """Foreground: report nodes that exit or come back; stop them all on a signal."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    try:  # from here on, whatever happens, the cluster's processes are stopped
        print(banner(cluster, foreground=True), flush=True)
        seen = {n.node_id: n.state for n in cluster.nodes}
        while not stopping.wait(1.0):
            follow_restarts(cluster)
            for node in cluster.nodes:
                state = node.state
                if state != seen[node.node_id]:
                    print(f"{node.node_id}: {seen[node.node_id]} -> {state}", flush=True)
                    seen[node.node_id] = state
    finally:
        try:
            with dir_lock(cluster.base_dir):
                follow_restarts(cluster)
                cluster.stop()
                cluster.save_state()
        except DevError:
            cluster.stop()
        supervisor_file(cluster.base_dir).unlink(missing_ok=True)
        print("hafs dev cluster stopped", flush=True)
    return 0


def follow_restarts(cluster: LocalCluster) -> None:
    """Adopt the pids of nodes another command (``hactl dev start``) restarted."""
    try:
        recorded = {n.node_id: n.pid for n in LocalCluster.load(cluster.base_dir).nodes}
    except (OSError, ValueError):
        return
    for node in cluster.nodes:
        pid = recorded.get(node.node_id)
        if pid is not None and pid != node.pid and not node.running:
            node.pid, node.process = pid, None


def banner(cluster: LocalCluster, foreground: bool) -> str:
    user = getpass.getuser()
    where = shlex.quote(str(cluster.base_dir))
    cmd = hactl()
    leaders = {}
    for ns in cluster.nameservice_ids:
        try:
            leaders[ns] = cluster.wait_leader(5.0, ns).node_id
        except TimeoutError:
            leaders[ns] = "-"
    leader = leaders[cluster.nameservice]
    how = "Ctrl-C stops it" if foreground else "in the background"
    if cluster.nameservices == 1:
        lines = [
            "",
            f"hafs dev cluster is up ({how}): {cluster.namenodes} NameNode(s), "
            f"{cluster.datanodes} DataNode(s), leader {leader}",
            f"  nameservice  {cluster.nameservice}",
        ]
        lines += [_node_line(n) for n in cluster.nodes]
    else:
        lines = [
            "",
            f"hafs dev cluster is up ({how}): {cluster.nameservices} nameservices of "
            f"{cluster.namenodes} NameNode(s), {cluster.datanodes} DataNode(s) shared",
        ]
        for ns in cluster.nameservice_ids:
            default = " (default)" if ns == cluster.nameservice else ""
            lines.append(f"  nameservice  {ns}{default}, leader {leaders[ns]}")
            lines += [_node_line(n) for n in cluster.namenode_nodes_of(ns)]
        lines.append(f"  datanodes    in every nameservice ({', '.join(cluster.nameservice_ids)})")
        lines += [_node_line(n) for n in cluster.datanode_nodes]
    victim = leader if leader != "-" else cluster.nodes[0].node_id
    lines += [
        f"  logs         {cluster.base_dir}/<node>.log",
        f"  client conf  {cluster.client_conf}",
        f"  state        {cluster.state_file}",
        "",
        f"Use it as {user} (the superuser of this cluster):",
        f"  export HAFS_CONF={shlex.quote(str(cluster.client_conf))}",
        f"  {cmd} fs -mkdir -p /user/{user}",
        f"  {cmd} fs -put README.md /user/{user}/",
        f"  {cmd} fs -cat /user/{user}/README.md | head",
        f"  {cmd} fsck /",
        f"  {cmd} fs -ls /",
        f"  {cmd} ha status",
        f"  {cmd} dev status --dir {where}",
        f"  {cmd} dev kill --dir {where} {victim}    # SIGKILL; dev start brings it back",
        f"  {cmd} dev down --dir {where}    # stop every process",
    ]
    return "\n".join(lines)


def _node_line(n: NodeProcess) -> str:
    raft = f"  raft {n.raft_address}" if n.raft_address else ""
    kind = "rpc " if n.kind == "namenode" else "data"
    metrics = f"  metrics {n.metrics_address}" if n.metrics_address else ""
    return f"  {n.node_id:<12} {kind} {n.address}{raft}{metrics}  pid {n.pid}"


# -- status -----------------------------------------------------------------------


def node_status(node: NodeProcess) -> dict[str, Any]:
    state = node.state
    if state != "running":
        role = "unreachable"
    elif node.kind == "datanode":
        role = "datanode" if is_serving(node.address, ROLE_TIMEOUT_S) else "unreachable"
    else:
        role = node_role(node.address, ROLE_TIMEOUT_S)
    record = node.to_dict()
    return {
        "name": record.pop("name"),
        "kind": record.pop("kind"),
        "nameservice": record.pop("nameservice"),
        "pid": record.pop("pid"),
        "alive": state == "running",
        "process": state,
        "role": role,
        **record,
    }


def status(base: Path, as_json: bool = False) -> int:
    cluster = load(base)
    with ThreadPoolExecutor(max_workers=len(cluster.nodes)) as pool:
        rows = list(pool.map(node_status, cluster.nodes))
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print_table(rows)
    sup = supervisor_pid(base)
    if sup:
        print(f"supervised by a foreground hactl dev up (pid {sup})")
    print(f"client conf: {cluster.client_conf}")
    return 0


_ROLE_STYLES = {"active": "bold green", "candidate": "yellow", "unreachable": "red"}


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for name in ("NAME", "KIND", "NAMESERVICE", "PID", "ALIVE", "ROLE", "RPC", "RAFT", "METRICS"):
        table.add_column(name, justify="right" if name == "PID" else "left")
    for row in rows:
        alive = "yes" if row["alive"] else f"no ({row['process']})"
        table.add_row(
            row["name"],
            row["kind"],
            row["nameservice"],
            str(row["pid"] or "-"),
            alive if row["alive"] else f"[red]{alive}[/]",
            f"[{_ROLE_STYLES.get(row['role'], 'default')}]{row['role']}[/]",
            row["rpc_address"],
            row["raft_address"] or "-",
            row.get("metrics_address") or "-",
        )
    # Not a terminal: wide enough for every column, where rich would assume 80.
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)


# -- one node -----------------------------------------------------------------------


NODE_ACTIONS = ("kill", "stop", "start", "pause", "resume")


def node_action(base: Path, action: str, name: str, timeout: float = 30.0) -> int:
    if action not in NODE_ACTIONS:
        raise UsageError(f"unknown action {action!r} (one of {', '.join(NODE_ACTIONS)})")
    if not base.is_dir():
        load(base)  # raises "no dev cluster" without creating the directory
    with dir_lock(base):
        cluster = load(base)
        try:
            node = cluster.node(name)
        except KeyError:
            known = ", ".join(n.node_id for n in cluster.nodes)
            raise DevError(f"unknown node {name!r} in {base} (known: {known})") from None
        message = _ACTIONS[action](cluster, node, timeout)
    print(message)
    return 0


def _kill(cluster: LocalCluster, node: NodeProcess, timeout: float) -> str:
    if not node.running:
        return f"{node.node_id} is not running"
    pid = node.pid
    if not node.kill(SIGNAL_WAIT_S):
        raise DevError(f"{node.node_id} (pid {pid}) still exists {SIGNAL_WAIT_S} s after SIGKILL")
    return f"{node.node_id} killed (SIGKILL to pid {pid})"


def _stop(cluster: LocalCluster, node: NodeProcess, timeout: float) -> str:
    if not node.running:
        return f"{node.node_id} is not running"
    pid = node.pid
    node.signal(signal.SIGCONT)
    node.signal(signal.SIGTERM)
    if node.wait_exit(timeout):
        return f"{node.node_id} stopped (SIGTERM to pid {pid})"
    _kill(cluster, node, timeout)
    return f"{node.node_id} did not exit {timeout:.0f} s after SIGTERM: killed (pid {pid})"


def _start(cluster: LocalCluster, node: NodeProcess, timeout: float) -> str:
    state = node.state
    if state == "paused":
        raise DevError(
            f"{node.node_id} is paused (pid {node.pid}); "
            f"resume it: {hactl()} dev resume --dir {shlex.quote(str(cluster.base_dir))} "
            f"{node.node_id}"
        )
    if state == "running":
        return f"{node.node_id} is already running (pid {node.pid})"
    node.start()
    cluster.save_state()
    try:
        wait_serving(node.address, timeout, alive=lambda: node.running)
    except (RuntimeError, TimeoutError) as e:
        node.stop()
        cluster.save_state()
        raise DevError(f"{node.node_id} did not start: {e}\n{tail(node.log_path)}") from None
    return f"{node.node_id} started (pid {node.pid}), serving on {node.address}"


def _pause(cluster: LocalCluster, node: NodeProcess, timeout: float) -> str:
    return _signal_to(node, signal.SIGSTOP, "paused")


def _resume(cluster: LocalCluster, node: NodeProcess, timeout: float) -> str:
    return _signal_to(node, signal.SIGCONT, "running")


def _signal_to(node: NodeProcess, signum: signal.Signals, wanted: str) -> str:
    state = node.state
    if state == "exited":
        raise DevError(f"{node.node_id} is not running")
    if state == wanted:
        return f"{node.node_id} is already {wanted}"
    node.signal(signum)
    if not node.wait_state(wanted, SIGNAL_WAIT_S):
        raise DevError(f"{node.node_id} (pid {node.pid}) is not {wanted} after {signum.name}")
    verb = "paused" if wanted == "paused" else "resumed"
    return f"{node.node_id} {verb} ({signum.name} to pid {node.pid})"


_ACTIONS = {"kill": _kill, "stop": _stop, "start": _start, "pause": _pause, "resume": _resume}


# -- down ---------------------------------------------------------------------------


def down(base: Path, timeout: float = 10.0) -> int:
    if not base.is_dir():
        load(base)  # raises "no dev cluster" without creating the directory
    with dir_lock(base):
        cluster = load(base)
        sup = supervisor_pid(base)
        if sup:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sup, signal.SIGTERM)
        was_running = [n.node_id for n in cluster.nodes if n.running]
        cluster.stop(timeout)
        left = [f"{n.node_id} (pid {n.pid})" for n in cluster.nodes if n.running]
        cluster.save_state()
    if sup and not _wait_gone(sup, timeout + LOCK_TIMEOUT_S):
        with contextlib.suppress(ProcessLookupError):
            os.kill(sup, signal.SIGKILL)
    if supervisor_pid(base) is None:
        supervisor_file(base).unlink(missing_ok=True)
    if left:
        raise DevError(f"still running after SIGKILL: {', '.join(left)}")
    if was_running or sup:
        print(f"stopped {', '.join(was_running) or 'no node'} in {base}")
    else:
        print(f"nothing was running in {base}")
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = os_process(pid)
        if found is None or found[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
