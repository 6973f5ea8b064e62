"""Shipped deploy files stay valid: every example config under deploy/config loads with
the real loader of its daemon (or of the client) as it is, the systemd units run the
daemons (compose, Kubernetes and Docker: test_deploy_manifests.py; Prometheus and
Grafana: test_monitoring_files.py)."""

from pathlib import Path

import pytest
import yaml

from client import config as client_config
from datanode.config import DataNodeConfig
from ha_namenode.config import NameNodeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
EXAMPLES = sorted((DEPLOY / "config").glob("*.toml"))
LOADERS = {  # file name -> the loader the daemon (or hactl) itself uses
    "namenode.toml": lambda path: NameNodeConfig.load(path, env={}),
    "datanode.toml": lambda path: DataNodeConfig.load(path, env={}),
    "client.toml": client_config.load,
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_loads_with_the_real_loader(path):
    assert path.name in LOADERS, f"{path.name}: no loader known; add it to LOADERS"
    config = LOADERS[path.name](path)
    if path.name != "client.toml":  # a daemon: Prometheus scrapes it
        assert config.metrics.address, f"{path.name}: no [metrics] address"


def test_every_toml_under_deploy_is_loaded_by_a_test():
    """deploy/config here; deploy/compose/config in test_deploy_manifests.py, with each
    service's environment."""
    shipped = {p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*.toml")}
    compose = {f"compose/config/{name}" for name in ("namenode.toml", "datanode.toml")}
    compose.add("compose/config/client.toml")
    assert shipped == {f"config/{p.name}" for p in EXAMPLES} | compose


def test_example_namenode_config_loads():
    config = NameNodeConfig.load(DEPLOY / "config" / "namenode.toml", env={})
    assert config.namespace.superuser == "hafs"
    assert config.users["alice"] == ("ml", "users")
    # the port of prometheus.yml's hafs-namenode targets
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = (j for j in prometheus["scrape_configs"] if j["job_name"] == "hafs-namenode")
    ports = {t.rpartition(":")[2] for s in job["static_configs"] for t in s["targets"]}
    assert ports == {config.metrics.address.rpartition(":")[2]}


def test_example_datanode_config_matches_the_namenode_and_prometheus():
    datanode = DataNodeConfig.load(DEPLOY / "config" / "datanode.toml", env={})
    namenode = NameNodeConfig.load(DEPLOY / "config" / "namenode.toml", env={})
    ns = datanode.nameservices[namenode.namenode.nameservice]
    assert ns.namenodes == (namenode.namenode.rpc_address,)
    assert ns.block_token_secret == namenode.blocks.token_secret
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = (j for j in prometheus["scrape_configs"] if j["job_name"] == "hafs-datanode")
    ports = {t.rpartition(":")[2] for s in job["static_configs"] for t in s["targets"]}
    assert ports == {datanode.metrics.address.rpartition(":")[2]}
    secret = {"HAFS__NAMESERVICES__NS1__BLOCK_TOKEN_SECRET": "from-env"}
    from_env = DataNodeConfig.load(DEPLOY / "config" / "datanode.toml", env=secret)
    assert from_env.nameservices["ns1"].block_token_secret == "from-env"


def test_systemd_unit_runs_the_module():
    unit = (DEPLOY / "systemd" / "hafs-namenode@.service").read_text()
    assert "-m ha_namenode --config /etc/hafs/%i.toml" in unit
    assert "KillSignal=SIGTERM" in unit


def test_systemd_datanode_unit_runs_the_module():
    unit = (DEPLOY / "systemd" / "hafs-datanode@.service").read_text()
    assert "-m datanode --config /etc/hafs/%i.toml" in unit
    assert "KillSignal=SIGTERM" in unit
    assert "User=hafs" in unit
