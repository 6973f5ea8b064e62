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
