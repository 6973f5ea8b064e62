"""``hactl`` run in-process against a test cluster, for the CLI integration tests.

``run = hactl_runner(cluster.client_conf)``; ``run("fs", "-ls", "/")`` invokes
``hactl --conf CONF fs -ls /`` through click's runner and asserts the exit code
(``code=0`` unless told), showing the arguments, stdout and stderr when it differs.
``user=NAME`` adds ``--user NAME``; ``stdin=BYTES`` feeds standard input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from client.cli.main import cli


def hactl_runner(conf: Path) -> Callable[..., Result]:
    runner = CliRunner()

    def run(
        *args: str, code: int = 0, user: str | None = None, stdin: bytes | None = None
    ) -> Result:
        head = ["--conf", str(conf)] + (["--user", user] if user else [])
        result = runner.invoke(cli, [*head, *args], input=stdin, catch_exceptions=False)
        assert result.exit_code == code, (args, result.stdout_bytes[:2000], result.stderr)
        return result

    return run
