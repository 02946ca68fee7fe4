"""The REST mount's front door: one pure-ASGI step from the server to the edge for every HTTP request under the
mount path, in place of Starlette's error and exception middlewares, its router, its request/response wrappers and
the CORS send wrapper (about half of a get-by-id's own time before this existed). Everything else (files, GraphQL,
the /app views, LiveQuery upgrades, lifespan, other methods) still goes through the Starlette app unchanged.

The answers are the ones the Starlette stack gave: the same status, body and headers in the same order (the
response's own, then CORS), OPTIONS answered by the CORS preflight, every failure in Parse's error shape."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from engine.http.body import receive_body
from engine.http.cors import CorsHeaders
from engine.http.edge import Incoming, serve
from engine.http.responses import Answer, error_answer
from engine.pipeline.context import Services

# The methods the mount's Starlette routes took; any other method keeps Starlette's 405.
REST_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"})


class RestMount:
    """Which HTTP scopes are REST calls, and serving them. `sub_path` is None for a scope this does not serve."""

    def __init__(self, services: Services, mount: str, cors: CorsHeaders, *, skip: tuple[str, ...] = (),
                 graphql: str | None = None) -> None:
        self.services = services
        self.mount = mount
        self.prefix = mount + "/"
        self.skip = skip  # path prefixes under the mount that Starlette routes serve (the files API)
        self.graphql = graphql
        self.cors = cors

    def sub_path(self, scope: Scope) -> str | None:
        path = _route_path(scope)
        if path == self.mount:
            rest = ""
        elif path.startswith(self.prefix):
            if path.startswith(self.skip):
                return None
            rest = path[len(self.prefix):]
        else:
            return None
        method = scope["method"]
        if method == "OPTIONS":
            return rest
        if method not in REST_METHODS or (path == self.graphql and method in ("GET", "POST")):
            return None
        return rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send, sub_path: str) -> None:
        if scope["method"] == "OPTIONS":
            await self.cors.preflight(scope, send)
            return
        incoming = Incoming.of(scope)
        try:
            raw = await receive_body(receive, incoming.headers, self.services.settings.max_body_bytes)
        except Exception as exc:
            answer = error_answer(exc)
        else:
            answer = await serve(incoming, raw, self.services, sub_path)
        await _send(send, answer, self.cors.for_scope(scope))


def _route_path(scope: Scope) -> str:
    """The path Starlette's router matches: below the root path when the request is under it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path


async def _send(send: Send, answer: Answer, cors: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": [*answer.headers, *cors]})
    await send({"type": "http.response.body", "body": answer.body})


class EngineApp(Starlette):
    """The Starlette app with the REST mount answered before its middleware stack is entered."""

    rest: RestMount | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = self.rest
        if rest is not None and scope["type"] == "http":
            sub_path = rest.sub_path(scope)
            if sub_path is not None:
                await rest(scope, receive, send, sub_path)
                return
        await super().__call__(scope, receive, send)

