"""The runner: sync and async hooks, timeouts, error mapping to Parse codes, after-hook failures swallowed."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from engine.cloud import (
    Cloud,
    CloudObject,
    CloudQuery,
    DataApi,
    FunctionRequest,
    JobRequest,
    ParseError,
    TriggerRequest,
    TriggerType,
)
from engine.cloud.runner import call_after, call_hook, run_after_trigger, run_function, run_job, run_trigger
from tests.cloud.fakes import FakeAccess


def fn_request(name: str = "f", **kw: Any) -> FunctionRequest:
    return FunctionRequest(function_name=name, data=DataApi(FakeAccess(), master=False), **kw)


def save_request(**kw: Any) -> TriggerRequest:
    return TriggerRequest(
        trigger_name=TriggerType.BEFORE_SAVE, class_name="Night", object=CloudObject("Night", None, {"m": 1}),
        data=DataApi(FakeAccess(), master=kw.get("master", False)), **kw,
    )


async def test_sync_hooks_run_off_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def hook(req: FunctionRequest) -> str:
        seen.append(threading.get_ident())
        return req.function_name

    assert await call_hook(hook, fn_request("sync"), timeout=1) == "sync"
    assert seen and seen[0] != loop_thread


async def test_async_hooks_and_awaitable_results() -> None:
    async def hook(req: FunctionRequest) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"n": 1}

    assert await call_hook(hook, fn_request(), timeout=1) == {"n": 1}
    assert await call_hook(lambda req: hook(req), fn_request(), timeout=1) == {"n": 1}


async def test_async_timeout_is_141() -> None:
    async def slow(req: Any) -> None:
        await asyncio.sleep(5)

    with pytest.raises(ParseError) as err:
        await call_hook(slow, fn_request(), timeout=0.05)
    assert err.value.code == 141 and "timed out" in err.value.message


async def test_sync_timeout_is_141_and_does_not_block_the_loop() -> None:
    release = threading.Event()

    def stuck(req: Any) -> None:
        release.wait(5)

    started = time.monotonic()
    with pytest.raises(ParseError) as err:
        await call_hook(stuck, fn_request(), timeout=0.05)
    release.set()
    assert err.value.code == 141 and "timed out" in err.value.message
    assert time.monotonic() - started < 2


async def test_a_timeout_error_raised_by_the_hook_is_not_a_script_timeout() -> None:
    async def hook(req: Any) -> None:
        raise TimeoutError("upstream took too long")

    with pytest.raises(ParseError) as err:
        await call_hook(hook, fn_request(), timeout=5)
    assert (err.value.code, err.value.message) == (141, "upstream took too long")


async def test_parse_error_keeps_code_and_message() -> None:
    def hook(req: Any) -> None:
        raise ParseError(142, "minutesAsleep exceeds minutesInBed")

    with pytest.raises(ParseError) as err:
        await call_hook(hook, fn_request(), timeout=1)
    assert (err.value.code, err.value.message) == (142, "minutesAsleep exceeds minutesInBed")


async def test_other_exceptions_are_141_with_the_traceback_only_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    async def hook(req: Any) -> None:
        raise KeyError("secret_internal_detail")

    with caplog.at_level(logging.ERROR, logger="engine.cloud"), pytest.raises(ParseError) as err:
        await call_hook(hook, fn_request(), timeout=1)
    assert err.value.code == 141
    assert "Traceback" not in err.value.message and "File " not in err.value.message
    assert err.value.message == "'secret_internal_detail'"
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)

    def empty(req: Any) -> None:
        raise RuntimeError()

    with pytest.raises(ParseError) as err:
        await call_hook(empty, fn_request(), timeout=1)
    assert (err.value.code, err.value.message) == (141, "Script failed. Unknown error.")


async def test_after_hook_failures_are_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def boom(req: Any) -> None:
        raise ValueError("after went wrong")

    async def slow(req: Any) -> None:
        await asyncio.sleep(5)

    with caplog.at_level(logging.WARNING, logger="engine.cloud"):
        assert await call_after(boom, fn_request(), 1) is None
        assert await call_after(slow, fn_request(), 0.05) is None
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "after went wrong" in messages and "timed out" in messages

    cloud = Cloud()
    cloud.after_save("Night", validator={"requireUser": True})(boom)
    hook = cloud.trigger(TriggerType.AFTER_SAVE, "Night")
    assert hook is not None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engine.cloud"):
        await run_after_trigger(hook, save_request(), timeout=1)  # validator fails: logged only
    assert "Please login to continue" in " ".join(r.getMessage() for r in caplog.records)


async def test_run_trigger_validates_then_calls_and_honours_skip_with_master_key() -> None:
    cloud = Cloud()
    calls: list[TriggerRequest] = []
    cloud.before_save("Night", validator={"skipWithMasterKey": True, "requireUser": True})(calls.append)
    hook = cloud.trigger(TriggerType.BEFORE_SAVE, "Night")
    assert hook is not None
    with pytest.raises(ParseError) as err:
        await run_trigger(hook, save_request(), timeout=1)
    assert err.value.code == 142 and not calls
    assert await run_trigger(hook, save_request(master=True), timeout=1) is None
    assert not calls  # skipped entirely for the master key
    user = CloudObject("_User", "u1", {})
    await run_trigger(hook, save_request(user=user), timeout=1)
    assert len(calls) == 1


async def test_run_function_lookup_validation_and_result() -> None:
    cloud = Cloud()
    cloud.define("double", validator={"fields": {"n": {"type": int, "required": True}}})(
        lambda req: req.params["n"] * 2
    )
    assert await run_function(cloud, "double", fn_request("double", params={"n": 21}), 1) == 42
    with pytest.raises(ParseError) as err:
        await run_function(cloud, "double", fn_request("double", params={}), 1)
    assert (err.value.code, err.value.message) == (142, "Validation failed. Please specify data for n.")


@pytest.mark.parametrize("name", ["__proto__", "constructor", "__init__", "toString", "missing", "..%2Fadmin"])
async def test_unknown_function_is_141_invalid_function(name: str) -> None:
    cloud = Cloud()
    cloud.define("hello")(lambda req: "hi")
    with pytest.raises(ParseError) as err:
        await run_function(cloud, name, fn_request(name), 1)
    assert (err.value.code, err.value.message) == (141, f'Invalid function: "{name}"')


async def test_run_job() -> None:
    cloud = Cloud()
    messages: list[str] = []

    def nightly(req: JobRequest) -> str:
        req.message("half way")
        return f"done {req.params['n']}"

    cloud.job("nightly")(nightly)
    request = JobRequest(job_name="nightly", job_id="j1", message=messages.append,
                         params={"n": 1}, data=DataApi(FakeAccess(), master=True))
    assert await run_job(cloud, "nightly", request) == "done 1"
    assert messages == ["half way"]
    with pytest.raises(ParseError) as err:
        await run_job(cloud, "constructor", request)
    assert (err.value.code, err.value.message) == (141, "Invalid job.")


async def test_before_find_edits_the_query_and_context_is_shared() -> None:
    cloud = Cloud()
    access = FakeAccess()
    data = DataApi(access, master=False)

    @cloud.before_find("Night")
    def only_mine(req: TriggerRequest) -> None:
        assert req.query is not None and req.user is not None
        req.query.equal_to("owner", req.user.object_id)
        req.context["scoped"] = True

    @cloud.after_find("Night")
    async def redact(req: TriggerRequest) -> list[CloudObject]:
        assert req.context["scoped"] is True and req.objects is not None
        return [o for o in req.objects if o.get("visible")]

    user = CloudObject("_User", "u1", {})
    context: dict[str, Any] = {}
    query = CloudQuery.from_json("Night", {"n": {"$gt": 1}}, {"limit": 10}, data=data)
    before = TriggerRequest(trigger_name=TriggerType.BEFORE_FIND, class_name="Night", query=query, user=user,
                            context=context, data=data)
    hook = cloud.trigger(TriggerType.BEFORE_FIND, "Night")
    assert hook is not None
    assert await run_trigger(hook, before, timeout=1) is None  # None: use request.query as edited
    assert query.where_json() == {"n": {"$gt": 1}, "owner": "u1"} and query.options_json() == {"limit": 10}

    rows = [CloudObject("Night", "a", {"visible": True}), CloudObject("Night", "b", {})]
    after = TriggerRequest(trigger_name=TriggerType.AFTER_FIND, class_name="Night", query=query, objects=rows,
                           user=user, context=context, data=data)
    hook = cloud.trigger(TriggerType.AFTER_FIND, "Night")
    assert hook is not None
    assert [o.object_id for o in await run_trigger(hook, after, timeout=1)] == ["a"]
