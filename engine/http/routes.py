"""The route table, one line per endpoint, and the dispatcher that /batch shares with HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from engine.errors import ErrorCode, HTTPDenied
from engine.http import batch, classes, misc, schemas
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


ROUTES: tuple[RouteSpec, ...] = (
    _r("GET", "/health", misc.health),
    _r("POST", "/health", misc.health),
    _r("GET", "/serverInfo", misc.server_info),
    _r("GET", "/classes/{class_name}", classes.find),
    _r("POST", "/classes/{class_name}", classes.create),
    _r("GET", "/classes/{class_name}/{object_id}", classes.get),
    _r("PUT", "/classes/{class_name}/{object_id}", classes.update),
    _r("DELETE", "/classes/{class_name}/{object_id}", classes.delete),
    _r("POST", "/batch", _batch),
    _r("GET", "/schemas", schemas.list_all),
    _r("POST", "/schemas", schemas.create),
    _r("GET", "/schemas/{class_name}", schemas.get_one),
    _r("POST", "/schemas/{class_name}", schemas.create),
    _r("PUT", "/schemas/{class_name}", schemas.update),
    _r("DELETE", "/schemas/{class_name}", schemas.delete),
)


async def dispatch(call: ApiCall) -> ApiResult:
    path = re.sub(r"^//+", "/", call.path)  # Parse accepts /parse//functions/x
    for route in ROUTES:
        if route.method != call.method:
            continue
        m = route.pattern.match(path)
        if m:
            return await route.handler(replace(call, params=m.groupdict()))
    raise HTTPDenied(404, f"Cannot {call.method} {path}", code=ErrorCode.OBJECT_NOT_FOUND)
