"""Reading a request body within `max_body_bytes`: refused from its Content-Length, or cut off while streaming.

Under `sleeplab serve` the connection protocol (protocol.py) already refuses both before the app runs; this is the
same rule for any other ASGI server (and the in-process test client), so no server reads past the limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from engine.errors import ErrorCode, HTTPDenied

TOO_LARGE_MESSAGE = "request entity too large"


def too_large() -> HTTPDenied:
    return HTTPDenied(413, TOO_LARGE_MESSAGE, code=ErrorCode.OBJECT_TOO_LARGE)


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large()
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # The peer is gone (or the protocol dropped it): nobody reads this answer, and it is not a server error.
        raise HTTPDenied(400, "client disconnected", code=ErrorCode.CONNECTION_FAILED) from exc
    return b"".join(chunks)
