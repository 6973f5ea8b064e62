"""A real Prometheus for tests: its config made from the shipped
``deploy/prometheus/prometheus.yml`` with a test cluster's targets, its process, and
the parts of its HTTP API the tests read.

* ``config_for(targets, listen)``: the shipped config with each job's static targets
  replaced, the same job names, labels and rule file, and 1 s intervals;
* ``Prometheus(binary, workdir, config)``: ``start()`` runs it on 127.0.0.1 (data and
  log under ``workdir``) and waits for ``/-/ready``; ``stop()`` always ends it;
  ``get()``/``query()``/``query_range()``/``alerts()`` read its API.

Used by ``tests/integration/test_prometheus_live.py``.

Imports: the standard library, PyYAML and ``monitoring_contract``.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from monitoring_contract import PROMETHEUS

SELF_JOB = "prometheus"  # the shipped config's job scraping Prometheus itself


def config_for(targets: Mapping[str, list[str]], listen: str, interval: str = "1s") -> dict:
    """``deploy/prometheus/prometheus.yml`` for a test: every job keeps its name, its
    settings (relabelling included) and its static configs' labels, with
    ``targets[job]`` as its targets (the self-scrape job: ``listen``); global settings
    and external labels stay, the rule files are the shipped ones, and scrapes and rule
    evaluations run every ``interval``, a job's own interval dropped. A shipped job
    without test targets, or one not configured by static targets, is an error: the
    test would no longer scrape what is shipped."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(
        scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
    )
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    wanted = {**targets, SELF_JOB: [listen]}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(wanted), f"prometheus.yml has jobs {sorted(jobs)}, not {sorted(wanted)}"
    for name, job in jobs.items():
        statics = job.get("static_configs")
        discovery = {k for k in job if k.endswith("_sd_configs")}
        assert statics and not discovery, f"prometheus.yml: job {name} is not static: {job}"
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
        labels = [s.get("labels", {}) for s in statics]
        assert all(ls == labels[0] for ls in labels), f"job {name}: targets differ in labels"
        job["static_configs"] = [{**statics[0], "targets": list(wanted[name])}]
    return config


class PrometheusError(AssertionError):
    """Prometheus did not start, or did not answer."""


class Prometheus:
    """One Prometheus process on 127.0.0.1, with its TSDB and log under ``workdir``."""

    def __init__(self, binary: str, workdir: Path, config: dict, listen: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.config = config
        self.listen = listen
        self.url = f"http://{listen}"
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0  # wall clock, for range queries

    def start(self, timeout: float = 30.0) -> Prometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        command = [
            self.binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.listen}",
        ]
        self.started_at = time.time()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise PrometheusError(f"prometheus not ready after {timeout} s:\n{self.log()}")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                return reply.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- the HTTP API ----------------------------------------------------------------

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """The JSON body of ``GET /api/v1/<path>``, an error answer's included (their
        ``status`` is ``error``). List values of ``params`` repeat the key."""
        query = urllib.parse.urlencode(params, doseq=True)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as e:  # 400 bad query, 422 cannot execute, ...
            body = e.read()
            try:
                return json.loads(body)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}: {body[:500]!r}"}

    def data(self, path: str, **params: Any) -> Any:
        body = self.get(path, **params)
        if body.get("status") != "success":
            raise PrometheusError(f"GET {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("query", query=expr)

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict[str, Any]:
        return self.get("query_range", query=expr, start=start, end=end, step=step)

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing), each with ``labels`` and ``state``."""
        return self.data("alerts")["alerts"]
