"""The HTTP edge: bytes → credentials, method override and JSON → ApiCall → dispatch → JSON response."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.http.body import read_body
from engine.http.call import ApiCall
from engine.http.responses import ParseJSONResponse, error_response
from engine.http.routes import dispatch
from engine.pipeline.context import Services, request_context
from engine.pipeline.idempotency import claim_request_id
from engine.pipeline.schema_store import SCHEMA_TTL_SECONDS
from engine.pipeline.sessions import lookup_session
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


def _header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
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


def _cloud_context(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """`X-Parse-Cloud-Context` or the JS SDK's `_context`: an object handed to every hook of the request."""
    raw: Any = body.get("_context", request.headers.get("x-parse-cloud-context"))
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


def _credentials(request: Request, body: dict[str, Any]) -> Credentials:
    meta: dict[str, str] = {}
    for key in BODY_META:
        if key in body:
            value = body.pop(key)
            if key == "_context":
                continue
            if not isinstance(value, str) or len(value) > MAX_HEADER:
                raise HTTPDenied(403, "unauthorized")
            meta[key] = value
    app_id = _header(request, "x-parse-application-id")
    client = request.client
    ip = client.host if client else ""
    if app_id is None and "_ApplicationId" in meta:
        keys = tuple(v for k, v in meta.items() if k in ("_JavaScriptKey", "_ClientKey"))
        return Credentials(
            app_id=meta["_ApplicationId"], master_key=meta.get("_MasterKey"), session_token=meta.get("_SessionToken"),
            installation_id=meta.get("_InstallationId"), client_keys=keys, ip=ip,
        )
    keys = tuple(
        v for h in ("x-parse-rest-api-key", "x-parse-javascript-key", "x-parse-client-key", "x-parse-windows-key")
        if (v := _header(request, h)) is not None
    )
    return Credentials(
        app_id=app_id, master_key=_header(request, "x-parse-master-key"),
        session_token=_header(request, "x-parse-session-token"),
        installation_id=_header(request, "x-parse-installation-id"), client_keys=keys, ip=ip,
    )


def header_credentials(request: Request) -> tuple[Credentials, dict[str, Any]]:
    """Credentials and cloud context from headers only: the GraphQL endpoint never reads them from the body."""
    return _credentials(request, {}), _cloud_context(request, {})


# Options an SDK may repeat (`keys=a&keys=b`): Express reads them as a list and Parse joins it with commas.
_LIST_PARAMS = frozenset({"keys", "excludeKeys", "include", "order"})


def _query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    for name in _LIST_PARAMS & params.keys():
        values = request.query_params.getlist(name)
        if len(values) > 1:
            params[name] = ",".join(values)
    if "where" in params:
        try:
            # orjson bounds nesting depth itself; json.loads would hit RecursionError on a hostile `where`.
            params["where"] = orjson.loads(params["where"])
        except orjson.JSONDecodeError as exc:
            raise ParseError(ErrorCode.INVALID_JSON, "where parameter is not valid JSON") from exc
    return params


async def handle(request: Request, services: Services, sub_path: str) -> Response:
    try:
        raw = await read_body(request, services.settings.max_body_bytes)
        body = _parse_body(raw, request.headers.get("content-type", ""))
        method = request.method.upper()
        override = body.get("_method")
        if method == "POST" and isinstance(override, str):
            method = override.upper()
        context = _cloud_context(request, body)
        creds = _credentials(request, body)
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
            query = body if body else _query_params(request)
            body = {}
        else:
            query = _query_params(request)
        check_denylist(body)
        check_denylist(query)
        request_id = request.headers.get("x-parse-request-id")
        await claim_request_id(services, method, path, request_id)
        await services.schemas.refresh_if_stale(SCHEMA_TTL_SECONDS)
        ctx = request_context(auth, ip=creds.ip, headers=dict(request.headers), cloud_context=context,
                              request_id=request_id)
        call = ApiCall(method, path, {}, query, body, ctx, creds, services)
        result = await dispatch(call)
        if result.media_type != "application/json":
            return Response(result.body, status_code=result.status, headers=dict(result.headers),
                            media_type=result.media_type)
        return ParseJSONResponse(result.body, status_code=result.status, headers=dict(result.headers))
    except (ParseError, HTTPDenied) as exc:
        return error_response(exc)
    except Exception as exc:
        return error_response(exc)

