"""``hactl fs -mv`` between two nameservices: refused as a rename (a typed EXDEV-like
error), done as a verified copy and delete with ``--copy``."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from client import Client
from client.cli.main import cli
from client.config import load

pytestmark = pytest.mark.integration

SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": 64 * 1024}


@pytest.fixture
def conf(make_cluster, tmp_path):
    one = make_cluster(nameservice="ns1", datanodes=3, namespace=SMALL)
    two = make_cluster(nameservice="ns2", datanodes=3, namespace=SMALL)
    path = tmp_path / "both.toml"
    path.write_text(
        f'default_nameservice = "ns1"\n[nameservices.ns1]\nnamenodes = {one.addresses!r}\n'.replace(
            "'", '"'
        )
        + f"[nameservices.ns2]\nnamenodes = {two.addresses!r}\n".replace("'", '"')
    )
    return path


def hactl(conf, *args, code=0):
    result = CliRunner().invoke(cli, ["--conf", str(conf), *args], catch_exceptions=False)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def test_mv_across_nameservices_needs_copy_then_verifies(conf):
    config = load(conf)
    with Client(config=config) as ns1, Client(config=config, nameservice="ns2") as ns2:
        data = os.urandom(200_000)
        ns1.write_bytes("/src/a.bin", data)
        ns1.write_bytes("/src/sub/b.bin", b"bee")
        ns2.mkdir("/into")

        refused = hactl(conf, "fs", "-mv", "/src", "hafs://ns2/moved", code=1)
        assert "cannot rename across nameservices" in refused.stderr
        assert ns1.exists("/src/a.bin") and not ns2.exists("/moved")

        hactl(conf, "fs", "-mv", "--copy", "/src", "hafs://ns2/moved")
        assert not ns1.exists("/src")
        assert ns2.read_bytes("/moved/a.bin") == data
        assert ns2.read_bytes("/moved/sub/b.bin") == b"bee"
        names = [name for _, dirs, files in ns2.walk("/moved") for name in dirs + files]
        assert sorted(names) == ["a.bin", "b.bin", "sub"]  # no _COPYING_ left

        ns2.write_bytes("/one", b"x" * 10)
        hactl(conf, "fs", "-mv", "--copy", "hafs://ns2/one", "hafs://ns1/")  # into a directory
        assert ns1.read_bytes("/one") == b"x" * 10 and not ns2.exists("/one")
        ns1.write_bytes("/taken", b"mine")
        ns2.write_bytes("/two", b"theirs")
        exists = hactl(conf, "fs", "-mv", "--copy", "hafs://ns2/two", "/taken", code=1)
        assert "File exists" in exists.stderr
        assert ns1.read_bytes("/taken") == b"mine" and ns2.read_bytes("/two") == b"theirs"
        hactl(conf, "fs", "-mv", "hafs://ns2/moved/sub", "hafs://ns2/into")  # same nameservice
        assert ns2.exists("/into/sub/b.bin")
