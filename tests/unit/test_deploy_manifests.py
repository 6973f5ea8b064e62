"""The compose, Kubernetes and Docker files: valid against their schemas (check-jsonschema's
vendored compose-spec, kubernetes-validate's Kubernetes schemas, both offline), and
consistent with each other and with the daemons' own config loaders.

Docker and a Kubernetes API server are not available here, so nothing is started;
docs/operations.md ("Deploying") lists what was and was not run."""

from __future__ import annotations

import importlib.util
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from client import config as client_config
from datanode.config import DataNodeConfig
from ha_namenode.config import NameNodeConfig
from hafs_api.readiness import READY_SERVICE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.py"
K8S_VERSION = "1.30.0"  # the oldest release the manifests promise (gRPC probes are GA in 1.27)

_spec = importlib.util.spec_from_file_location("hafs_entrypoint", ENTRYPOINT)
assert _spec and _spec.loader
entrypoint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(entrypoint)

FAKE_SECRETS = {"raft_password": "raft-secret-0", "block_token_secret": "token-secret-0"}


def load_yaml_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def load_daemon_config(config_cls: type, text: str, env: dict[str, str], tmp_path: Path):
    """``text`` (a config with its ${...} already filled) loaded by the daemon's loader
    with ``env``'s overrides, as the entry point hands it over. Every shipped daemon
    config serves metrics."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    overrides = {k: v for k, v in env.items() if k.startswith("HAFS__")}
    entrypoint.quote_secrets(overrides)
    config = config_cls.load(path, env=overrides)
    assert config.metrics.address == tomllib.loads(text)["metrics"]["address"]
    return config


def metrics_port(text: str) -> int:
    return int(tomllib.loads(text)["metrics"]["address"].rpartition(":")[2])


# -- the entry point ----------------------------------------------------------------


def test_secret_files_become_variables(tmp_path):
    (tmp_path / "pw").write_text("hunter2\n")
    env = {"HAFS__RAFT__PASSWORD_FILE": str(tmp_path / "pw"), "OTHER_FILE": "/nope"}
    entrypoint.resolve_secret_files(env)
    assert env == {"HAFS__RAFT__PASSWORD": "hunter2", "OTHER_FILE": "/nope"}


def test_an_unreadable_secret_file_names_the_variable(tmp_path):
    with pytest.raises(entrypoint.EntrypointError, match="HAFS_X_FILE"):
        entrypoint.resolve_secret_files({"HAFS_X_FILE": str(tmp_path / "missing")})


def test_secrets_pass_as_toml_strings():
    env = {"HAFS__RAFT__PASSWORD": "1234", "HAFS__BLOCKS__TOKEN_SECRET": 'a"b', "HAFS__X__Y": "7"}
    entrypoint.quote_secrets(env)
    assert env == {
        "HAFS__RAFT__PASSWORD": '"1234"',
        "HAFS__BLOCKS__TOKEN_SECRET": '"a\\"b"',
        "HAFS__X__Y": "7",
    }


def test_render_fills_and_escapes_placeholders():
    text = 'a = "${A}"\nb = "$B and ${C}"\n'
    out = entrypoint.render(text, {"A": 'q"\\\n', "C": "c"})
    assert tomllib.loads(out) == {"a": 'q"\\\n', "b": "$B and c"}


def test_render_names_missing_variables():
    with pytest.raises(entrypoint.EntrypointError, match="A, B: set it or A_FILE"):
        entrypoint.render("${B} ${A}", {})


def test_config_argument_and_runtime_file(tmp_path):
    source = tmp_path / "in.toml"
    source.write_text('x = "${V}"\n')
    env = {"V": "v", "HAFS_RUNTIME_DIR": str(tmp_path / "run")}
    argv = entrypoint.daemon_argv(
        "datanode", ["--config", str(source), "--log-level", "DEBUG"], env
    )
    runtime = tmp_path / "run" / "hafs.toml"
    assert argv == [
        sys.executable,
        "-m",
        "datanode",
        "--config",
        str(runtime),
        "--log-level",
        "DEBUG",
    ]
    assert runtime.read_text() == 'x = "v"\n'
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o600
    assert entrypoint.split_config(["--config=/a"], {})[0] == "/a"
    assert entrypoint.split_config([], {"HAFS_CONFIG": "/b"})[0] == "/b"
    assert entrypoint.split_config([], {})[0] == "/etc/hafs/hafs.toml"


def test_probe_address_follows_overrides_and_wildcards(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[namenode]\nrpc_address = "0.0.0.0:8020"\n')
    env = {"HAFS_CONFIG": str(config), "HAFS_RUNTIME_DIR": str(tmp_path / "none")}
    assert entrypoint.rpc_address(env) == ("namenode", "127.0.0.1:8020")
    env["HAFS__NAMENODE__RPC_ADDRESS"] = "nn1:9000"
    assert entrypoint.rpc_address(env) == ("namenode", "nn1:9000")
    config.write_text('[datanode]\nrpc_address = "dn1:9866"\n')
    assert entrypoint.rpc_address(env) == ("datanode", "dn1:9866")


# -- Dockerfile ---------------------------------------------------------------------


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert 'ENTRYPOINT ["hafs-entrypoint"]' in text
    assert re.search(r'^HEALTHCHECK .*\n\s+CMD \["hafs-entrypoint", "health"', text, re.M)
    assert "COPY deploy/docker/entrypoint.py /usr/local/bin/hafs-entrypoint" in text
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in text, f"the image misses {package}"
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert "deploy" not in ignored and "README.md" not in ignored  # COPY needs them


# -- compose ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())


@pytest.mark.skipif(not has_module("check_jsonschema"), reason="check-jsonschema not installed")
def test_compose_file_matches_the_compose_spec():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_cluster(compose):
    services = compose["services"]
    assert {"nn1", "nn2", "nn3", "dn1", "dn2", "dn3", "prometheus", "grafana"} <= set(services)
    for name in ("nn1", "nn2", "nn3", "dn1", "dn2", "dn3"):
        service = services[name]
        assert service["build"]["context"] == "../.."
        assert (COMPOSE / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"] == ["namenode" if name.startswith("nn") else "datanode"]
        assert "./config:/etc/hafs:ro" in service["volumes"]
        assert any(v.startswith(f"{name}-data:") for v in service["volumes"])
        for secret in service["secrets"]:
            assert secret in compose["secrets"]
        for key, value in service["environment"].items():
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/")
                assert value.rpartition("/")[2] in service["secrets"]
    for published in services["prometheus"]["ports"] + services["grafana"]["ports"]:
        assert published.startswith("127.0.0.1:"), "monitoring must not listen on every interface"


def test_compose_holds_no_secret():
    for path in [COMPOSE / "docker-compose.yml", *sorted((COMPOSE / "config").glob("*.toml"))]:
        for key, value in re.findall(
            r"^\s*(\w*(?:password|secret)\w*)\s*=\s*(.+)$", path.read_text(), re.M
        ):
            assert re.fullmatch(r'"\$\{\w+\}"', value.strip()), f"{path.name}: {key} = {value}"
    assert (COMPOSE / ".gitignore").read_text().split() == ["secrets/"]


@pytest.mark.parametrize("name", ["nn1", "nn2", "nn3"])
def test_compose_namenode_config_loads(compose, name, tmp_path):
    service = compose["services"][name]
    env = secret_env(service["environment"])
    text = entrypoint.render((COMPOSE / "config" / "namenode.toml").read_text(), env)
    config = load_daemon_config(NameNodeConfig, text, env, tmp_path)
    assert config.namenode.id == name
    assert config.members[name].rpc_address == config.namenode.rpc_address == f"{name}:8020"
    assert sorted(config.members) == ["nn1", "nn2", "nn3"]
    assert config.raft.password == FAKE_SECRETS["raft_password"]
    assert config.blocks.token_secret == FAKE_SECRETS["block_token_secret"]


@pytest.mark.parametrize("name", ["dn1", "dn2", "dn3"])
def test_compose_datanode_config_loads(compose, name, tmp_path):
    service = compose["services"][name]
    env = secret_env(service["environment"])
    text = entrypoint.render((COMPOSE / "config" / "datanode.toml").read_text(), env)
    config = load_daemon_config(DataNodeConfig, text, env, tmp_path)
    assert config.datanode.rpc_address == f"{name}:9866"
    namenodes = tomllib.loads((COMPOSE / "config" / "namenode.toml").read_text())["members"]
    assert list(config.nameservices["ns1"].namenodes) == [
        m["rpc_address"] for m in namenodes.values()
    ]
    assert config.nameservices["ns1"].block_token_secret == FAKE_SECRETS["block_token_secret"]


def secret_env(environment: dict[str, str]) -> dict[str, str]:
    """A compose service's environment with each ``*_FILE`` secret read from a fake."""
    env = {}
    for key, value in environment.items():
        if key.endswith("_FILE"):
            env[key.removesuffix("_FILE")] = FAKE_SECRETS[value.rpartition("/")[2]]
        else:
            env[key] = str(value)
    return env


