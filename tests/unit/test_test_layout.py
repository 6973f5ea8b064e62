"""The test tree itself: pytest imports test modules by basename (rootdir-relative
``sys.path`` entries, no packages), so two test files of one name in different
folders stop the whole run at collection. This fails first, and names them."""

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_basename_of_its_own():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        seen[path.name].append(str(path.relative_to(TESTS)))
    assert not {name: where for name, where in seen.items() if len(where) > 1}
