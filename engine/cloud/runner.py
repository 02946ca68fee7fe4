"""Run hook code safely: sync or async, under a timeout, with every failure turned into a Parse error.

This is the one place that normalises hook calls (datasette's ``await_me_maybe``): a ParseError raised by a hook
keeps its code and message; anything else becomes 141 with the exception's message, its traceback logged here
and never sent to the client.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from engine.cloud.registry import Cloud, Hook, HookFn, invalid_function
from engine.cloud.request import FunctionRequest, HookRequest, JobRequest, TriggerRequest
from engine.cloud.validators import check, skips_hook
from engine.errors import ErrorCode, ParseError

log = logging.getLogger("engine.cloud")

UNKNOWN_FAILURE = "Script failed. Unknown error."

# ASYNC109 (take a timeout parameter, let callers use asyncio.timeout) is waived below on purpose: the hook time
# limit is part of the runner's contract, so every caller gets the same 141 "Script timed out" mapping and a
# hook's own TimeoutError is told apart from the deadline, in this one place.


def _describe(fn: HookFn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


async def _invoke(fn: HookFn, request: HookRequest) -> Any:
    if inspect.iscoroutinefunction(fn):
        result = fn(request)
    else:
        # A sync hook runs in a worker thread so a slow one cannot stall every other request on the loop.
        result = await asyncio.to_thread(fn, request)
    if inspect.isawaitable(result):  # a sync callable that returned a coroutine (e.g. a lambda, a partial)
        result = await result
    return result


async def call_hook(fn: HookFn, request: HookRequest, *, timeout: float | None) -> Any:  # noqa: ASYNC109
    """Call one hook and return its result; raises ParseError only (141 on timeout or an unexpected exception).

    ``timeout=None`` waits forever (jobs). A sync hook that times out keeps running in its thread: Python cannot
    stop a thread, so it only stops being waited for.
    """
    try:
        async with asyncio.timeout(timeout) as deadline:
            return await _invoke(fn, request)
    except ParseError:
        raise
    except TimeoutError as exc:
        # Only our deadline means "script timed out"; a TimeoutError the hook raised itself is a plain failure.
        if deadline.expired():
            log.error("cloud code %s timed out after %ss", _describe(fn), timeout)
            raise ParseError(ErrorCode.SCRIPT_FAILED, f"Script timed out after {timeout:g} seconds.") from exc
        log.exception("cloud code %s failed", _describe(fn))
        raise ParseError(ErrorCode.SCRIPT_FAILED, str(exc) or UNKNOWN_FAILURE) from exc
    except Exception as exc:
        log.exception("cloud code %s failed", _describe(fn))
        raise ParseError(ErrorCode.SCRIPT_FAILED, str(exc) or UNKNOWN_FAILURE) from exc


async def call_after(fn: HookFn, request: HookRequest, timeout: float | None) -> None:  # noqa: ASYNC109
    """Run an after* hook whose failure must not change the response (Parse only logs afterSave errors)."""
    try:
        await call_hook(fn, request, timeout=timeout)
    except ParseError as exc:
        log.warning("after hook %s failed (ignored): %s %s", _describe(fn), exc.code, exc.message)


async def run_trigger(
    hook: Hook,
    request: TriggerRequest,
    *,
    timeout: float | None,  # noqa: ASYNC109
    user_roles: frozenset[str] = frozenset(),
) -> Any:
    """Validator, then the trigger; returns what the hook returned, or None when ``skipWithMasterKey`` skipped it.

    None means "unchanged" to every caller: beforeFind keeps ``request.query``, afterFind keeps
    ``request.objects``, beforeSave keeps ``request.object`` as the hook left it.
    """
    await check(hook.validator, request, user_roles)
    if skips_hook(hook.validator, request):
        return None
    return await call_hook(hook.fn, request, timeout=timeout)


async def run_after_trigger(
    hook: Hook,
    request: TriggerRequest,
    *,
    timeout: float | None,  # noqa: ASYNC109
    user_roles: frozenset[str] = frozenset(),
) -> None:
    """afterSave / afterDelete / afterLogin / afterLogout: validator and hook failures are logged, never raised."""
    try:
        await run_trigger(hook, request, timeout=timeout, user_roles=user_roles)
    except ParseError as exc:
        log.warning("%s trigger on %s failed (ignored): %s %s", hook.kind, hook.name, exc.code, exc.message)


async def run_function(
    cloud: Cloud,
    name: str,
    request: FunctionRequest,
    timeout: float | None,  # noqa: ASYNC109
    *,
    user_roles: frozenset[str] = frozenset(),
) -> Any:
    """POST /functions/<name>: 141 ``Invalid function: "<name>"`` when unknown, 142 on validation, else the result
    (encode it with ``engine.cloud.objects.encode_result``)."""
    hook = cloud.function(name)
    if hook is None:
        raise invalid_function(name)
    await check(hook.validator, request, user_roles)
    return await call_hook(hook.fn, request, timeout=timeout)


async def run_job(
    cloud: Cloud,
    name: str,
    request: JobRequest,
    timeout: float | None = None,  # noqa: ASYNC109
) -> Any:
    """POST /jobs/<name> (master key only, checked by the caller): 141 ``Invalid job.`` when unknown."""
    hook = cloud.job_fn(name)
    if hook is None:
        raise ParseError(ErrorCode.SCRIPT_FAILED, "Invalid job.")
    return await call_hook(hook.fn, request, timeout=timeout)
