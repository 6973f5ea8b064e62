"""Shared fixtures: a real NameNode cluster per test, whose logs print when a test fails."""

from __future__ import annotations

import getpass

import pytest

from chaos.cluster import LocalCluster


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def make_cluster(request, tmp_path):
    """Start clusters on demand; stop them all (and print their logs on failure) after."""
    started: list[LocalCluster] = []

    def make(**kwargs) -> LocalCluster:
        kwargs.setdefault("namespace", {"trash_interval_s": 0})
        cluster = LocalCluster(tmp_path / f"cluster{len(started)}", **kwargs)
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        for cluster in started:
            print(cluster.logs())


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


@pytest.fixture
def superuser() -> str:
    return getpass.getuser()