def test_compose_client_config_names_the_namenodes():
    client = client_config.load(COMPOSE / "config" / "client.toml")
    assert client.nameservice("ns1").namenodes == ("nn1:8020", "nn2:8020", "nn3:8020")


def test_prometheus_scrapes_what_compose_runs(compose):
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
        for job in prometheus["scrape_configs"]
    }
    nn_port = metrics_port((COMPOSE / "config" / "namenode.toml").read_text())
    dn_port = metrics_port((COMPOSE / "config" / "datanode.toml").read_text())
    assert targets["hafs-namenode"] == [f"nn{i}:{nn_port}" for i in (1, 2, 3)]
    assert targets["hafs-datanode"] == [f"dn{i}:{dn_port}" for i in (1, 2, 3)]
    assert "../prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    grafana = compose["services"]["grafana"]["volumes"]
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "../grafana/dashboards:/var/lib/grafana/dashboards/hafs:ro" in grafana


def test_make_secrets_script(tmp_path):
    copy = tmp_path / "compose"
    copy.mkdir()
    shutil.copy(COMPOSE / "make-secrets.sh", copy)
    runs = []
    for _ in range(2):  # the second run keeps the first run's values
        subprocess.run(["sh", str(copy / "make-secrets.sh")], check=True, capture_output=True)
        runs.append({p.name: p.read_text() for p in (copy / "secrets").iterdir()})
    assert set(runs[0]) == {"raft_password", "block_token_secret", "grafana_admin_password"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in runs[0].values())
    assert runs[1] == runs[0]
    assert stat.S_IMODE((copy / "secrets").stat().st_mode) == 0o700


