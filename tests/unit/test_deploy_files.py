"""Shipped deploy files stay valid: the example NameNode config loads as it is, the
systemd units run the daemons (compose, Kubernetes and Docker: test_deploy_manifests.py;
Prometheus and Grafana: test_monitoring_files.py)."""

from pathlib import Path

from ha_namenode.config import NameNodeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_namenode_config_loads():
    config = NameNodeConfig.load(DEPLOY / "config" / "namenode.toml", env={})
    assert config.namespace.superuser == "hafs"
    assert config.users["alice"] == ("ml", "users")


def test_systemd_unit_runs_the_module():
    unit = (DEPLOY / "systemd" / "hafs-namenode@.service").read_text()
    assert "-m ha_namenode --config /etc/hafs/%i.toml" in unit
    assert "KillSignal=SIGTERM" in unit


def test_systemd_datanode_unit_runs_the_module():
    unit = (DEPLOY / "systemd" / "hafs-datanode@.service").read_text()
    assert "-m datanode --config /etc/hafs/%i.toml" in unit
    assert "KillSignal=SIGTERM" in unit
    assert "User=hafs" in unit
