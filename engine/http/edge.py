"""The HTTP edge: bytes → credentials, method override and JSON → ApiCall → dispatch → JSON response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.http.body import read_body
from engine.http.call import ApiCall
from engine.http.responses import Answer, error_answer, error_response, json_answer
from engine.http.routes import dispatch
from engine.pipeline.context import Services, request_context
from engine.pipeline.idempotency import claim_request_id
from engine.pipeline.schema_store import SCHEMA_TTL_SECONDS
from engine.pipeline.sessions import lookup_session
from engine.pipeline.webhook_store import refresh_webhooks
from engine.security.auth import Auth, Credentials, check_app, resolve_auth
from engine.wire import check_denylist

log = logging.getLogger("engine.http")

MAX_HEADER = 1024
# The JS SDK's credentials-in-body convention (RESTController); Parse strips these before routing.
BODY_META = ("_ApplicationId", "_JavaScriptKey", "_ClientKey", "_MasterKey", "_SessionToken", "_InstallationId",
             "_ClientVersion", "_context", "_ContentType", "_RevocableSession", "_noBody", "_MaintenanceKey",
             "_method")
NO_AUTH_PATHS = ("/health",)
NO_AUTH_PREFIXES = ("/apps/",)  # email-link pages are opened from a mail client, with no Parse headers


class Incoming:
    """The parts of one request the edge reads, taken from the ASGI scope once: header lookups are dict hits, not
    scans of the raw header list (Starlette's Headers re-encodes the name and walks the list on every get)."""

    __slots__ = ("method", "headers", "ip", "query_string")

    def __init__(self, method: str, headers: dict[str, str], ip: str, query_string: bytes) -> None:
        self.method, self.headers, self.ip, self.query_string = method, headers, ip, query_string

    @classmethod
    def of(cls, scope: Scope) -> Incoming:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            if key not in headers:  # the first occurrence wins, as Starlette's Headers.get
                headers[key] = value.decode("latin-1")
        client = scope.get("client")
        return cls(scope["method"], headers, client[0] if client else "", scope.get("query_string", b""))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if len(value) > MAX_HEADER:
        raise ParseError(ErrorCode.INVALID_JSON, f"{name} header is too long")
    return value


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw.strip() or content_type.startswith("multipart/form-data"):
        return {}
    if content_type.startswith("application/x-www-form-urlencoded") and not raw.lstrip().startswith(b"{"):
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(ErrorCode.INVALID_JSON, "invalid JSON") from exc
    if not isinstance(data, dict):
        raise ParseError(ErrorCode.INVALID_JSON, "request body must be a JSON object")
    return data


def _cloud_context(headers: Mapping[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """`X-Parse-Cloud-Context` or the JS SDK's `_context`: an object handed to every hook of the request."""
    raw: Any = body.get("_context", headers.get("x-parse-cloud-context"))
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(ErrorCode.INVALID_JSON, "Context is not a valid JSON object") from exc
    if not isinstance(raw, dict):
        raise ParseError(ErrorCode.INVALID_JSON, "Context is not an object")
    check_denylist(raw)
    return raw


_KEY_HEADERS = ("x-parse-rest-api-key", "x-parse-javascript-key", "x-parse-client-key", "x-parse-windows-key")


def _creds(headers: Mapping[str, str], ip: str, body: dict[str, Any]) -> Credentials:
    meta: dict[str, str] = {}
    if body:
        for key in BODY_META:
            if key in body:
                value = body.pop(key)
                if key == "_context":
                    continue
                if not isinstance(value, str) or len(value) > MAX_HEADER:
                    raise HTTPDenied(403, "unauthorized")
                meta[key] = value
    app_id = _header(headers, "x-parse-application-id")
    if app_id is None and "_ApplicationId" in meta:
        keys = tuple(v for k, v in meta.items() if k in ("_JavaScriptKey", "_ClientKey"))
        return Credentials(
            app_id=meta["_ApplicationId"], master_key=meta.get("_MasterKey"), session_token=meta.get("_SessionToken"),
            installation_id=meta.get("_InstallationId"), client_keys=keys, ip=ip,
        )
    keys = tuple(v for h in _KEY_HEADERS if (v := _header(headers, h)) is not None)
    return Credentials(
        app_id=app_id, master_key=_header(headers, "x-parse-master-key"),
        session_token=_header(headers, "x-parse-session-token"),
        installation_id=_header(headers, "x-parse-installation-id"), client_keys=keys, ip=ip,
    )


def _client_ip(request: Request) -> str:
    client = request.client
    return client.host if client else ""


def _credentials(request: Request, body: dict[str, Any]) -> Credentials:
    """Credentials of a Starlette request (the files API), by the same rules as the REST edge."""
    return _creds(request.headers, _client_ip(request), body)


def header_credentials(request: Request) -> tuple[Credentials, dict[str, Any]]:
    """Credentials and cloud context from headers only: the GraphQL endpoint never reads them from the body."""
    return _creds(request.headers, _client_ip(request), {}), _cloud_context(request.headers, {})


# Options an SDK may repeat (`keys=a&keys=b`): Express reads them as a list and Parse joins it with commas.
_LIST_PARAMS = frozenset({"keys", "excludeKeys", "include", "order"})


def _query_params(query_string: bytes) -> dict[str, Any]:
    if not query_string:
        return {}
    # Decoded as Starlette's QueryParams: latin-1 bytes, then percent-decoding as UTF-8; the last value wins.
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    params: dict[str, Any] = dict(pairs)
    for name in _LIST_PARAMS & params.keys():
        values = [v for k, v in pairs if k == name]
        if len(values) > 1:
            params[name] = ",".join(values)
    if "where" in params:
        try:
            # orjson bounds nesting depth itself; json.loads would hit RecursionError on a hostile `where`.
            params["where"] = orjson.loads(params["where"])
        except orjson.JSONDecodeError as exc:
            raise ParseError(ErrorCode.INVALID_JSON, "where parameter is not valid JSON") from exc
    return params


async def serve(incoming: Incoming, raw: bytes, services: Services, sub_path: str) -> Answer:
    """One REST call, start to answer; every failure becomes Parse's error shape (never an exception)."""
    try:
        headers = incoming.headers
        body = _parse_body(raw, headers.get("content-type", ""))
        method = incoming.method.upper()
        override = body.get("_method")
        if method == "POST" and isinstance(override, str):
            method = override.upper()
        context = _cloud_context(headers, body)
        creds = _creds(headers, incoming.ip, body)
        path = "/" + sub_path.lstrip("/")
        lowered = path.rstrip("/").lower()
        if lowered in NO_AUTH_PATHS or lowered.startswith(NO_AUTH_PREFIXES):
            auth = await resolve_auth(Credentials(), services.settings)
        else:
            check_app(creds, services.settings)
            if lowered == "/login":
                creds = replace(creds, session_token=None)  # Parse ignores a token sent to /login

            async def sessions(token: str) -> Auth | None:
                return await lookup_session(services, token, creds.installation_id)

            auth = await resolve_auth(creds, services.settings, sessions)
        if method == "GET":
            query = body if body else _query_params(incoming.query_string)
            body = {}
        else:
            query = _query_params(incoming.query_string)
        if body:
            check_denylist(body)
        if query:
            check_denylist(query)
        request_id = headers.get("x-parse-request-id")
        if request_id is not None:
            await claim_request_id(services, method, path, request_id)
        await services.schemas.refresh_if_stale(SCHEMA_TTL_SECONDS)
        if services.webhooks.stale(services.storage):  # a counter read; the re-sync only when `_Hooks` moved
            await refresh_webhooks(services)
        ctx = request_context(auth, ip=creds.ip, headers=headers, cloud_context=context, request_id=request_id)
        call = ApiCall(method, path, {}, query, body, ctx, creds, services)
        result = await dispatch(call)
        if result.media_type != "application/json":
            return Answer.of(Response(result.body, status_code=result.status, headers=dict(result.headers),
                                      media_type=result.media_type))
        return json_answer(result.body, result.status, result.headers)
    except Exception as exc:  # ParseError and HTTPDenied carry their own status; anything else is a logged 500
        return error_answer(exc)


async def handle(request: Request, services: Services, sub_path: str) -> Response:
    """`serve` for a Starlette request (the files API's fall-through)."""
    try:
        raw = await read_body(request, services.settings.max_body_bytes)
    except Exception as exc:
        return error_response(exc)
    answer = await serve(Incoming.of(request.scope), raw, services, sub_path)
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = list(answer.headers)
    return response
