"""All-or-nothing: several pipeline operations as one storage transaction (``/batch`` with ``transaction: true``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from engine.errors import ErrorCode, ParseError
from engine.events import holding
from engine.pipeline.context import Services
from engine.storage.base import Transactional

UNSUPPORTED = "Transactions are not supported by this database; send the batch without transaction: true."


@asynccontextmanager
async def atomically(services: Services) -> AsyncIterator[None]:
    """Commits what the block wrote if it exits normally; rolls all of it back if it raises (and re-raises).

    A store without transactions refuses up front: running the writes one by one would be a silent partial
    write. LiveQuery events wait for the commit; caches that may hold rolled-back state are dropped."""
    storage = services.storage
    if not isinstance(storage, Transactional):
        raise ParseError(ErrorCode.COMMAND_UNAVAILABLE, UNSUPPORTED)
    try:
        with holding() as held:
            async with storage.transaction():
                yield
    except BaseException:
        # The rolled-back writes may have created classes or fields, or changed roles, in these caches.
        services.roles.clear()
        await services.schemas.load()
        raise
    for bus, event in held:
        await bus.deliver(event)
