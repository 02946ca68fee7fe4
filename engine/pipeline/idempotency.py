"""`X-Parse-Request-Id` de-duplication (Parse's idempotencyOptions): a retried write runs once."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import Services
from engine.query.where import Compare
from engine.storage.base import StoredObject
from engine.wire import new_object_id, now

MAX_REQUEST_ID = 256


@lru_cache(maxsize=64)
def _patterns(paths: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in paths)


def applies(svc: Services, method: str, path: str) -> bool:
    """Only POST/PUT on configured paths: regexes relative to the mount path, anchored at the start only as
    Parse anchors them, so `classes/X` also covers `classes/X/<id>`."""
    if method not in ("POST", "PUT"):
        return False
    relative = path.strip("/")
    return any(p.match(relative) for p in _patterns(svc.settings.idempotency_paths))


async def claim_request_id(svc: Services, method: str, path: str, request_id: str | None) -> None:
    """Record the id, or answer 159 when a request with it already ran within the TTL."""
    if not request_id or not applies(svc, method, path):
        return
    if len(request_id) > MAX_REQUEST_ID:
        raise ParseError(ErrorCode.INVALID_VALUE, "X-Parse-Request-Id is too long")
    cls = await svc.schemas.ensure_class("_Idempotency")
    stamp = now()
    # MongoDB expires these with a TTL index; the other stores rely on this sweep.
    await svc.storage.delete(cls, Compare(("expire",), "lt", stamp))
    row = StoredObject("_Idempotency", new_object_id(), stamp, stamp).with_fields(
        {"reqId": request_id, "expire": stamp + timedelta(seconds=svc.settings.idempotency_ttl)})
    try:
        await svc.storage.create(cls, row)
    except ParseError as exc:
        if exc.code == ErrorCode.DUPLICATE_VALUE:
            raise ParseError(ErrorCode.DUPLICATE_REQUEST, "Duplicate request") from exc
        raise
