"""``hafs://`` through fsspec, pandas, pyarrow and dask on a real cluster.

One cluster per module (1 NameNode, 3 DataNodes, 64 KiB blocks); each test
works under its own directory. ``$HAFS_CONF`` points at the cluster's client
config and a clusters.toml under a temporary ``$XDG_CONFIG_HOME`` names it
``testc``, so all three URL forms reach it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle

import fsspec
import pytest
from fsspec.callbacks import Callback

from chaos.cluster import LocalCluster
from client.config import ConfigError
from client.filesystem import HafsFile, HafsFileSystem
from client.transfer import DataNodes

pytestmark = pytest.mark.integration

BLOCK = 64 * 1024
SMALL = {
    "trash_interval_s": 0,
    "min_block_size": 4096,
    "default_block_size": BLOCK,
    "bytes_per_checksum": 512,
}
CLUSTER = "testc"  # the cluster's name in clusters.toml
NAMESERVICE = "ns1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Started once for the module; stopped however the module ends."""
    cluster = LocalCluster(
        tmp_path_factory.mktemp("fsspec"), namenodes=1, datanodes=3, namespace=SMALL
    )
    cluster.start()  # stops what it started if it fails
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def env(cluster, request, tmp_path, monkeypatch):
    """The cluster as $HAFS_CONF and as cluster ``testc``; fresh fsspec instances per test;
    the cluster's logs printed when the test failed."""
    xdg = tmp_path / "xdg"
    (xdg / "hafs").mkdir(parents=True)
    namenodes = ", ".join(f'"{a}"' for a in cluster.addresses)
    (xdg / "hafs" / "clusters.toml").write_text(
        f"[{CLUSTER}.nameservices.{NAMESERVICE}]\nnamenodes = [{namenodes}]\n"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("HAFS_CONF", str(cluster.client_conf))
    monkeypatch.delenv("HAFS_USER", raising=False)
    forget_instances()
    yield
    forget_instances()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(cluster.logs())


def forget_instances() -> None:
    for instance in list(HafsFileSystem._cache.values()):
        instance.close()
    HafsFileSystem.clear_instance_cache()


@pytest.fixture
def fs() -> HafsFileSystem:
    return fsspec.filesystem("hafs")


@pytest.fixture
def base(fs, request) -> str:
    """A fresh directory for the test."""
    path = f"/t/{request.node.name.replace('[', '_').replace(']', '')}"
    fs.makedirs(path, exist_ok=True)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sha(fs: HafsFileSystem, path: str) -> tuple[int, str]:
    """Run in a spawned process: the pid and the file's hash, read through ``fs``."""
    with fs.open(path, "rb") as f:
        return os.getpid(), sha(f.read())


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []
        self.done = 0

    def set_size(self, size):
        self.sizes.append(size)

    def relative_update(self, inc=1):
        self.done += inc


# -- URLs and instances ----------------------------------------------------------------


def test_url_forms_reach_the_cluster(cluster, fs, base):
    data = os.urandom(1000)
    with fsspec.open(f"hafs://{NAMESERVICE}{base}/x", "wb") as f:
        f.write(data)
    for url in (f"hafs://{base}/x", f"hafs://{NAMESERVICE}{base}/x", f"hafs://{CLUSTER}{base}/x"):
        with fsspec.open(url, "rb") as f:
            assert f.read() == data, url
    found, path = fsspec.core.url_to_fs(f"hafs://{CLUSTER}{base}/x")
    assert isinstance(found, HafsFileSystem) and path == f"{base}/x"
    assert found.unstrip_protocol(path) == f"hafs://{CLUSTER}{base}/x"
    assert fs.unstrip_protocol(path) == f"hafs://{base}/x"
    assert found is fsspec.filesystem("hafs", host=CLUSTER)  # fsspec's instance cache
    assert fsspec.filesystem("hafs") is fs
    for options in (
        {"addresses": cluster.addresses},
        {"conf": fs.config.source},
        {"conf": CLUSTER},
        {"host": NAMESERVICE, "user": fs.client.user},
    ):
        other = fsspec.filesystem("hafs", **options)
        assert other.cat_file(f"{base}/x") == data, options
    with pytest.raises(ConfigError, match=r"'nope' is neither a nameservice of \$HAFS_CONF") as e:
        fsspec.filesystem("hafs", host="nope")
    assert "clusters.toml" in str(e.value)


def test_pickled_instances_reconnect_in_this_and_another_process(fs, base):
    data = os.urandom(3 * BLOCK + 5)
    fs.pipe_file(f"{base}/f", data)
    again = pickle.loads(pickle.dumps(fs))
    assert again == fs and again.cat_file(f"{base}/f") == data
    fresh = pickle.loads(pickle.dumps(fsspec.filesystem("hafs", host=CLUSTER)))
    forget_instances()  # as if unpickled elsewhere: a new instance, a new client
    fresh = pickle.loads(pickle.dumps(fresh))
    assert fresh.host == CLUSTER and fresh.cat_file(f"{base}/f") == data
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pid, digest = pool.apply(read_sha, (fresh, f"{base}/f"))
    assert pid != os.getpid() and digest == sha(data)


# -- the namespace ------------------------------------------------------------------------


def test_ls_info_exists_mkdir_rm(fs, base):
    fs.mkdir(f"{base}/d")
    with pytest.raises(FileExistsError):
        fs.mkdir(f"{base}/d")
    fs.makedirs(f"{base}/d", exist_ok=True)
    fs.makedirs(f"{base}/deep/er/est")
    fs.pipe_file(f"{base}/d/a", b"abc")
    fs.touch(f"{base}/d/empty")
    entries = fs.ls(f"hafs://{CLUSTER}{base}/d")
    assert [(e["name"], e["type"], e["size"]) for e in entries] == [
        (f"{base}/d/a", "file", 3),
        (f"{base}/d/empty", "file", 0),
    ]
    assert fs.ls(f"{base}/d", detail=False) == [f"{base}/d/a", f"{base}/d/empty"]
    info = fs.info(f"{base}/d/a")
    assert info["replication"] == 3 and info["block_size"] == BLOCK
    assert info["owner"] == fs.client.user and info["permission"] == 0o644
    assert info["mtime"] > 1e9 and fs.modified(f"{base}/d/a").tzinfo is not None
    assert fs.info(f"{base}/d")["type"] == "directory"
    assert fs.ls(f"{base}/d/a") == [info]  # ls of a file: the file
    assert fs.exists(f"{base}/d/a") and not fs.exists(f"{base}/d/nope")
    assert fs.isdir(f"{base}/d") and fs.isfile(f"{base}/d/a")
    assert fs.find(base) == [f"{base}/d/a", f"{base}/d/empty"]
    assert fs.glob(f"{base}/d/*") == [f"{base}/d/a", f"{base}/d/empty"]
    assert fs.du(base) == 3
    assert fs.du(base, total=False) == {f"{base}/d/a": 3, f"{base}/d/empty": 0}
    key = fs.ukey(f"{base}/d/a")
    fs.pipe_file(f"{base}/d/a", b"abcd")
    assert fs.ukey(f"{base}/d/a") != key
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{base}/d/a", b"x", mode="create")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{base}/nope")
    with pytest.raises(IsADirectoryError):
        fs.rm(f"{base}/d")
    with pytest.raises(OSError):
        fs.rmdir(f"{base}/d")  # not empty
    fs.rm_file(f"{base}/d/empty")
    fs.rm(f"{base}/d", recursive=True)
    fs.rmdir(f"{base}/deep/er/est")
    fs.rm(f"{base}/dee*", recursive=True)
    assert fs.ls(base) == []


