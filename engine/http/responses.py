"""JSON responses in Parse's shapes, and the one mapping from exceptions to HTTP."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from starlette.responses import Response

from engine.errors import ErrorCode, HTTPDenied, ParseError, http_status

log = logging.getLogger("engine.http")


class ParseJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def error_body(exc: BaseException) -> tuple[int, dict[str, object]]:
    """Client-visible status and body for any failure; internals only ever reach the log."""
    if isinstance(exc, ParseError):
        return http_status(exc.code), {"code": exc.code, "error": exc.message}
    if isinstance(exc, HTTPDenied):
        return exc.status, {"code": exc.code, "error": exc.message}
    log.exception("unhandled error", exc_info=exc)
    return 500, {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "error": "Internal server error."}


def error_response(exc: BaseException, headers: Mapping[str, str] | None = None) -> ParseJSONResponse:
    status, body = error_body(exc)
    return ParseJSONResponse(body, status_code=status, headers=dict(headers or {}))
