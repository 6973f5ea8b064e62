"""Logical cluster names (clusters.toml) and how ``hafs://HOST/`` URLs resolve; no network."""

from __future__ import annotations

import pickle
import textwrap

import pytest

from client import config as cfg
from client.config import ConfigError

REGISTRY = """
[prod]
default_nameservice = "ns2"
[prod.nameservices.ns1]
namenodes = ["10.0.0.1:8020", "10.0.0.2:8020"]
[prod.nameservices.ns2]
namenodes = ["10.0.1.1:8020"]
[prod.client]
user = "alice"

[dev.nameservices.ns1]
namenodes = ["127.0.0.1:8020"]
"""
ENV_CONF = """
default_nameservice = "main"
[nameservices.main]
namenodes = ["192.168.0.1:8020"]
[nameservices.archive]
namenodes = ["192.168.0.2:8020"]
"""


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """An empty home, no $XDG_CONFIG_HOME, no $HAFS_CONF, and a scratch working directory."""
    for name in (cfg.ENV_CONF, cfg.ENV_USER, cfg.ENV_XDG_CONFIG_HOME):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "home"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def registry(home):
    return write(home / ".config" / "hafs" / "clusters.toml", REGISTRY)


def test_a_cluster_name_loads_its_table(registry):
    conf = cfg.load("prod")
    assert conf.default_nameservice == "ns2"
    assert conf.nameservice("ns1").namenodes == ("10.0.0.1:8020", "10.0.0.2:8020")
    assert conf.client.user == "alice"
    assert conf.source == registry
    assert cfg.load("dev").nameservice().namenodes == ("127.0.0.1:8020",)
    assert cfg.cluster_names() == ["prod", "dev"]


