"""``hactl image query``: read-only SQL over an image file made with the stdlib."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from click.testing import CliRunner

from client.cli.image import ImageQueryError, query_image
from client.cli.main import cli


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "image-00000000000000000042.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE inodes (id INTEGER PRIMARY KEY, parent INTEGER, name TEXT, perm INTEGER,
                             blob BLOB);
        INSERT INTO inodes VALUES (1, 0, '', 493, NULL), (2, 1, 'user', 493, x'0aff'),
                                  (3, 2, 'alice', 448, NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER);
        INSERT INTO meta VALUES ('applied_index', 42);
        PRAGMA user_version = 7;
    """)
    conn.commit()
    conn.close()
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_select_returns_columns_and_rows(image):
    columns, rows = query_image(image, "SELECT id, name FROM inodes WHERE parent > 0 ORDER BY id")
    assert columns == ["id", "name"]
    assert rows == [(2, "user"), (3, "alice")]


@pytest.mark.parametrize(
    "sql, first_row",
    [
        (
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) "
            "SELECT count(*) FROM n",
            (3,),
        ),
        ("SELECT value FROM meta WHERE key = 'applied_index'", (42,)),
        ("PRAGMA user_version", (7,)),
        ("PRAGMA index_list(meta)", (0, "sqlite_autoindex_meta_1", 1, "pk", 0)),
        ("PRAGMA table_info(meta)", (0, "key", "TEXT", 0, None, 1)),
        ("SELECT type, name FROM sqlite_master ORDER BY name LIMIT 1", ("table", "inodes")),
    ],
)
def test_reads_and_introspection_are_allowed(image, sql, first_row):
    _, rows = query_image(image, sql)
    assert rows[0] == first_row


@pytest.mark.parametrize(
    "sql, what",
    [
        ("INSERT INTO inodes VALUES (9, 1, 'x', 420, NULL)", "INSERT on inodes"),
        ("UPDATE inodes SET name = 'y'", "UPDATE on inodes"),
        ("DELETE FROM inodes", "DELETE on inodes"),
        ("DROP TABLE meta", "DELETE on sqlite_master"),
        ("CREATE TABLE t (a)", "INSERT on sqlite_master"),
        ("ATTACH DATABASE '{dir}/other.db' AS other", "ATTACH"),
        ("VACUUM INTO '{dir}/copy.db'", "ATTACH"),  # VACUUM INTO attaches its target
        ("PRAGMA user_version = 9", "PRAGMA user_version = 9"),
        ("PRAGMA journal_mode = WAL", "PRAGMA journal_mode"),
        ("BEGIN IMMEDIATE", "TRANSACTION"),
        ("SELECT * FROM pragma_table_info('meta')", "UPDATE on sqlite_master"),
    ],
)
def test_statements_that_would_write_are_refused(image, sql, what):
    before = digest(image)
    files_before = sorted(p.name for p in image.parent.iterdir())
    with pytest.raises(ImageQueryError, match="refused") as info:
        query_image(image, sql.format(dir=image.parent))
    assert what in str(info.value)
    assert "read-only" in str(info.value)
    assert digest(image) == before
    assert sorted(p.name for p in image.parent.iterdir()) == files_before  # nothing created


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELEKT 1", "syntax error"),
        ("SELECT * FROM nope", "no such table"),
    ],
)
def test_bad_sql_is_reported(image, sql, message):
    with pytest.raises(ImageQueryError, match=message):
        query_image(image, sql)


def test_missing_and_non_file_images(tmp_path):
    with pytest.raises(ImageQueryError, match="No such file or directory"):
        query_image(tmp_path / "absent.db", "SELECT 1")
    with pytest.raises(ImageQueryError, match="Is not a file"):
        query_image(tmp_path, "SELECT 1")
    assert not (tmp_path / "absent.db").exists()


def test_cli_prints_a_table(image):
    result = CliRunner().invoke(
        cli, ["image", "query", str(image), "SELECT id, name FROM inodes ORDER BY id"]
    )
    assert result.exit_code == 0, result.output
    assert "id" in result.stdout and "name" in result.stdout
    assert "alice" in result.stdout and "user" in result.stdout


def test_cli_json_rows_are_objects(image):
    sql = "SELECT id, name, blob FROM inodes ORDER BY id"
    for args in (
        ["image", "query", "--json", str(image), sql],
        ["--json", "image", "query", str(image), sql],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        assert rows[1] == {"id": 2, "name": "user", "blob": "0aff"}
        assert len(rows) == 3


def test_cli_refuses_writes_with_a_clear_error(image):
    before = digest(image)
    result = CliRunner().invoke(cli, ["image", "query", str(image), "DELETE FROM inodes"])
    assert result.exit_code == 1
    assert result.stderr.startswith("image query: refused: DELETE on inodes is not allowed")
    assert result.stdout == ""
    assert digest(image) == before


def test_cli_missing_image(tmp_path):
    result = CliRunner().invoke(cli, ["image", "query", str(tmp_path / "x.db"), "SELECT 1"])
    assert result.exit_code == 1
    assert "No such file or directory" in result.stderr