# -- Kubernetes ---------------------------------------------------------------------

MANIFESTS = [
    "namespace.yaml",
    "configmap.yaml",
    "secret.example.yaml",
    "namenode.yaml",
    "datanode.yaml",
]


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object, over every manifest."""
    objects = {}
    for name in MANIFESTS:
        for doc in load_yaml_all(K8S / name):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, key
            objects[key] = doc
    return objects


@pytest.mark.skipif(
    not has_module("kubernetes_validate"), reason="kubernetes-validate not installed"
)
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_matches_the_kubernetes_schema(name):
    import kubernetes_validate

    for doc in load_yaml_all(K8S / name):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(set(MANIFESTS) - {"secret.example.yaml"})
    assert {p.name for p in K8S.glob("*.yaml")} == {*MANIFESTS, "kustomization.yaml"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds():
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc]
    assert kinds.count("StatefulSet") == 2


def container(statefulset: dict[str, Any]) -> dict[str, Any]:
    (c,) = statefulset["spec"]["template"]["spec"]["containers"]
    return c


def test_namenode_statefulset(k8s):
    sts = k8s[("StatefulSet", "hafs-nn")]
    spec = sts["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"  # a lone pod can never become ready
    service = k8s[("Service", spec["serviceName"])]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    pdb = k8s[("PodDisruptionBudget", "hafs-nn")]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == labels
    c = container(sts)
    assert c["args"] == ["namenode"]
    assert c["livenessProbe"]["grpc"]["port"] == 8020
    assert c["startupProbe"]["grpc"]["port"] == 8020
    assert c["readinessProbe"]["grpc"] == {"port": 8020, "service": READY_SERVICE}
    assert "service" not in c["livenessProbe"]["grpc"]  # liveness: "" (the process serves)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_datanode_statefulset(k8s):
    sts = k8s[("StatefulSet", "hafs-dn")]
    spec = sts["spec"]
    assert spec["replicas"] == 3
    assert k8s[("Service", spec["serviceName"])]["spec"]["clusterIP"] == "None"
    assert k8s[("PodDisruptionBudget", "hafs-dn")]["spec"]["maxUnavailable"] == 1
    c = container(sts)
    assert c["args"] == ["datanode"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["livenessProbe"]["grpc"]["port"] == ports["transfer"]
    assert c["readinessProbe"]["grpc"] == {"port": ports["transfer"], "service": READY_SERVICE}
    assert "service" not in c["livenessProbe"]["grpc"]
    annotations = spec["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/hafs"


def pod_env(sts: dict[str, Any], ordinal: int, secret: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives pod ``ordinal``: fieldRefs, secretKeyRefs and
    $(VAR) references resolved."""
    pod = f"{sts['metadata']['name']}-{ordinal}"
    env: dict[str, str] = {}
    for var in container(sts)["env"]:
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], var["value"])
        elif "fieldRef" in var["valueFrom"]:
            assert var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            env[var["name"]] = pod
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[var["name"]] = FAKE_SECRETS[ref["key"].replace("-", "_")]
    return env


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_k8s_namenode_config_loads(k8s, ordinal, tmp_path):
    sts = k8s[("StatefulSet", "hafs-nn")]
    env = pod_env(sts, ordinal, k8s[("Secret", "hafs-secrets")])
    source = k8s[("ConfigMap", "hafs-config")]["data"][Path(env["HAFS_CONFIG"]).name]
    config = load_daemon_config(NameNodeConfig, entrypoint.render(source, env), env, tmp_path)
    pod = f"hafs-nn-{ordinal}"
    fqdn = f"{pod}.{sts['spec']['serviceName']}.{sts['metadata']['namespace']}.svc.cluster.local"
    assert config.namenode.id == pod
    assert config.namenode.rpc_address == config.members[pod].rpc_address == f"{fqdn}:8020"
    assert config.members[pod].raft_address == f"{fqdn}:8021"
    assert sorted(config.members) == [f"hafs-nn-{i}" for i in range(sts["spec"]["replicas"])]
    assert config.raft.password == FAKE_SECRETS["raft_password"]
    assert metrics_port(source) == int(
        sts["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
    )


@pytest.mark.parametrize("ordinal", [0, 2])
def test_k8s_datanode_config_loads(k8s, ordinal, tmp_path):
    sts = k8s[("StatefulSet", "hafs-dn")]
    env = pod_env(sts, ordinal, k8s[("Secret", "hafs-secrets")])
    source = k8s[("ConfigMap", "hafs-config")]["data"][Path(env["HAFS_CONFIG"]).name]
    config = load_daemon_config(DataNodeConfig, entrypoint.render(source, env), env, tmp_path)
    assert config.datanode.rpc_address == f"hafs-dn-{ordinal}.hafs-dn.hafs.svc.cluster.local:9866"
    nn_source = k8s[("ConfigMap", "hafs-config")]["data"]["namenode.toml"]
    members = tomllib.loads(nn_source)["members"]
    assert list(config.nameservices["ns1"].namenodes) == [
        m["rpc_address"] for m in members.values()
    ]
    assert config.nameservices["ns1"].block_token_secret == FAKE_SECRETS["block_token_secret"]
    client = tomllib.loads(k8s[("ConfigMap", "hafs-config")]["data"]["client.toml"])
    assert client["nameservices"]["ns1"]["namenodes"] == list(config.nameservices["ns1"].namenodes)


def test_the_secret_template_holds_only_placeholders(k8s):
    values = k8s[("Secret", "hafs-secrets")]["stringData"]
    assert set(values) == {"raft-password", "block-token-secret"}
    assert all(v == "REPLACE-WITH-A-RANDOM-SECRET" for v in values.values())
