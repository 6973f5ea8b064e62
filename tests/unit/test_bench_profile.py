"""The profiler's summary of py-spy raw stacks: each sample charged to the innermost frame
that is in a known package or in hafs, shares that add up, thread roots left out."""

from __future__ import annotations

import pytest

from benchmarks import profile

RAW = "\n".join(
    [
        # thread;outer;...;inner count
        "rpc-1;_worker (concurrent/futures/thread.py:83);GetFileInfo "
        "(/x/ha_namenode/rpc/client_service.py:210);execute (/x/sqlalchemy/engine/base.py:1) 30",
        "rpc-2;Thread.run (threading.py:982);_serve (/x/grpc/_server.py:1320) 50",
        "tick;Thread.run (threading.py:982);apply (/x/ha_namenode/namespace/applier.py:172) 15",
        "tick;mystery (/x/elsewhere.py:1) 5",
        "garbage line without a count",
    ]
)


def test_samples_are_charged_to_the_innermost_known_package_or_hafs_module():
    s = profile.summarise(RAW)
    assert s["samples"] == 100
    assert s["packages"] == {
        "grpc": 0.5,
        "sqlalchemy": 0.3,  # a library called by hafs: the library's time
        "hafs:ha_namenode/namespace/applier.py": 0.15,  # not Thread.run's, further out
        "other": 0.05,
    }
    assert sum(s["packages"].values()) == pytest.approx(1.0)
    assert s["frames"]["_serve (/x/grpc/_server.py:1320)"] == 0.5
    assert not any(k.startswith("Thread.run ") for k in s["frames"])


def test_our_module_when_no_known_package_is_on_the_stack():
    stack = ["t", "apply (/x/ha_namenode/namespace/applier.py:172)"]
    assert profile.package(stack) == "hafs:ha_namenode/namespace/applier.py"
    assert profile.package(["t", "f (/x/y.py:1)"]) == "other"


def test_an_empty_profile():
    assert profile.summarise("") == {"samples": 0, "packages": {}, "frames": {}}
    assert "0 samples" in profile.console("leader", profile.summarise(""))
