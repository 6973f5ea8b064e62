"""Who is calling: user name checks, group mapping and the superuser flag.

Simple authentication as in HDFS's "simple" mode: the client asserts a user
name. Groups come from the ``[users]`` table of the config, else from the
operating system's user and group database. The leader resolves the caller
before it proposes and puts the result in the command, so apply never looks
at the environment.
"""

from __future__ import annotations

import grp
import pwd
import threading
import time

from ha_namenode.namespace.attrs import valid_principal
from ha_namenode.namespace.model import Caller
from hafs_api.errors import AccessDenied

_CACHE_SECONDS = 300.0


class GroupMapping:
    def __init__(
        self,
        static: dict[str, tuple[str, ...]],
        superuser: str,
        supergroup: str,
        allow_unknown: bool,
    ) -> None:
        self._static = dict(static)
        self._superuser = superuser
        self._supergroup = supergroup
        self._allow_unknown = allow_unknown
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def caller(self, user: str) -> Caller:
        if not user:
            raise AccessDenied("no user name was given (set it in the client config or $HAFS_USER)")
        if not valid_principal(user):
            raise AccessDenied(f"invalid user name {user!r}")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user)
            if hit is not None and now - hit[0] < _CACHE_SECONDS:
                return hit[1]
        groups = self._groups(user)
        caller = Caller(
            user=user,
            groups=groups,
            superuser=user == self._superuser or self._supergroup in groups,
        )
        with self._lock:
            self._cache[user] = (now, caller)
        return caller

    def _groups(self, user: str) -> tuple[str, ...]:
        if user in self._static:
            return self._static[user]
        try:
            primary = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        except KeyError:
            if user == self._superuser:
                return (self._supergroup,)
            if not self._allow_unknown:
                raise AccessDenied(
                    f"unknown user {user!r}: not in [users] nor known to the "
                    "NameNode's operating system"
                ) from None
            return ()
        others = sorted(g.gr_name for g in grp.getgrall() if user in g.gr_mem)
        return (primary, *[g for g in others if g != primary])
