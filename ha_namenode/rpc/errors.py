"""Turn what a servicer raises into a gRPC status, in one place."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import grpc

from hafs_api import status
from hafs_api.errors import HafsError, InternalError

log = logging.getLogger(__name__)


def rpc(method: Callable) -> Callable:
    """Wrap a servicer method: HafsError -> its status; anything else -> INTERNAL, logged."""

    @functools.wraps(method)
    def wrapper(self, request, context: grpc.ServicerContext):
        try:
            return method(self, request, context)
        except HafsError as e:
            status.abort(context, e)
        except Exception as e:
            log.exception("%s failed", method.__name__)
            status.abort(context, InternalError(f"{method.__name__}: {type(e).__name__}: {e}"))

    return wrapper