def test_xdg_config_home_is_honoured_and_a_relative_one_ignored(tmp_path, home, monkeypatch):
    xdg = write(tmp_path / "xdg" / "hafs" / "clusters.toml", REGISTRY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cfg.clusters_file() == xdg
    assert cfg.load("dev").source == xdg
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the XDG spec: ignore it
    assert cfg.clusters_file() == home / ".config" / "hafs" / "clusters.toml"


def test_hafs_conf_and_client_from_config_take_a_cluster_name(registry, monkeypatch):
    monkeypatch.setenv(cfg.ENV_CONF, "dev")
    assert cfg.load().source == registry
    from client.client import Client

    with Client.from_config("prod", user="bob") as client:  # channels connect lazily
        assert (client.nameservice, client.user) == ("ns2", "bob")
        assert client.connection.addresses == ("10.0.1.1:8020",)


def test_an_unknown_cluster_names_itself_and_the_file(registry):
    with pytest.raises(ConfigError) as info:
        cfg.load("staging")
    assert "'staging'" in str(info.value) and str(registry) in str(info.value)
    with pytest.raises(ConfigError, match=r"no cluster 'staging' in .*\(clusters: prod, dev\)"):
        cfg.load_cluster("staging")


def test_no_registry_at_all(home):
    expected = home / ".config" / "hafs" / "clusters.toml"
    with pytest.raises(ConfigError, match="neither a cluster in") as info:
        cfg.load("prod")
    assert str(expected) in str(info.value)
    with pytest.raises(ConfigError, match=r"\(clusters: none\)"):
        cfg.load_cluster("prod")
    assert cfg.cluster_names() == []


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[prod.nameservices.ns1]\nnamenodes = ["nohost"]\n',
            r"prod\.nameservices\.ns1\.namenodes",
        ),
        ("[prod]\nbogus = 1\n", r"prod\.bogus: unknown key"),
        ("prod = 3\n", r"prod: expected a table \[prod\]"),
        ("[prod\n", "not valid TOML"),
    ],
)
def test_a_bad_cluster_table_names_the_file_and_the_key(home, text, message):
    registry = write(home / ".config" / "hafs" / "clusters.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        cfg.load("prod")
    assert str(registry) in str(info.value)


def test_paths_stay_paths(registry, tmp_path):
    write(tmp_path / "work" / "local", '[nameservices.here]\nnamenodes = ["h:1"]\n')
    assert cfg.load("local").default_nameservice == "here"  # not a cluster: a file
    write(tmp_path / "work" / "prod", '[nameservices.file]\nnamenodes = ["h:1"]\n')
    assert cfg.load("prod").default_nameservice == "ns2"  # a defined name wins over a file
    assert cfg.load(tmp_path / "work" / "prod").default_nameservice == "file"  # a Path: a file
    assert cfg.load("./prod").default_nameservice == "file"
    with pytest.raises(ConfigError, match="client configuration file not found"):
        cfg.load("dev.toml")  # a .toml suffix: a file, never a name


# -- hafs://HOST/ URLs ---------------------------------------------------------------


@pytest.fixture
def env_conf(tmp_path, monkeypatch):
    path = write(tmp_path / "env.toml", ENV_CONF)
    monkeypatch.setenv(cfg.ENV_CONF, str(path))
    return path


@pytest.mark.parametrize(
    "url, path, kwargs",
    [
        ("hafs://prod/data/x.parquet", "/data/x.parquet", {"host": "prod"}),
        ("hafs:///data/x", "/data/x", {}),
        ("hafs://prod", "/", {"host": "prod"}),
        ("hafs://prod/dir/", "/dir", {"host": "prod"}),
        ("/data/x/", "/data/x", {}),
        ("data/x", "/data/x", {}),
        ("", "/", {}),
    ],
)
def test_urls_split_into_host_and_path(url, path, kwargs):
    from client.filesystem import HafsFileSystem

    assert HafsFileSystem._strip_protocol(url) == path
    assert HafsFileSystem._get_kwargs_from_urls(url) == kwargs
    assert HafsFileSystem._parent("/a/b") == "/a" and HafsFileSystem._parent("/a") == "/"


@pytest.mark.parametrize(
    "host, options, nameservice, namenodes",
    [
        (None, {}, "main", ("192.168.0.1:8020",)),  # hafs:///: $HAFS_CONF's default
        ("archive", {}, "archive", ("192.168.0.2:8020",)),  # a nameservice of $HAFS_CONF
        ("prod", {}, "ns2", ("10.0.1.1:8020",)),  # a cluster: its default nameservice
        ("prod", {"nameservice": "ns1"}, "ns1", ("10.0.0.1:8020", "10.0.0.2:8020")),
        ("ns1", {"conf": "prod"}, "ns1", ("10.0.0.1:8020", "10.0.0.2:8020")),
        ("ignored", {"addresses": ["h:1", "h:2"]}, "ns1", ("h:1", "h:2")),
    ],
)
def test_url_hosts_resolve(registry, env_conf, host, options, nameservice, namenodes):
    from client.filesystem import resolve

    config, ns = resolve(host, **options)
    assert ns == nameservice
    assert config.nameservice(ns).namenodes == namenodes


def test_an_unknown_host_names_both_places_looked(registry, env_conf):
    from client.filesystem import resolve

    with pytest.raises(ConfigError) as info:
        resolve("nope")
    message = str(info.value)
    assert "'nope'" in message and str(env_conf) in message and str(registry) in message
    with pytest.raises(ConfigError, match="unknown nameservice 'nope'"):
        resolve("nope", conf="prod")


def test_a_cluster_host_needs_no_hafs_conf(registry):
    from client.filesystem import resolve

    assert resolve("dev")[1] == "ns1"
    with pytest.raises(ConfigError, match=r"\$HAFS_CONF \(not set\)"):
        resolve("nope")


def test_instances_connect_lazily_and_pickle_their_arguments(registry):
    from client.filesystem import HafsFileSystem

    fs = HafsFileSystem("prod", user="carol", skip_instance_cache=True)
    assert fs._client is None  # nothing made until first use
    again = pickle.loads(pickle.dumps(fs))
    assert (again.host, again.nameservice, again.config.client.user) == ("prod", "ns2", "carol")
    assert again._client is None
    assert again.unstrip_protocol("/a/b") == "hafs://prod/a/b"
    client = again.client
    assert client.nameservice == "ns2" and again.client is client
    again.close()
    assert again._client is None
    HafsFileSystem.clear_instance_cache()  # unpickling cached it
