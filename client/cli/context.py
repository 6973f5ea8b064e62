"""What every ``hactl`` command shares: global options and the lazily built Client.

The Client (and with it gRPC and the config file) is only created when a
command needs one, so ``hactl image query`` and ``hactl namenode start`` work
without a cluster configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from client.cli.output import Failure
from client.config import ConfigError

if TYPE_CHECKING:
    from client.client import Client


@dataclass
class State:
    conf: str | None = None
    user: str | None = None
    json: bool = False
    factory: Callable[[State], Client] | None = None
    _client: Client | None = field(default=None, repr=False)
    _others: dict[str, Client] = field(default_factory=dict, repr=False)

    def client(self) -> Client:
        if self._client is None:
            try:
                if self.factory is not None:
                    self._client = self.factory(self)
                else:
                    from client.client import Client

                    self._client = Client.from_config(self.conf, user=self.user)
            except ConfigError as err:
                raise Failure(f"hactl: {err}") from None
        return self._client

    def client_for(self, nameservice: str | None) -> Client:
        """A client bound to ``nameservice`` of the same config (``hafs://NS/path``: direct
        access, no mount table); None: the default client, which routes by the mount
        table when the config has several nameservices."""
        default = self.client()
        if nameservice is None:
            return default
        if nameservice == default.nameservice and not getattr(default, "routing", False):
            return default
        if nameservice not in self._others:
            from client.client import Client

            try:
                self._others[nameservice] = Client(
                    config=default.config, user=self.user, nameservice=nameservice
                )
            except ConfigError as err:
                raise Failure(f"hactl: {err}") from None
        return self._others[nameservice]

    def close(self) -> None:
        for other in self._others.values():
            other.close()
        self._others.clear()
        if self._client is not None:
            self._client.close()
            self._client = None


pass_state = click.make_pass_decorator(State, ensure=True)


def json_option(fn):
    """``--json`` on a command: machine-readable output on stdout (also a global option)."""
    return click.option(
        "--json", "json_", is_flag=True, help="Print machine-readable JSON instead of text."
    )(fn)


def report_for(state: State, json_: bool, command: str):
    """A Report for ``command``, in JSON mode if ``--json`` was given here or globally."""
    from client.cli.output import Report

    return Report(command, json_ or state.json)
