"""/batch: replays each sub-request through the same route table with the caller's auth."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.http.responses import error_body
from engine.pipeline.transaction import atomically
from engine.wire import check_denylist

Dispatch = Callable[[ApiCall], Awaitable[ApiResult]]


def _sub_call(call: ApiCall, item: object) -> ApiCall:
    if not isinstance(item, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "each batch request must be an object")
    method, path, body = item.get("method"), item.get("path"), item.get("body", {})
    if not isinstance(method, str) or method.upper() not in ("GET", "POST", "PUT", "DELETE"):
        raise ParseError(ErrorCode.INVALID_JSON, "batch request needs a method")
    mount = call.services.settings.mount_path.rstrip("/")
    if not isinstance(path, str) or not path.startswith(mount + "/"):
        raise ParseError(ErrorCode.INVALID_JSON, f"cannot route batch path {path}")
    sub_path = path[len(mount):].split("?", 1)[0]
    if sub_path.rstrip("/").lower() == "/batch":
        raise ParseError(ErrorCode.INVALID_JSON, "nested batch requests are not allowed")
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "batch request body must be an object")
    method = method.upper()
    query: Mapping[str, Any] = body if method == "GET" else {}
    return replace(call, method=method, path=sub_path, params={}, query=query, body={} if method == "GET" else body)


async def run_batch(call: ApiCall, dispatch: Dispatch) -> ApiResult:
    body = body_object(call)
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise ParseError(ErrorCode.INVALID_JSON, "requests must be an array")
    limit = call.services.settings.batch_limit
    if not call.auth.is_master and len(requests) > limit:
        raise ParseError(
            ErrorCode.INVALID_JSON,
            f"Batch request contains {len(requests)} sub-requests, which exceeds the limit of {limit}.",
        )
    check_denylist(requests)
    # Every sub-request is validated before any runs, so a malformed batch writes nothing.
    subs = [_sub_call(call, item) for item in requests]
    if body.get("transaction") is True:
        return await _run_atomic(call, subs, dispatch)
    out: list[dict[str, Any]] = []
    for sub in subs:
        try:
            result = await dispatch(sub)
        except (ParseError, HTTPDenied) as exc:
            _, err = error_body(exc)
            out.append({"error": err})
            continue
        out.append({"success": result.body})
    return ApiResult(out)


TRANSACTION_ATTEMPTS = 5  # Parse Server retries a batch transaction that hit a transient conflict (251)


async def _run_atomic(call: ApiCall, subs: list[ApiCall], dispatch: Dispatch) -> ApiResult:
    """``transaction: true``: every sub-request commits or none does. The first failing sub-request's error is
    the answer (its own status and code), after the rollback; a deadlock or serialization conflict (251) runs
    the whole batch again, as Parse Server does."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            return await _attempt_atomic(call, subs, dispatch)
        except ParseError as exc:
            if exc.code != ErrorCode.INVALID_LINKED_SESSION or attempt == TRANSACTION_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _attempt_atomic(call: ApiCall, subs: list[ApiCall], dispatch: Dispatch) -> ApiResult:
    out: list[dict[str, Any]] = []
    async with atomically(call.services):
        for sub in subs:
            result = await dispatch(sub)
            if result.status >= 400:  # a handler that answered an error rather than raising one
                raise ParseError(_code(result.body), _message(result.body))
            out.append({"success": result.body})
    return ApiResult(out)


def _code(body: object) -> int:
    code = body.get("code") if isinstance(body, Mapping) else None
    return code if isinstance(code, int) else ErrorCode.INTERNAL_SERVER_ERROR.value


def _message(body: object) -> str:
    message = body.get("error") if isinstance(body, Mapping) else None
    return message if isinstance(message, str) else "Internal server error."
