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


Headers = list[tuple[bytes, bytes]]


class CorsHeaders:
    """The CORS headers for each allowed origin, encoded once: only the origin varies between requests."""

    def __init__(self, allow_origin: tuple[str, ...] = ("*",)) -> None:
        self.allow_origin: tuple[str, ...] = allow_origin or ("*",)
        common = [(b"access-control-allow-methods", ALLOW_METHODS.encode()),
                  (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                  (b"access-control-expose-headers", EXPOSE_HEADERS.encode())]
        self._by_origin: dict[str, Headers] = {
            origin: [(b"access-control-allow-origin", origin.encode("latin-1")), *common]
            for origin in self.allow_origin}
        self._default = self._by_origin[self.allow_origin[0]]
        self.preflight_headers: dict[str, Headers] = {
            origin: [*headers, (b"content-length", b"0")] for origin, headers in self._by_origin.items()}

    def _origin(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin: str = value.decode("latin-1")
                if origin in self._by_origin:
                    return origin
        return self.allow_origin[0]

    def for_scope(self, scope: Scope) -> Headers:
        """Never mutate the list returned: it is shared by every request from that origin."""
        return self._by_origin[self._origin(scope)]

    async def preflight(self, scope: Scope, send: Send) -> None:
        """Parse answers every OPTIONS with 200 and the CORS headers, whatever the path."""
        await send({"type": "http.response.start", "status": 200,
                    "headers": self.preflight_headers[self._origin(scope)]})
        await send({"type": "http.response.body", "body": b""})


class CORSMiddleware:
    def __init__(self, app: ASGIApp, allow_origin: tuple[str, ...] = ("*",)) -> None:
        self.app = app
        self.cors = CorsHeaders(allow_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self.cors.preflight(scope, send)
            return
        extra = self.cors.for_scope(scope)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
