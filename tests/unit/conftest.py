"""Unit-test fixtures: a fresh namespace whose invariants are checked after each test."""

from collections.abc import Iterator

import pytest
from nsharness import Namespace


@pytest.fixture
def ns() -> Iterator[Namespace]:
    space = Namespace()
    yield space
    space.check_invariants()
