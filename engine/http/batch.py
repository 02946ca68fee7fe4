"""/batch: replays each sub-request through the same route table with the caller's auth."""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from engine.cloud.triggers import TriggerType
from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.http.responses import error_body
from engine.pipeline import door
from engine.pipeline.transaction import atomically

Dispatch = Callable[[ApiCall], Awaitable[ApiResult]]

# Sibling creates stored together: one writer round trip and one statement for their rows instead of one each,
# while a master key's large batch still never holds more than a chunk's rows at once. 50: a client's whole
# batch (the default batch limit) is one chunk.
CREATES_PER_STORE_CALL = 50
_CLASS_PATH = re.compile(r"/classes/([^/]+)/?", re.IGNORECASE)


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
    # Built directly: dataclasses.replace re-checks every field by name, fifty times a batch.
    return ApiCall(method, sub_path, {}, query, {} if method == "GET" else body, call.ctx, call.creds, call.services)


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
    # The edge already walked the whole body for denylisted keys. Every sub-request is validated before any
    # runs, so a malformed batch writes nothing.
    subs = [_sub_call(call, item) for item in requests]
    if body.get("transaction") is True:
        return await _run_atomic(call, subs, dispatch)
    out: list[dict[str, Any]] = []
    for run in _runs(call, subs):
        if len(run) == 1:
            out.append(await _outcome(run[0], dispatch))
        else:
            out.extend(await _run_together(run))
    return ApiResult(out)


def _runs(call: ApiCall, subs: list[ApiCall]) -> list[list[ApiCall]]:
    """Sub-requests in order, with each stretch of consecutive independent creates as one run. Everything else
    runs alone and in order, so a batch that creates, then updates, then reads sees each step's effect."""
    runs: list[list[ApiCall]] = []
    joinable = False  # whether the last run is a run of independent creates
    for sub in subs:
        independent = _independent_create(call, sub)
        if independent and joinable:
            runs[-1].append(sub)
        else:
            runs.append([sub])
        joinable = independent
    return runs


def _independent_create(call: ApiCall, sub: ApiCall) -> bool:
    """A create that no sibling create can observe: a user class, a server-assigned objectId, and no beforeSave
    hook (which might query for a sibling, e.g. a double-booked slot). Parse Server runs every sub-request of a
    batch at once; running only these together keeps the order-dependent cases ordered."""
    if sub.method != "POST":
        return False
    match = _CLASS_PATH.fullmatch(sub.path)
    if match is None or match.group(1).startswith("_"):
        return False
    if "objectId" in sub.body:
        return False
    return not call.services.cloud.has_trigger(TriggerType.BEFORE_SAVE, match.group(1))


async def _run_together(run: list[ApiCall]) -> list[dict[str, Any]]:
    """A run of independent creates, a chunk at a time, each chunk's creates in one class stored together: one
    writer round trip instead of one per create. Each still gets its own answer, in request order."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(run), CREATES_PER_STORE_CALL):
        for class_name, same_class in itertools.groupby(run[start:start + CREATES_PER_STORE_CALL], key=_class_name):
            subs = list(same_class)
            first = subs[0]
            saved = await door.create_many(first.services, first.ctx, class_name, [sub.body for sub in subs])
            out.extend({"success": s.body} if isinstance(s, door.Saved) else {"error": error_body(s)[1]}
                       for s in saved)
    return out


def _class_name(sub: ApiCall) -> str:
    match = _CLASS_PATH.fullmatch(sub.path)
    assert match is not None  # only independent creates reach here
    return match.group(1)


async def _outcome(sub: ApiCall, dispatch: Dispatch) -> dict[str, Any]:
    try:
        result = await dispatch(sub)
    except (ParseError, HTTPDenied) as exc:
        _, err = error_body(exc)
        return {"error": err}
    return {"success": result.body}


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
