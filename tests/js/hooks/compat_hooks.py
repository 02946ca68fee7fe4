"""Hooks the JS SDK suite (tests/js/cloud.test.mjs) calls; loaded by tests/e2e/test_js_sdk.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.cloud import CloudObject, ErrorCode, FunctionRequest, ParseError, TriggerRequest, before_save, define


@define("echoTyped")
async def echo_typed(req: FunctionRequest) -> dict[str, Any]:
    when = req.params["when"]
    item = req.params.get("item")
    return {
        "n": req.params["n"] * 2,
        "later": when + timedelta(days=1),
        "itemClass": item.class_name if isinstance(item, CloudObject) else None,
        "itemId": item.object_id if isinstance(item, CloudObject) else None,
    }


@define("makeCloudNote")
async def make_cloud_note(req: FunctionRequest) -> CloudObject:
    return await req.data.create("CloudNote", {"title": str(req.params.get("title", "untitled"))}, use_master=True)


@before_save("CloudNote")
async def normalize(req: TriggerRequest) -> None:
    obj = req.object
    assert obj is not None
    title = obj.get("title")
    if title == "reject me":
        raise ParseError(ErrorCode.VALIDATION_ERROR, "titles may not say reject me")
    if isinstance(title, str):
        obj["title"] = title.strip().upper()
        obj["length"] = len(title.strip())


@define("returnsNothing")
def returns_nothing(req: FunctionRequest) -> None:
    """Issue 14: a function without a result reaches the SDK as `undefined` (tests/js/compat.test.mjs)."""
