"""The README's "Use from Python, pandas and PyTorch" examples, run as written against a
real cluster named ``prod`` in clusters.toml (the torch part only when torch is installed)."""

from __future__ import annotations

import json

import fsspec
import pytest

from chaos.cluster import LocalCluster
from client.filesystem import HafsFileSystem

pytestmark = pytest.mark.integration

SMALL = {"trash_interval_s": 0, "min_block_size": 4096, "default_block_size": 64 * 1024}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("ml"), namenodes=1, datanodes=3, namespace=SMALL)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def prod(cluster, tmp_path, monkeypatch):
    """``prod`` in ~/.config/hafs/clusters.toml, as the README shows it."""
    (tmp_path / "hafs").mkdir()
    namenodes = ", ".join(f'"{a}"' for a in cluster.addresses)
    (tmp_path / "hafs" / "clusters.toml").write_text(
        f'[prod]\ndefault_nameservice = "ns1"\n[prod.nameservices.ns1]\nnamenodes = [{namenodes}]\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("HAFS_CONF", raising=False)
    HafsFileSystem.clear_instance_cache()
    yield
    HafsFileSystem.clear_instance_cache()


def test_parquet_round_trip():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, 2, 3], "score": [0.5, 0.25, 0.125]})
    df.to_parquet("hafs://prod/features/scores.parquet")
    assert pd.read_parquet("hafs://prod/features/scores.parquet").equals(df)


def test_iterating_a_directory_of_shards():
    fs, root = fsspec.url_to_fs("hafs://prod/datasets/clicks")
    for i in range(3):
        with fs.open(f"{root}/part-{i:05d}.jsonl", "wb") as f:
            f.write(b"".join(json.dumps({"shard": i, "n": n}).encode() + b"\n" for n in range(4)))
    fs.pipe_file(f"{root}/_SUCCESS", b"")
    records = []
    for shard in sorted(fs.glob(f"{root}/part-*.jsonl")):
        with fs.open(shard, "rb") as f:
            for line in f:
                records.append(json.loads(line))
    assert [(r["shard"], r["n"]) for r in records] == [(s, n) for s in range(3) for n in range(4)]


def test_a_torch_checkpoint_through_an_hafs_file_object():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(8, 2)
    with fsspec.open("hafs://prod/checkpoints/step-1000.pt", "wb") as f:
        torch.save(model.state_dict(), f)
    restored = torch.nn.Linear(8, 2)
    with fsspec.open("hafs://prod/checkpoints/step-1000.pt", "rb") as f:
        restored.load_state_dict(torch.load(f))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored.state_dict()[name])
