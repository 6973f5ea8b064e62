"""The checked-in generated code must match the .proto files (run `make proto`).

Covers every directory `make proto` compiles: hafs's wire contract and the slice of
etcd's API the benchmarks use."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIRS = [ROOT / "hafs_api" / "v1", ROOT / "benchmarks" / "peers" / "etcdserverpb"]


@pytest.mark.parametrize("proto_dir", PROTO_DIRS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_generated_code_is_fresh(tmp_path, proto_dir):
    pytest.importorskip("grpc_tools")
    plugin = shutil.which("protoc-gen-mypy", path=str(Path(sys.executable).parent))
    if plugin is None:
        pytest.skip("protoc-gen-mypy is not installed (pip install -e '.[dev]')")
    out = tmp_path / "out"
    relative = proto_dir.relative_to(ROOT)
    (out / relative).mkdir(parents=True)
    protos = sorted(str(p.relative_to(ROOT)) for p in proto_dir.glob("*.proto"))
    assert protos, f"no .proto files in {relative}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--plugin=protoc-gen-mypy={plugin}",
            f"--mypy_out={out}",
            *protos,
        ],
        check=True,
        cwd=ROOT,
    )
    generated = sorted(p.name for p in (out / relative).iterdir())
    assert generated, "protoc produced nothing"
    stale = [
        name
        for name in generated
        if not (proto_dir / name).exists()
        or not filecmp.cmp(out / relative / name, proto_dir / name, shallow=False)
    ]
    assert not stale, f"stale generated code in {relative}, run `make proto`: {stale}"