def test_mv_is_one_rename(fs, base, monkeypatch):
    data = os.urandom(2 * BLOCK + 1)
    fs.pipe_file(f"{base}/src", data)
    fs.mkdir(f"{base}/into")
    calls: list[str] = []
    connection = fs.client.connection
    real_call = connection.call
    monkeypatch.setattr(
        connection,
        "call",
        lambda method, *a, **kw: calls.append(method) or real_call(method, *a, **kw),
    )
    fs.mv(f"hafs://{NAMESERVICE}{base}/src", f"{base}/dst")
    assert calls.count("Rename") == 1
    assert not {"Create", "AddBlock", "Delete", "Complete"} & set(calls), calls
    calls.clear()
    fs.mv(f"{base}/dst", f"{base}/into")  # into an existing directory, like fsspec's copy
    assert calls.count("Rename") == 1
    assert fs.cat_file(f"{base}/into/dst") == data
    assert not fs.exists(f"{base}/src") and not fs.exists(f"{base}/dst")
    fs.cp_file(f"{base}/into/dst", f"{base}/copy")
    assert fs.cat_file(f"{base}/copy") == data and fs.exists(f"{base}/into/dst")
    assert fs.checksum(f"{base}/copy") == fs.checksum(f"{base}/into/dst")


# -- file data ------------------------------------------------------------------------------


