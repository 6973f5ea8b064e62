"""DataNode configuration: defaults, a full file, the environment, errors that name the key."""

import pytest

from datanode.config import ConfigError, DataNodeConfig

MINIMAL = '[nameservices.ns1]\nnamenodes = ["127.0.0.1:8020"]\nblock_token_secret = "s3"\n'


def write(tmp_path, text):
    path = tmp_path / "dn.toml"
    path.write_text(text)
    return path


def test_defaults(tmp_path):
    config = DataNodeConfig.load(write(tmp_path, MINIMAL), env={})
    node = config.datanode
    assert node.rpc_address == "127.0.0.1:9866"
    assert node.data_dirs == ("./data/dn1",)
    assert node.rack == "/default-rack"
    assert (node.capacity_bytes, node.reserved_bytes) == (0, 0)
    assert node.heartbeat_interval_s == 1.0
    assert node.full_report_interval_s == 3600.0
    assert node.max_transfers == 4
    assert node.scan_period_s == 86400.0
    assert node.scan_bytes_per_s == 8 * 1024 * 1024
    assert node.rpc_workers == 32
    assert node.packet_bytes == 1024 * 1024
    ns = config.nameservices["ns1"]
    assert ns.namenodes == ("127.0.0.1:8020",)
    assert ns.token_key == b"s3"


def test_a_full_file(tmp_path):
    text = """
[datanode]
rpc_address = "127.0.0.1:0"
data_dirs = ["/d/a", "/d/b"]
rack = "/r2"
capacity_bytes = 1000000
reserved_bytes = 1000
heartbeat_interval_s = 0.5
full_report_interval_s = 60
max_transfers = 2
scan_period_s = 10
scan_bytes_per_s = 1024
rpc_workers = 8
packet_bytes = 65536

[nameservices.ns1]
namenodes = ["127.0.0.1:8020", "127.0.0.1:8021", "127.0.0.1:8022"]
block_token_secret = "one"

[nameservices.ns2]
namenodes = ["127.0.0.1:9020"]
block_token_secret = "two"
"""
    config = DataNodeConfig.load(write(tmp_path, text), env={})
    node = config.datanode
    assert node.rpc_address == "127.0.0.1:0"
    assert node.data_dirs == ("/d/a", "/d/b")
    assert node.rack == "/r2"
    assert (node.capacity_bytes, node.reserved_bytes) == (1_000_000, 1000)
    assert node.heartbeat_interval_s == 0.5
    assert node.full_report_interval_s == 60.0  # an int where a float is wanted is fine
    assert (node.max_transfers, node.rpc_workers, node.packet_bytes) == (2, 8, 65536)
    assert (node.scan_period_s, node.scan_bytes_per_s) == (10.0, 1024)
    assert sorted(config.nameservices) == ["ns1", "ns2"]
    assert len(config.nameservices["ns1"].namenodes) == 3
    assert config.nameservices["ns2"].token_key == b"two"


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, '[datanode]\nrack = "/r1"\n' + MINIMAL)
    env = {
        "HAFS__DATANODE__RACK": "/r9",
        "HAFS__DATANODE__DATA_DIRS": '["/x", "/y"]',
        "HAFS__DATANODE__MAX_TRANSFERS": "7",
    }
    config = DataNodeConfig.load(path, env=env)
    assert config.datanode.rack == "/r9"
    assert config.datanode.data_dirs == ("/x", "/y")
    assert config.datanode.max_transfers == 7


def test_a_nameservice_secret_comes_from_the_environment(tmp_path):
    """HAFS__NAMESERVICES__NS__KEY reaches [nameservices.NS] (the systemd EnvironmentFile
    way to keep secrets out of the config), whatever the case of NS in the file."""
    text = '[nameservices.Prod]\nnamenodes = ["127.0.0.1:8020"]\n'
    env = {
        "HAFS__NAMESERVICES__PROD__BLOCK_TOKEN_SECRET": '"0123"',
        "HAFS__NAMESERVICES__NS2__NAMENODES": '["127.0.0.1:9020"]',
        "HAFS__NAMESERVICES__NS2__BLOCK_TOKEN_SECRET": "two",
    }
    config = DataNodeConfig.load(write(tmp_path, text), env=env)
    assert config.nameservices["Prod"].token_key == b"0123"
    assert config.nameservices["ns2"].namenodes == ("127.0.0.1:9020",)
    with pytest.raises(ConfigError, match="HAFS__NAMESERVICES"):
        DataNodeConfig.load(write(tmp_path, MINIMAL), env={"HAFS__NAMESERVICES": "x"})
    with pytest.raises(ConfigError, match=r"datanode\.rack is not a table"):
        DataNodeConfig.load(
            write(tmp_path, '[datanode]\nrack = "/r1"\n' + MINIMAL),
            env={"HAFS__DATANODE__RACK__X": "1"},
        )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[datanode]\nrpc_adress = "x"\n' + MINIMAL, "datanode.rpc_adress: unknown key"),
        ('[datanode]\nrpc_address = "nohost"\n' + MINIMAL, "datanode.rpc_address"),
        ('[datanode]\nrpc_address = "h:99999"\n' + MINIMAL, "datanode.rpc_address"),
        ('[datanode]\nmax_transfers = "many"\n' + MINIMAL, "datanode.max_transfers: expected int"),
        ("[datanode]\nheartbeat_interval_s = true\n" + MINIMAL, "datanode.heartbeat_interval_s"),
        ('[datanode]\ndata_dirs = "/one"\n' + MINIMAL, "datanode.data_dirs: expected tuple"),
        ("[datanode]\ndata_dirs = [1]\n" + MINIMAL, "data_dirs: expected a list of strings"),
        ("[datanode]\ndata_dirs = []\n" + MINIMAL, "datanode.data_dirs"),
        ("[datanode]\nheartbeat_interval_s = 0\n" + MINIMAL, "datanode.heartbeat_interval_s"),
        ("[datanode]\nmax_transfers = 0\n" + MINIMAL, "datanode.max_transfers"),
        ("[datanode]\ncapacity_bytes = -1\n" + MINIMAL, "datanode.capacity_bytes"),
        ("[datanode]\npacket_bytes = 10\n" + MINIMAL, "datanode.packet_bytes"),
        ('[datanode]\nrack = "norack"\n' + MINIMAL, "datanode.rack"),
        ('[datanode]\nrack = "/r"\n', "nameservices: configure at least one"),
        ("[extra]\nx = 1\n" + MINIMAL, "extra: unknown section"),
        ('[nameservices.ns1]\nblock_token_secret = "s"\n', "nameservices.ns1.namenodes"),
        (
            '[nameservices.ns1]\nnamenodes = ["bad"]\nblock_token_secret = "s"\n',
            "nameservices.ns1.namenodes",
        ),
        (
            '[nameservices.ns1]\nnamenodes = ["127.0.0.1:1"]\n',
            "nameservices.ns1.block_token_secret",
        ),
        (
            '[nameservices.ns1]\nnamenodes = ["127.0.0.1:1"]\nsecret = "s"\n',
            "nameservices.ns1.secret: unknown key",
        ),
    ],
)
def test_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("*", r"\*")):
        DataNodeConfig.load(write(tmp_path, text), env={})


def test_a_bad_environment_value_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"datanode\.rpc_workers: expected int"):
        DataNodeConfig.load(write(tmp_path, MINIMAL), env={"HAFS__DATANODE__RPC_WORKERS": "lots"})


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        DataNodeConfig.load(tmp_path / "nope.toml", env={})
