"""CORS exactly as Parse Server's allowCrossDomain: headers on every response, OPTIONS answered with 200."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET,PUT,POST,DELETE,OPTIONS"
ALLOW_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control"
)
EXPOSE_HEADERS = "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, allow_origin: tuple[str, ...] = ("*",)) -> None:
        self.app = app
        self.allow_origin: tuple[str, ...] = allow_origin or ("*",)

    def _origin(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin: str = value.decode("latin-1")
                if origin in self.allow_origin:
                    return origin
        return self.allow_origin[0]

    def _headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", self._origin(scope).encode("latin-1")),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers(scope)
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*extra, (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
