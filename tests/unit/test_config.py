"""NameNode configuration: layering and errors that name the bad key."""

import pytest

from ha_namenode.config import ConfigError, NameNodeConfig


def write(tmp_path, text):
    path = tmp_path / "nn.toml"
    path.write_text(text)
    return path


def test_defaults_file_then_environment(tmp_path):
    path = write(
        tmp_path,
        '[namenode]\nid = "nn7"\nrpc_address = "127.0.0.1:9000"\n'
        '[namespace]\ndefault_replication = 2\n[users]\nalice = ["ml"]\n',
    )
    config = NameNodeConfig.load(
        path,
        env={
            "HAFS__NAMESPACE__TRASH_INTERVAL_S": "0",
            "HAFS__NAMENODE__RPC_ADDRESS": "127.0.0.1:9001",
        },
    )
    assert config.namenode.id == "nn7"
    assert config.namenode.rpc_address == "127.0.0.1:9001"
    assert config.namespace.default_replication == 2
    assert config.namespace.trash_interval_s == 0.0
    assert config.namespace.lease_soft_limit_s == 60.0
    assert config.users == {"alice": ("ml",)}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[namenode]\nrpc_adress = "x"\n', "namenode.rpc_adress: unknown key"),
        ('[namenode]\nrpc_address = "nohost"\n', "namenode.rpc_address"),
        ('[namenode]\nrpc_workers = "many"\n', "namenode.rpc_workers: expected int"),
        ("[namenode]\nrpc_workers = true\n", "namenode.rpc_workers: expected int"),
        ('[namenode]\nsqlite_synchronous = "SOMETIMES"\n', "namenode.sqlite_synchronous"),
        ("[namespace]\ndefault_replication = 0\n", "namespace.default_replication"),
        ("[namespace]\ndefault_block_size = 1000\n", "namespace.default_block_size"),
        ("[namespace]\nlease_hard_limit_s = 10\n", "namespace.lease_hard_limit_s"),
        ("[namespace]\ntrash_interval_s = -1\n", "namespace.trash_interval_s"),
        ("[namespace]\nmax_xattr_size = 0\n", "namespace.max_xattr_size"),
        ("[namespace]\nmax_xattr_size = 40000\n", "namespace.max_xattr_size"),
        ("[namespace]\nmax_xattrs_per_inode = -1\n", "namespace.max_xattrs_per_inode"),
        ("[blocks]\nmaintenance_min_replicas = 0\n", "blocks.maintenance_min_replicas"),
        ("[blocks]\nmaintenance_min_replicas = 4\n", "blocks.maintenance_min_replicas"),
        ("[blocks]\nbalancer_bandwidth_bytes_per_s = 0\n", "blocks.balancer_bandwidth"),
        ("[blocks]\nbalancer_max_concurrent_moves = 0\n", "blocks.balancer_max_concurrent"),
        ("[nmespace]\n", "nmespace: unknown section"),
        ('[users]\nalice = "ml"\n', "users.alice"),
        ("[namenode\n", "not valid TOML"),
    ],
)
def test_errors_name_the_bad_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[")):
        NameNodeConfig.load(write(tmp_path, text), env={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        NameNodeConfig.load(tmp_path / "absent.toml", env={})


def test_bad_environment_key():
    with pytest.raises(ConfigError, match="HAFS__NAMENODE"):
        NameNodeConfig.load(None, env={"HAFS__NAMENODE": "x"})


# ---- [federation] ------------------------------------------------------------------

FEDERATED = """
[namenode]
nameservice = "ns2"
[federation]
default_nameservice = "ns1"
push_interval_s = 2
[federation.nameservices.ns1]
namenodes = ["127.0.0.1:8020", "127.0.0.1:8021"]
[federation.nameservices.ns2]
namenodes = ["127.0.0.1:9020"]
"""


def test_federation_section(tmp_path):
    config = NameNodeConfig.load(write(tmp_path, FEDERATED), env={})
    fed = config.federation
    assert fed.enabled and fed.default_nameservice == "ns1"
    assert fed.nameservices["ns1"].namenodes == ("127.0.0.1:8020", "127.0.0.1:8021")
    assert sorted(fed.nameservices) == ["ns1", "ns2"]
    assert fed.push_interval_s == 2.0 and fed.rpc_timeout_s == 2.0


def test_no_federation_section_means_a_single_nameservice(tmp_path):
    config = NameNodeConfig.load(write(tmp_path, "[namenode]\nid = 'nn1'\n"), env={})
    assert not config.federation.enabled and config.federation.nameservices == {}


def test_the_default_nameservice_from_the_environment(tmp_path):
    text = FEDERATED.replace('default_nameservice = "ns1"\n', "")
    env = {"HAFS__FEDERATION__DEFAULT_NAMESERVICE": "ns2"}
    config = NameNodeConfig.load(write(tmp_path, text), env=env)
    assert config.federation.default_nameservice == "ns2"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('default_nameservice = "ns1"', 'default_nameservice = "ns9"'), "not among"),
        (('default_nameservice = "ns1"', ""), "federation.default_nameservice: required"),
        (('nameservice = "ns2"', 'nameservice = "ns3"'), "this NameNode's nameservice 'ns3'"),
        (('["127.0.0.1:9020"]', "[]"), "federation.nameservices.ns2.namenodes: list"),
        (('["127.0.0.1:9020"]', '["nohost"]'), "federation.nameservices.ns2.namenodes"),
        (('["127.0.0.1:9020"]', "[7]"), "federation.nameservices.ns2.namenodes"),
        (('["127.0.0.1:9020"]', '"127.0.0.1:9020"'), "namenodes: expected tuple"),
        (("push_interval_s = 2", "push_interval_s = 0"), "federation.push_interval_s"),
        (("push_interval_s = 2", "rpc_timeout_s = -1"), "federation.rpc_timeout_s"),
        (("push_interval_s = 2", "push_every = 2"), "federation.push_every: unknown key"),
        (("[federation.nameservices.ns2]", "[federation.nameservices.ns2]\nx = 1"), "ns2.x"),
        (
            (
                "[federation.nameservices.ns1]",
                '[federation.nameservices."n s"]\nnamenodes = ["h:1"]'
                "\n[federation.nameservices.ns1]",
            ),
            "federation.nameservices.n s",
        ),
    ],
)
def test_federation_errors_name_the_key(tmp_path, change, key):
    text = FEDERATED.replace(*change)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[")):
        NameNodeConfig.load(write(tmp_path, text), env={})


def test_nameservices_as_a_value_not_a_table(tmp_path):
    text = '[federation]\ndefault_nameservice = "ns1"\nnameservices = 3\n'
    with pytest.raises(ConfigError, match=r"federation\.nameservices: expected"):
        NameNodeConfig.load(write(tmp_path, text), env={})
