"""Reading a request body within `max_body_bytes`: refused from its Content-Length, or cut off while streaming.

Under `sleeplab serve` the connection protocol (protocol.py) already refuses both before the app runs; this is the
same rule for any other ASGI server (and the in-process test client), so no server reads past the limit."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import Receive

from engine.errors import ErrorCode, HTTPDenied

TOO_LARGE_MESSAGE = "request entity too large"


def too_large() -> HTTPDenied:
    return HTTPDenied(413, TOO_LARGE_MESSAGE, code=ErrorCode.OBJECT_TOO_LARGE)


async def read_body(request: Request, max_bytes: int) -> bytes:
    return await receive_body(request.receive, request.headers, max_bytes)


async def receive_body(receive: Receive, headers: Mapping[str, str], max_bytes: int) -> bytes:
    """The request body within `max_bytes`, read straight from the ASGI channel (the REST front has no Request)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody reads the answer; not a server error
            raise HTTPDenied(400, "client disconnected", code=ErrorCode.CONNECTION_FAILED)
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > max_bytes:
                raise too_large()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
