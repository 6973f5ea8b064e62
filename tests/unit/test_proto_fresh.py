"""The checked-in generated code must match the .proto files (run `make proto`)."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "hafs_api" / "v1"


def test_generated_code_is_fresh(tmp_path):
    pytest.importorskip("grpc_tools")
    plugin = shutil.which("protoc-gen-mypy", path=str(Path(sys.executable).parent))
    if plugin is None:
        pytest.skip("protoc-gen-mypy is not installed (pip install -e '.[dev]')")
    out = tmp_path / "out"
    (out / "hafs_api" / "v1").mkdir(parents=True)
    protos = sorted(str(p.relative_to(ROOT)) for p in PROTO_DIR.glob("*.proto"))
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
    generated = sorted(p.name for p in (out / "hafs_api" / "v1").iterdir())
    assert generated, "protoc produced nothing"
    stale = [
        name
        for name in generated
        if not (PROTO_DIR / name).exists()
        or not filecmp.cmp(out / "hafs_api" / "v1" / name, PROTO_DIR / name, shallow=False)
    ]
    assert not stale, f"stale generated code, run `make proto`: {stale}"
