"""The route table, one line per endpoint, and the dispatcher that /batch shares with HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.http import (
    aggregate,
    batch,
    classes,
    cloud_code,
    config,
    functions,
    hooks_routes,
    misc,
    pages,
    push_audiences,
    schemas,
    scriptlog,
    sessions,
    users,
)
from engine.http.call import ApiCall, ApiResult, Handler


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _r(method: str, path: str, handler: Handler) -> RouteSpec:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    # Express matching: case-insensitive, trailing slash tolerated.
    return RouteSpec(method, re.compile(f"^{regex}/?$", re.IGNORECASE), handler)


async def _batch(call: ApiCall) -> ApiResult:
    return await batch.run_batch(call, dispatch)


def _serves(method: str, path: str) -> bool:
    return any(r.method == method and r.pattern.match(path) for r in ROUTES)


async def _server_info(call: ApiCall) -> ApiResult:
    return await misc.server_info(call, _serves)


def _on(class_name: str, handler: Handler) -> Handler:
    """`/users`, `/roles`, `/sessions` are `/classes/<system class>` under another name."""

    async def aliased(call: ApiCall) -> ApiResult:
        return await handler(replace(call, params={**call.params, "class_name": class_name}))

    return aliased


ROUTES: tuple[RouteSpec, ...] = (
    _r("GET", "/health", misc.health),
    _r("POST", "/health", misc.health),
    _r("GET", "/serverInfo", _server_info),
    _r("GET", "/classes/{class_name}", classes.find),
    _r("POST", "/classes/{class_name}", classes.create),
    _r("GET", "/classes/{class_name}/{object_id}", classes.get),
    _r("PUT", "/classes/{class_name}/{object_id}", classes.update),
    _r("DELETE", "/classes/{class_name}/{object_id}", classes.delete),
    _r("POST", "/batch", _batch),
    _r("POST", "/functions/{name}", functions.call_function),
    _r("GET", "/functions/{name}", functions.call_function),
    _r("POST", "/jobs", functions.start_job),
    _r("POST", "/jobs/{name}", functions.start_job),
    _r("GET", "/cloud_code/jobs", cloud_code.list_jobs),
    _r("GET", "/cloud_code/jobs/data", cloud_code.jobs_data),
    _r("POST", "/cloud_code/jobs", cloud_code.create_job),
    _r("PUT", "/cloud_code/jobs/{object_id}", cloud_code.edit_job),
    _r("DELETE", "/cloud_code/jobs/{object_id}", cloud_code.delete_job),
    _r("POST", "/users", _on("_User", classes.create)),
    _r("GET", "/users", _on("_User", classes.find)),
    _r("GET", "/users/me", users.me),
    _r("GET", "/users/{object_id}", _on("_User", classes.get)),
    _r("PUT", "/users/{object_id}", _on("_User", classes.update)),
    _r("DELETE", "/users/{object_id}", _on("_User", classes.delete)),
    _r("GET", "/login", users.login),
    _r("POST", "/login", users.login),
    _r("POST", "/logout", users.logout),
    _r("GET", "/verifyPassword", users.verify_password),
    _r("POST", "/verifyPassword", users.verify_password),
    _r("POST", "/requestPasswordReset", users.request_password_reset),
    _r("POST", "/verificationEmailRequest", users.verification_email_request),
    _r("POST", "/upgradeToRevocableSession", sessions.upgrade),
    _r("GET", "/sessions", _on("_Session", classes.find)),
    _r("POST", "/sessions", _on("_Session", classes.create)),
    _r("GET", "/sessions/me", sessions.me),
    _r("GET", "/sessions/{object_id}", _on("_Session", classes.get)),
    _r("PUT", "/sessions/{object_id}", _on("_Session", classes.update)),
    _r("DELETE", "/sessions/{object_id}", _on("_Session", classes.delete)),
    _r("GET", "/installations", _on("_Installation", classes.find)),
    _r("POST", "/installations", _on("_Installation", classes.create)),
    _r("GET", "/installations/{object_id}", _on("_Installation", classes.get)),
    _r("PUT", "/installations/{object_id}", _on("_Installation", classes.update)),
    _r("DELETE", "/installations/{object_id}", _on("_Installation", classes.delete)),
    _r("GET", "/aggregate/{class_name}", aggregate.aggregate),
    _r("GET", "/config", config.get_config),
    _r("PUT", "/config", config.put_config),
    _r("DELETE", "/purge/{class_name}", config.purge),
    _r("POST", "/push", config.push),
    _r("POST", "/loginAs", users.login_as),
    _r("GET", "/roles", _on("_Role", classes.find)),
    _r("POST", "/roles", _on("_Role", classes.create)),
    _r("GET", "/roles/{object_id}", _on("_Role", classes.get)),
    _r("PUT", "/roles/{object_id}", _on("_Role", classes.update)),
    _r("DELETE", "/roles/{object_id}", _on("_Role", classes.delete)),
    _r("GET", "/apps/choose_password", pages.choose_password),
    _r("GET", "/apps/{app_id}/verify_email", pages.verify_email),
    _r("POST", "/apps/{app_id}/resend_verification_email", pages.resend_verification),
    _r("GET", "/apps/{app_id}/request_password_reset", pages.reset_link),
    _r("POST", "/apps/{app_id}/request_password_reset", pages.reset_password),
    _r("GET", "/apps/{page}", pages.static_page),
    _r("GET", "/scriptlog", scriptlog.scriptlog),
    _r("GET", "/hooks/functions", hooks_routes.get_functions),
    _r("GET", "/hooks/functions/{function_name}", hooks_routes.get_functions),
    _r("POST", "/hooks/functions", hooks_routes.create),
    _r("PUT", "/hooks/functions/{function_name}", hooks_routes.put_function),
    _r("DELETE", "/hooks/functions/{function_name}", hooks_routes.delete_function),
    _r("GET", "/hooks/triggers", hooks_routes.get_triggers),
    _r("GET", "/hooks/triggers/{class_name}/{trigger_name}", hooks_routes.get_triggers),
    _r("POST", "/hooks/triggers", hooks_routes.create),
    _r("PUT", "/hooks/triggers/{class_name}/{trigger_name}", hooks_routes.put_trigger),
    _r("DELETE", "/hooks/triggers/{class_name}/{trigger_name}", hooks_routes.delete_trigger),
    _r("GET", "/push_audiences", push_audiences.find),
    _r("GET", "/push_audiences/{object_id}", push_audiences.get),
    _r("POST", "/push_audiences", push_audiences.create),
    _r("PUT", "/push_audiences/{object_id}", push_audiences.update),
    _r("DELETE", "/push_audiences/{object_id}", push_audiences.delete),
    _r("GET", "/schemas", schemas.list_all),
    _r("POST", "/schemas", schemas.create),
    _r("GET", "/schemas/{class_name}", schemas.get_one),
    _r("POST", "/schemas/{class_name}", schemas.create),
    _r("PUT", "/schemas/{class_name}", schemas.update),
    _r("DELETE", "/schemas/{class_name}", schemas.delete),
)


# What a read-only master key may still POST: calls and log-ins, whose own writes (if any) are the server's.
_READ_ONLY_POSTS = re.compile(r"^/(functions/[^/]+|batch|login|logout|verifyPassword)/?$", re.IGNORECASE)
_WRITE_VERBS = {"POST": "create", "PUT": "update", "DELETE": "delete"}


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1].lower() if path.startswith("/") else ""


def _index(routes: tuple[RouteSpec, ...]) -> dict[tuple[str, str], tuple[RouteSpec, ...]]:
    """The routes by method and first path segment, each group in table order: a call tries the few that could
    match instead of the whole table (every pattern starts with a literal segment; Express matches it
    case-insensitively)."""
    index: dict[tuple[str, str], list[RouteSpec]] = {}
    for route in routes:
        literal = route.pattern.pattern[2:].split("/", 1)[0].split("(", 1)[0]
        assert literal.replace("_", "").isalnum(), route.pattern.pattern
        index.setdefault((route.method, literal.lower()), []).append(route)
    return {key: tuple(group) for key, group in index.items()}


_BY_SEGMENT = _index(ROUTES)
_LEADING_SLASHES = re.compile(r"^//+")


async def dispatch(call: ApiCall) -> ApiResult:
    path = call.path
    if path.startswith("//"):
        path = _LEADING_SLASHES.sub("/", path)  # Parse accepts /parse//functions/x
    if call.auth.is_read_only and call.method != "GET" and not _READ_ONLY_POSTS.match(path):
        # Every other route writes (schemas, config, purge, jobs, push, loginAs): one gate covers /batch too.
        verb = _WRITE_VERBS.get(call.method, call.method.lower())
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"read-only masterKey isn't allowed to perform the {verb} operation.")
    for route in _BY_SEGMENT.get((call.method, _first_segment(path)), ()):
        m = route.pattern.match(path)
        if m:
            return await route.handler(ApiCall(call.method, call.path, m.groupdict(), call.query, call.body,
                                               call.ctx, call.creds, call.services))
    raise HTTPDenied(404, f"Cannot {call.method} {path}", code=ErrorCode.OBJECT_NOT_FOUND)
