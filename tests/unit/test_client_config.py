"""Client config: loading, layering of the user, and errors that name the bad key."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from client import config as cfg
from client.config import ClientConfig, ConfigError

GOOD = """
default_nameservice = "ns1"
[nameservices.ns1]
namenodes = ["127.0.0.1:8020", "127.0.0.1:8021"]
[nameservices.ns2]
namenodes = ["10.0.0.5:8020"]
[client]
user = "alice"
umask = "027"
replication = 2
block_size = 1048576
deadline_s = 30
attempt_timeout_s = 2.5
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(cfg.ENV_CONF, raising=False)
    monkeypatch.delenv(cfg.ENV_USER, raising=False)


def write(tmp_path, text, name="hafs.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_load_reads_every_field(tmp_path):
    conf = cfg.load(write(tmp_path, GOOD))
    assert conf.default_nameservice == "ns1"
    assert conf.nameservice().namenodes == ("127.0.0.1:8020", "127.0.0.1:8021")
    assert conf.nameservice("ns2").namenodes == ("10.0.0.5:8020",)
    assert conf.client == cfg.ClientSettings(
        user="alice",
        umask=0o027,
        replication=2,
        block_size=1048576,
        deadline_s=30.0,
        attempt_timeout_s=2.5,
    )
    assert conf.source == tmp_path / "hafs.toml"


def test_defaults_fill_what_the_file_leaves_out(tmp_path, monkeypatch):
    monkeypatch.setattr(cfg.getpass, "getuser", lambda: "loginname")
    conf = cfg.load(write(tmp_path, '[nameservices.only]\nnamenodes = ["h:1"]\n'))
    assert conf.default_nameservice == "only"  # the single nameservice
    assert conf.client == cfg.ClientSettings(user="loginname")
    assert (conf.client.umask, conf.client.deadline_s) == (0o022, 60.0)


def test_user_comes_from_file_then_env_then_login(tmp_path, monkeypatch):
    monkeypatch.setattr(cfg.getpass, "getuser", lambda: "loginname")
    bare = write(tmp_path, '[nameservices.ns1]\nnamenodes = ["h:1"]\n', "bare.toml")
    assert cfg.load(bare).client.user == "loginname"
    monkeypatch.setenv(cfg.ENV_USER, "envuser")
    assert cfg.load(bare).client.user == "envuser"
    assert cfg.load(write(tmp_path, GOOD)).client.user == "alice"
    assert cfg.load(bare).with_user("bob").client.user == "bob"
    assert cfg.load(bare).with_user(None).client.user == "envuser"


def test_env_var_is_used_and_an_explicit_path_wins(tmp_path, monkeypatch):
    from_env = write(tmp_path, '[nameservices.envns]\nnamenodes = ["h:1"]\n', "env.toml")
    explicit = write(tmp_path, GOOD)
    monkeypatch.setenv(cfg.ENV_CONF, str(from_env))
    assert cfg.load().default_nameservice == "envns"
    assert cfg.load(explicit).default_nameservice == "ns1"


def test_no_config_at_all_says_how_to_give_one():
    with pytest.raises(ConfigError, match=r"pass --conf FILE or set \$HAFS_CONF"):
        cfg.load()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "client configuration file not found"),
        ("[nameservices.ns1\n", "not valid TOML"),
    ],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "conf.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        cfg.load(path)
    assert str(path) in str(info.value)


BASE = '[nameservices.ns1]\nnamenodes = ["127.0.0.1:8020"]\n'


@pytest.mark.parametrize(
    "text, message",
    [
        (BASE + '[client]\numask = "x"\n', "client.umask: expected octal like \"022\", got 'x'"),
        (BASE + "[client]\numask = 22\n", 'client.umask: expected octal like "022", got 22'),
        (BASE + '[client]\numask = "1777"\n', "client.umask: expected octal"),
        (
            BASE + "[client]\ndeadline_s = 0\n",
            "client.deadline_s: expected a number of seconds > 0",
        ),
        (BASE + "[client]\ndeadline_s = true\n", "client.deadline_s"),
        (BASE + "[client]\nreplication = -1\n", "client.replication: expected an integer >= 0"),
        (BASE + '[client]\nblock_size = "big"\n', "client.block_size: expected an integer >= 0"),
        (BASE + '[client]\nuser = ""\n', "client.user: expected a user name"),
        (BASE + "[client]\numsk = 1\n", "client.umsk: unknown key"),
        (BASE + 'color = "red"\n', "color: unknown key"),
        (BASE + '[nameservices.ns2]\nnamenodes = ["h:1"]\nextra = 1\n', "nameservices.ns2.extra"),
        (
            "[nameservices.ns1]\nnamenodes = []\n",
            "nameservices.ns1.namenodes: expected a non-empty",
        ),
        (
            '[nameservices.ns1]\nnamenodes = ["localhost"]\n',
            "nameservices.ns1.namenodes: expected \"host:port\", got 'localhost'",
        ),
        ('[nameservices.ns1]\nnamenodes = ["h:99999"]\n', "nameservices.ns1.namenodes"),
        ('[nameservices.ns1]\nnamenodes = ["h:1", "h:1"]\n', "duplicate address"),
        ("x = 1\n", "x: unknown key"),
        ("", "nameservices: expected at least one"),
        ('default_nameservice = "nsX"\n' + BASE, "default_nameservice: 'nsX' is not a configured"),
        (BASE + '[nameservices.ns2]\nnamenodes = ["h:1"]\n', "default_nameservice: required"),
    ],
)
def test_validation_errors_name_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))
    assert isinstance(info.value, ValueError)


def test_from_addresses_builds_one_nameservice():
    conf = cfg.from_addresses(["127.0.0.1:1", "127.0.0.1:2"], user="carol")
    assert conf.nameservices == (cfg.NameserviceConfig("ns1", ("127.0.0.1:1", "127.0.0.1:2")),)
    assert conf.client.user == "carol"
    assert cfg.from_addresses("127.0.0.1:3").nameservice().namenodes == ("127.0.0.1:3",)
    with pytest.raises(ConfigError, match=r"nameservices\.ns1\.namenodes"):
        cfg.from_addresses(["nope"])


def test_unknown_nameservice_lists_the_known_ones():
    conf = cfg.from_addresses(["127.0.0.1:1"])
    with pytest.raises(ConfigError, match=r"unknown nameservice 'ns9' \(configured: ns1\)"):
        conf.nameservice("ns9")


def test_config_values_are_frozen():
    conf = cfg.from_addresses(["127.0.0.1:1"], user="dave")
    assert isinstance(conf, ClientConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        conf.client.umask = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        conf.default_nameservice = "x"  # type: ignore[misc]