def test_ranged_cat_file_reads_only_the_range(fs, base, monkeypatch):
    data = os.urandom(4 * BLOCK + 777)
    path = f"{base}/big"
    fs.pipe_file(path, data)
    blocks = [b.block_id for b in fs.client.block_locations(path)]
    assert len(blocks) == 5
    read: list[int] = []
    real = DataNodes.read_block

    def spy(self, address, request, timeout):
        read.append(request.block.block_id)
        return real(self, address, request, timeout)

    monkeypatch.setattr(DataNodes, "read_block", spy)
    cases = [
        ((BLOCK - 10, BLOCK + 10), blocks[0:2]),
        ((2 * BLOCK + 5, 3 * BLOCK + 700), blocks[2:4]),
        ((-100, None), blocks[4:5]),
        ((BLOCK, 2 * BLOCK), blocks[1:2]),
        ((None, 3), blocks[0:1]),
    ]
    for (start, end), touched in cases:
        read.clear()
        assert fs.cat_file(f"hafs://{path}", start, end) == data[start:end], (start, end)
        assert read == touched, (start, end)
    assert fs.cat_file(path) == data
    assert fs.cat_ranges([path, path], [0, BLOCK - 1], [2, BLOCK + 1]) == [
        data[0:2],
        data[BLOCK - 1 : BLOCK + 1],
    ]
    assert fs.head(path, 10) == data[:10] and fs.tail(path, 10) == data[-10:]


def test_open_seek_read_across_blocks(fs, base):
    data = os.urandom(3 * BLOCK + 123)
    path = f"{base}/f"
    with fs.open(path, "wb") as f:
        for i in range(0, len(data), 10_000):
            f.write(data[i : i + 10_000])
    with fs.open(path, "rb", block_size=4096) as f:
        assert isinstance(f, HafsFile) and f.size == len(data) and f.seekable()
        f.seek(BLOCK - 5)
        assert f.read(10) == data[BLOCK - 5 : BLOCK + 5] and f.tell() == BLOCK + 5
        f.seek(BLOCK, os.SEEK_CUR)
        assert f.read(2 * BLOCK) == data[2 * BLOCK + 5 :]
        f.seek(-7, os.SEEK_END)
        assert f.read() == data[-7:]
        f.seek(10)
        buf = bytearray(BLOCK)
        assert f.readinto(buf) == BLOCK and bytes(buf) == data[10 : BLOCK + 10]
        assert f.info()["size"] == len(data)
    assert f.closed
    with fsspec.open(f"hafs://{path}", "ab") as f:
        f.write(b"tail")
    assert fs.cat_file(path) == data + b"tail"
    with pytest.raises(IsADirectoryError):
        fs.open(base, "rb")
    with fsspec.open(f"hafs://{base}/text.txt", "w") as f:
        f.write("line 1\nline 2\n")
    with fsspec.open(f"hafs://{base}/text.txt", "r") as f:
        assert f.readlines() == ["line 1\n", "line 2\n"]


