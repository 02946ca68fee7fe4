"""The `/graphql` endpoint: GraphQL-over-HTTP (POST JSON, GET for queries) with REST's credentials and auth.

Credentials come from the same header parsing as REST (engine/http/edge.py) and resolve through security/auth.py;
a refused app id or session answers REST-shaped before GraphQL runs, as Parse's middleware does.
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import Response

from engine.errors import HTTPDenied, ParseError
from engine.graphql.limits import MAX_TOKENS, LimitExceeded, Limits, complexity, measure
from engine.graphql.resolvers import GqlContext
from engine.graphql.schema import SchemaCache
from engine.graphql.uploads import BadMultipart, parse_multipart
from engine.http.body import read_body
from engine.http.edge import header_credentials
from engine.http.responses import ParseJSONResponse, error_response
from engine.pipeline.context import Services, request_context
from engine.pipeline.schema_store import SCHEMA_TTL_SECONDS
from engine.pipeline.sessions import lookup_session
from engine.pipeline.webhook_store import refresh_webhooks
from engine.security.auth import Auth, check_app, resolve_auth

log = logging.getLogger("engine.graphql")
SUGGESTION = re.compile(r" Did you mean .*\?$")
REQUEST_LIMIT_EXCEEDED = 155


def _errors(status: int, message: str, code: str | int) -> Response:
    return ParseJSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


def format_error(error: GraphQLError, *, master: bool) -> dict[str, Any]:
    """Parse's shape: `extensions.code` is the Parse error code; internals never reach the client."""
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    original = error.original_error
    if isinstance(original, ParseError | HTTPDenied):
        out["message"] = original.message
        out["extensions"] = {"code": int(original.code)}
    elif original is not None and not isinstance(original, GraphQLError):
        log.error("graphql resolver failed", exc_info=original)
        out["message"] = "Internal server error."
        out["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    else:
        if not master:
            # Introspection is hidden from non-master callers, so error messages must not leak the schema.
            out["message"] = SUGGESTION.sub("", error.message)
        out["extensions"] = dict(error.extensions or {}) or {"code": "GRAPHQL_VALIDATION_FAILED"}
    return out


class BadVariables(Exception):
    """`variables` is neither absent, a JSON object, nor a string holding one."""


def _variables(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadVariables from exc
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadVariables
    return raw


class GraphQLEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = SchemaCache()

    def limits(self) -> Limits:
        s = self.services.settings
        return Limits(s.graphql_max_depth, s.graphql_max_fields, s.graphql_max_aliases, s.graphql_max_complexity,
                      s.default_limit, s.max_limit)

    async def _auth(self, request: Request) -> tuple[Auth, str, dict[str, Any]]:
        creds, cloud_context = header_credentials(request)
        settings = self.services.settings
        check_app(creds, settings)

        async def sessions(token: str) -> Auth | None:
            return await lookup_session(self.services, token, creds.installation_id)

        return await resolve_auth(creds, settings, sessions), creds.ip, cloud_context

    async def _payload(self, request: Request) -> dict[str, Any] | Response:
        if request.method == "GET":
            return dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            # The whole request within max_body_bytes, as the server's protocol bounds it for this path anyway.
            raw = await read_body(request, self.services.settings.max_body_bytes)
            try:
                return parse_multipart(raw, content_type)
            except BadMultipart as exc:
                return _errors(400, str(exc), "BAD_REQUEST")
        raw = await read_body(request, self.services.settings.max_body_bytes)
        if not content_type.startswith(("application/json", "application/graphql-response+json")):
            return _errors(400, "POST body missing, invalid Content-Type, or JSON object has no keys.", "BAD_REQUEST")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _errors(400, "POST body is not valid JSON.", "BAD_REQUEST")
        if isinstance(body, list):
            return _errors(400, "Operation batching disabled.", "BAD_REQUEST")
        if not isinstance(body, dict) or not body:
            return _errors(400, "POST body missing, invalid Content-Type, or JSON object has no keys.", "BAD_REQUEST")
        return body

    async def handle(self, request: Request) -> Response:
        try:
            auth, ip, cloud_context = await self._auth(request)
            payload = await self._payload(request)
        except (ParseError, HTTPDenied) as exc:
            return error_response(exc)
        if isinstance(payload, Response):
            return payload
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            return _errors(400, "GraphQL operations must contain a non-empty `query`.", "BAD_REQUEST")
        try:
            variables = _variables(payload.get("variables"))
        except BadVariables:
            return _errors(400, "`variables` must be a JSON object.", "BAD_REQUEST")
        operation_name = payload.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            return _errors(400, "`operationName` must be a string.", "BAD_REQUEST")
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLSyntaxError as exc:
            return _errors(400, exc.message, "GRAPHQL_PARSE_FAILED")
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (f'Unknown operation named "{operation_name}".' if operation_name
                       else "Must provide operation name if query contains multiple operations.")
            return _errors(400, message, "OPERATION_RESOLUTION_FAILURE")
        if request.method == "GET" and operation.operation is not OperationType.QUERY:
            return _errors(405, f"GET requests only support query operations, not "
                                f"{operation.operation.value} operations", "BAD_REQUEST")
        return await self._run(document, operation, variables, operation_name, auth, ip, cloud_context, request)

    async def _run(self, document: DocumentNode, operation: OperationDefinitionNode,
                   variables: dict[str, Any] | None, operation_name: str | None, auth: Auth, ip: str,
                   cloud_context: dict[str, Any], request: Request) -> Response:
        privileged = auth.is_master
        try:
            shape = measure(document, operation, None if privileged else self.limits())
        except LimitExceeded as exc:
            return _errors(400, str(exc), REQUEST_LIMIT_EXCEEDED)
        if shape.introspection and not (privileged or self.services.settings.graphql_public_introspection):
            return _errors(403, "Introspection is not allowed", "INTERNAL_SERVER_ERROR")
        svc = self.services
        try:
            await svc.schemas.refresh_if_stale(SCHEMA_TTL_SECONDS)
            if svc.webhooks.stale(svc.storage):  # webhook functions are fields of the schema built next
                await refresh_webhooks(svc)
            built = self.cache.get(svc.schemas.all(), svc.cloud.function_names())
        except (ParseError, HTTPDenied) as exc:
            return error_response(exc)
        problems = validate(built.schema, document)
        if problems:
            return ParseJSONResponse({"errors": [format_error(e, master=privileged) for e in problems]},
                                     status_code=400)
        if not privileged:
            try:
                complexity(built.schema, document, operation, variables, self.limits())
            except LimitExceeded as exc:
                return _errors(400, str(exc), REQUEST_LIMIT_EXCEEDED)
        ctx = request_context(auth, ip=ip, headers=dict(request.headers), cloud_context=cloud_context,
                              request_id=request.headers.get("x-parse-request-id"))
        outcome = execute(built.schema, document, variable_values=variables, operation_name=operation_name,
                          context_value=GqlContext(svc, ctx, built.gen))
        result = await outcome if inspect.isawaitable(outcome) else outcome
        assert isinstance(result, ExecutionResult)
        return self._respond(result, privileged)

    def _respond(self, result: ExecutionResult, master: bool) -> Response:
        errors = [format_error(e, master=master) for e in result.errors or []]
        if result.data is None and errors and all("path" not in e for e in errors):
            # Nothing ran: the variables did not coerce (Apollo's BAD_USER_INPUT answers 400).
            for e in errors:
                if e.get("extensions", {}).get("code") == "GRAPHQL_VALIDATION_FAILED":
                    e["extensions"] = {"code": "BAD_USER_INPUT"}
            return ParseJSONResponse({"errors": errors}, status_code=400)
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body = {"errors": errors, "data": result.data}
        return ParseJSONResponse(body)

