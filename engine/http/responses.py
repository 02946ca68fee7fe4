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


class Answer:
    """A finished response as its ASGI parts: the REST edge sends these itself, without a Response object."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @classmethod
    def of(cls, response: Response) -> Answer:
        return cls(response.status_code, response.raw_headers, bytes(response.body))


_JSON_TYPE = (b"content-type", b"application/json")


def json_answer(content: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    """What ParseJSONResponse(content, status, headers) would send, header for header, built without it."""
    body = orjson.dumps(content)
    if not headers:
        if status < 200 or status in (204, 304):
            return Answer(status, [_JSON_TYPE], body)
        return Answer(status, [(b"content-length", b"%d" % len(body)), _JSON_TYPE], body)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    names = {name for name, _ in raw}
    if b"content-length" not in names and not (status < 200 or status in (204, 304)):
        raw.append((b"content-length", b"%d" % len(body)))
    if b"content-type" not in names:
        raw.append(_JSON_TYPE)
    return Answer(status, raw, body)


def error_answer(exc: BaseException) -> Answer:
    status, body = error_body(exc)
    return json_answer(body, status)
