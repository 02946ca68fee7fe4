"""LiveQuery hooks the JS SDK suite (tests/js/livequery_user.test.mjs) relies on; loaded by tests/e2e/test_js_sdk.py."""

from __future__ import annotations

from engine.cloud import ErrorCode, LiveEventRequest, ParseError, SubscribeRequest, after_event, before_subscribe


@before_subscribe("LiveRefused")
def refuse(req: SubscribeRequest) -> None:
    raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "subscriptions to LiveRefused are closed")


@after_event("LiveRewritten")
def rewrite(req: LiveEventRequest) -> object:
    if req.object.get("drop"):
        return False
    req.object["note"] = f"rewritten for {req.event}"
    return None
