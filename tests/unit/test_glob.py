"""``client.glob``: HDFS glob patterns over an in-memory tree, with the listings counted."""

from __future__ import annotations

import pytest

from client.glob import component_matcher, expand_slash_groups, glob, has_wildcard, unescape
from hafs_api.errors import InvalidArgument

TREE = {
    "/a": None,
    "/a/b1": None,
    "/a/b1/c": "",
    "/a/b2": None,
    "/a/b2/c": "",
    "/a/b3": "",  # a file: /a/b*/c never looks inside it
    "/a/.hidden": "",
    "/logs": None,
    "/logs/2023": None,
    "/logs/2023/01.csv": "",
    "/logs/2024": None,
    "/logs/2024/01.csv": "",
    "/logs/2024/02.json": "",
    "/logs/2024/03.txt": "",
    "/odd": None,
    "/odd/a*b": "",
    "/odd/axb": "",
    "/odd/{x}": "",
    "/odd/Mixed": "",
}


class Tree:
    """A namespace of ``TREE`` (``None``: a directory), recording every call."""

    def __init__(self, entries: dict[str, str | None]) -> None:
        self.entries = entries
        self.listed: list[str] = []
        self.checked: list[str] = []

    def listdir(self, path: str) -> list[tuple[str, bool]]:
        self.listed.append(path)
        if path != "/" and self.entries.get(path, "") is not None:
            return []  # missing, or a file
        prefix = path.rstrip("/") + "/"
        return sorted(
            (p[len(prefix) :], kind is None)
            for p, kind in self.entries.items()
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )

    def exists(self, path: str) -> bool:
        self.checked.append(path)
        return path == "/" or path in self.entries

    def glob(self, pattern: str) -> list[str]:
        return glob(pattern, self.listdir, self.exists)


@pytest.fixture
def tree() -> Tree:
    return Tree(TREE)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/a/b*", ["/a/b1", "/a/b2", "/a/b3"]),
        ("/a/b?", ["/a/b1", "/a/b2", "/a/b3"]),
        ("/a/*", ["/a/.hidden", "/a/b1", "/a/b2", "/a/b3"]),  # no dot rule
        ("/a/b[12]", ["/a/b1", "/a/b2"]),
        ("/a/b[1-2]", ["/a/b1", "/a/b2"]),
        ("/a/b[!1]", ["/a/b2", "/a/b3"]),
        ("/a/b[^1]", ["/a/b2", "/a/b3"]),
        ("/a/b*/c", ["/a/b1/c", "/a/b2/c"]),
        ("/a/{b1,b3}", ["/a/b1", "/a/b3"]),
        ("/a/{b1,b{2,3}}", ["/a/b1", "/a/b2", "/a/b3"]),  # nested
        ("/a/{b1,b1}", ["/a/b1"]),  # no duplicates
        ("/logs/*/*.{csv,json}", ["/logs/2023/01.csv", "/logs/2024/01.csv", "/logs/2024/02.json"]),
        (
            "/logs/{2023/01.csv,2024/0[23]*}",
            ["/logs/2023/01.csv", "/logs/2024/02.json", "/logs/2024/03.txt"],
        ),
        ("/*/b1/c", ["/a/b1/c"]),
        ("/a/c*", []),
        ("/nope/*", []),
        ("/a/b3/*", []),  # a file has no entries
        ("/odd/a\\*b", ["/odd/a*b"]),  # an escaped star is a literal
        ("/odd/a\\*?", ["/odd/a*b"]),
        ("/odd/a?b", ["/odd/a*b", "/odd/axb"]),
        ("/odd/\\{*", ["/odd/{x}"]),
        ("/odd/mixed*", []),  # case-sensitive
        ("/a/b1/", ["/a/b1"]),
        ("/", ["/"]),
    ],
)
def test_patterns(tree, pattern, expected):
    assert tree.glob(pattern) == expected


def test_a_pattern_without_wildcards_is_one_stat(tree):
    assert tree.glob("/a/b1/c") == ["/a/b1/c"]
    assert tree.glob("/a/none") == []
    assert tree.listed == []
    assert tree.checked == ["/a/b1/c", "/a/none"]


def test_only_wildcard_components_list_directories(tree):
    assert tree.glob("/a/b*/c") == ["/a/b1/c", "/a/b2/c"]
    assert tree.listed == ["/a"]  # /a is a literal: never listed as /, never stat'd
    assert tree.checked == ["/a/b1/c", "/a/b2/c"]  # b3 is a file: not a candidate


def test_a_trailing_wildcard_needs_no_stat(tree):
    tree.glob("/logs/*/*.csv")
    assert tree.listed == ["/logs", "/logs/2023", "/logs/2024"]
    assert tree.checked == []


def test_results_are_sorted_across_expanded_groups(tree):
    assert tree.glob("/{logs/2024,a}/*1*") == ["/a/b1", "/logs/2024/01.csv"]


@pytest.mark.parametrize("pattern", ["/a/b[12", "/a/{b1,b2", "/{a/b,c"])
def test_malformed_patterns_are_invalid_arguments(tree, pattern):
    with pytest.raises(InvalidArgument, match="Illegal file pattern"):
        tree.glob(pattern)


def test_a_relative_pattern_is_refused(tree):
    with pytest.raises(InvalidArgument):
        tree.glob("a/*")


@pytest.mark.parametrize(
    ("text", "wild"),
    [
        ("/a/b", False),
        ("/a/*", True),
        ("/a/?", True),
        ("/a/[x]", True),
        ("/a/{x}", True),
        ("/a/\\*", False),
        ("/a/\\\\*", True),
        ("/a/}", False),
    ],
)
def test_has_wildcard(text, wild):
    assert has_wildcard(text) is wild


def test_unescape():
    assert unescape("/a\\*b\\\\c") == "/a*b\\c"


def test_slash_groups_expand_leftmost_first_and_keep_component_groups():
    assert expand_slash_groups("/{a/b,c}/{d,e}") == ["/a/b/{d,e}", "/c/{d,e}"]
    assert expand_slash_groups("/{a,{b/c,d}}") == ["/a", "/b/c", "/d"]
    assert expand_slash_groups("/x\\{a/b,c}") == ["/x\\{a/b,c}"]


@pytest.mark.parametrize(
    ("pattern", "name", "match"),
    [
        ("*.csv", "part-0.csv", True),
        ("*.csv", "part-0.CSV", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[]]", "]", True),
        ("[!]]", "a", True),
        ("a{,b}", "a", True),
        ("a.b", "axb", False),  # regex characters are literal
        ("(x)+", "(x)+", True),
        ("*", ".hidden", True),
    ],
)
def test_component_matcher(pattern, name, match):
    assert component_matcher(pattern)(name) is match


def test_component_matcher_ignoring_case():
    assert component_matcher("*.csv", ignore_case=True)("A.CSV")