def test_put_and_get_report_through_fsspec_callbacks(fs, base, tmp_path):
    data = os.urandom(2 * BLOCK + BLOCK // 2)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    up = Recorder()
    fs.put_file(str(local), f"hafs://{base}/up.bin", callback=up)
    assert up.sizes == [len(data)] and up.done == len(data)
    assert fs.cat_file(f"{base}/up.bin") == data
    down = Recorder()
    fs.get_file(f"{base}/up.bin", str(tmp_path / "out" / "down.bin"), callback=down)
    assert down.sizes == [len(data)] and down.done == len(data)
    assert (tmp_path / "out" / "down.bin").read_bytes() == data
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_bytes(b"a" * 100)
    (tree / "sub" / "b").write_bytes(b"b" * 200)
    fs.put(str(tree), f"{base}/tree", recursive=True)
    assert fs.find(f"{base}/tree") == [f"{base}/tree/a", f"{base}/tree/sub/b"]
    fs.get(f"{base}/tree", str(tmp_path / "back"), recursive=True)
    assert (tmp_path / "back" / "sub" / "b").read_bytes() == b"b" * 200


# -- pandas, pyarrow, dask -------------------------------------------------------------------


def frame(rows: int, seed: int = 0):
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(seed * rows, (seed + 1) * rows, dtype="int64"),
            "x": rng.random(rows),
            "label": [f"row-{i}" for i in range(rows)],
            "when": pd.date_range("2024-01-01", periods=rows, freq="s"),
        }
    )


def test_pandas_parquet_and_csv_round_trips(fs, base):
    pd = pytest.importorskip("pandas")
    df = frame(20_000)
    url = f"hafs://{NAMESERVICE}{base}/frame.parquet"
    df.to_parquet(url)
    assert fs.size(f"{base}/frame.parquet") > 2 * BLOCK  # read across blocks
    pd.testing.assert_frame_equal(pd.read_parquet(url), df)
    pd.testing.assert_frame_equal(pd.read_parquet(f"hafs://{CLUSTER}{base}/frame.parquet"), df)
    fs.pipe_file(f"{base}/small.csv", b"a,b\n1,x\n2,y\n")
    small = pd.read_csv(f"hafs://{base}/small.csv")
    pd.testing.assert_frame_equal(small, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    df[["id", "x", "label"]].to_csv(f"hafs://{base}/big.csv", index=False)
    back = pd.read_csv(f"hafs://{base}/big.csv")
    pd.testing.assert_frame_equal(back, df[["id", "x", "label"]])


def write_parts(fs, directory: str, parts: int = 3):
    pd = pytest.importorskip("pandas")
    frames = [frame(5_000, seed=i) for i in range(parts)]
    for i, part in enumerate(frames):
        part.to_parquet(f"hafs://{directory}/part-{i}.parquet")
    return pd.concat(frames, ignore_index=True)


def test_pyarrow_dataset_over_a_directory(fs, base):
    pd = pytest.importorskip("pandas")
    ds = pytest.importorskip("pyarrow.dataset")
    expected = write_parts(fs, f"{base}/ds")
    # pyarrow resolves URL schemes only through its own registry, so a hafs:// URL
    # goes through fsspec first; pandas and dask do exactly this themselves.
    by_url = fsspec.core.url_to_fs(f"hafs://{CLUSTER}{base}/ds")
    for filesystem, source in ((fs, f"{base}/ds"), by_url):
        dataset = ds.dataset(source, filesystem=filesystem, format="parquet")
        assert sorted(dataset.files) == [f"{base}/ds/part-{i}.parquet" for i in range(3)]
        table = dataset.to_table().to_pandas().sort_values("id", ignore_index=True)
        pd.testing.assert_frame_equal(table, expected)
    filtered = ds.dataset(f"{base}/ds", filesystem=fs).to_table(filter=ds.field("id") < 10)
    assert filtered.num_rows == 10


def test_dask_reads_parquet_and_bytes(fs, base):
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    from dask.bytes import read_bytes

    expected = write_parts(fs, f"{base}/dd")
    ddf = dd.read_parquet(f"hafs://{NAMESERVICE}{base}/dd")
    got = ddf.compute(scheduler="threads").sort_values("id", ignore_index=True)
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["x"].tolist() == expected["x"].tolist()
    text = b"".join(b"line %d\n" % i for i in range(20_000))
    fs.pipe_file(f"{base}/lines.txt", text)
    _, blocks = read_bytes(f"hafs://{base}/lines.txt", delimiter=b"\n", blocksize=BLOCK)
    pieces = dask.compute(*blocks[0], scheduler="sync")
    assert len(pieces) > 2 and b"".join(pieces) == text
