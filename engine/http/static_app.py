"""The starter web views (web/app/) served at /app/: static files behind strict security headers, plus the page's
connection settings (/app/config.json) so the pages never hard-code the app id or mount path.

The pages hold patient data once signed in, so every response under /app/ carries a Content-Security-Policy that
allows scripts, styles and connections only from this origin (plus its own LiveQuery websocket), forbids framing,
and turns off MIME sniffing. Starlette's StaticFiles never lists a directory and refuses paths outside its folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.settings import Settings

VIEWS_DIR = Path(__file__).resolve().parents[2] / "web" / "app"
VIEWS_PATH = "/app"
# A Host header is client input: only a plain host[:port] may reach the CSP header (anything else: 'self' only).
_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")
_FIXED_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # Patient data must not linger in shared caches; the browser revalidates the (small) files instead.
    (b"cache-control", b"no-cache, private"),
)


def content_security_policy(host: str | None) -> str:
    """Self only, plus this origin's websocket (LiveQuery); no inline script, no framing, no plugins."""
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")


def _host(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    return None


class SecurityHeaders:
    """Adds the pages' security headers to every response of the wrapped app (errors and 404s included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = content_security_policy(_host(scope)).encode("latin-1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _NAMES]
                message = {**message, "headers": [*headers, (b"content-security-policy", csp), *_FIXED_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NAMES = frozenset({b"content-security-policy", *(k for k, _ in _FIXED_HEADERS)})


def views_config(settings: Settings) -> dict[str, str]:
    """What the pages need to reach the API on this origin (the JavaScript key is public by Parse's design)."""
    config = {"appId": settings.app_id, "mountPath": "/" + settings.mount_path.strip("/")}
    if settings.javascript_key:
        config["javascriptKey"] = settings.javascript_key
    return config


def view_routes(settings: Settings, directory: Path = VIEWS_DIR) -> list[BaseRoute]:
    """/app/config.json and the static files under /app/; nothing when turned off or the folder is absent."""
    if not settings.serve_views or not directory.is_dir():
        return []
    body = json.dumps(views_config(settings)).encode()

    async def config(request: Request) -> Response:
        return Response(body, media_type="application/json")

    views = Router([Route("/config.json", config, methods=["GET", "HEAD"]),
                    Mount("/", app=StaticFiles(directory=directory, html=True))])
    # The 404s StaticFiles raises become responses inside the wrapper, so they carry the headers too.
    return [Mount(VIEWS_PATH, app=SecurityHeaders(ExceptionMiddleware(views)))]
