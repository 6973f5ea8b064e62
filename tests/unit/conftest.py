"""Unit-test fixtures: a fresh namespace whose invariants are checked after each test,
and each store implementation for the store contract suites."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from nsharness import Namespace

from ha_namenode.namespace.memstore import MemoryStore
from ha_namenode.namespace.store import Store
from ha_namenode.persistence import SqlStore


@pytest.fixture
def ns() -> Iterator[Namespace]:
    space = Namespace()
    yield space
    space.check_invariants()


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation, for the contract suites."""
    s: Store = MemoryStore() if request.param == "memory" else SqlStore(tmp_path / "live.db")
    yield s
    s.close()
