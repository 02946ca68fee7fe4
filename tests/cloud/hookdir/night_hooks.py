"""Hooks used by tests/cloud/test_pipeline_hooks.py (loaded with --cloud tests/cloud/hookdir)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from engine.cloud import (
    ErrorCode,
    FunctionRequest,
    JobRequest,
    ParseError,
    TriggerRequest,
    after_delete,
    after_find,
    after_login,
    after_logout,
    after_save,
    before_delete,
    before_find,
    before_login,
    before_save,
    define,
    job,
)
from engine.cloud.audit import write_audit
from tests.cloud.hook_events import EVENTS


@before_save("Night")
def night_before(req: TriggerRequest) -> None:
    EVENTS.append(f"beforeSave:Night:{req.object.get('label')}:{req.context.get('tag')}")
    obj = req.object
    if obj.get("minutes", 0) < 0:
        raise ParseError(ErrorCode.VALIDATION_ERROR, "minutes must be positive")
    if obj.get("label") == "boom":
        raise RuntimeError("kaboom inside the hook")
    if obj.get("label") == "slow":
        time.sleep(1.0)
    obj["normalized"] = str(obj.get("label", "")).strip().lower()
    if "scratch" in obj:
        del obj["scratch"]


@after_save("Night")
async def night_after(req: TriggerRequest) -> None:
    EVENTS.append(f"afterSave:Night:{req.object.get('label')}:{req.context.get('tag')}")
    if req.original is not None:
        EVENTS.append(f"original:{req.original.get('label')}")
    if req.object.get("label") == "after-fails":
        raise RuntimeError("afterSave failure must not undo the write")


@before_delete("Night")
async def night_before_delete(req: TriggerRequest) -> None:
    EVENTS.append(f"beforeDelete:Night:{req.object.get('label')}")
    if req.object.get("locked"):
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "locked nights cannot be deleted")


@after_delete("Night")
async def night_after_delete(req: TriggerRequest) -> None:
    EVENTS.append(f"afterDelete:Night:{req.object.get('label')}")


@before_find("Night")
async def night_before_find(req: TriggerRequest) -> None:
    EVENTS.append("beforeFind:Night")
    if req.query is not None:
        req.query.not_equal_to("hidden", True)


@after_find("Night")
async def night_after_find(req: TriggerRequest) -> Any:
    EVENTS.append("afterFind:Night")
    for obj in req.objects or []:
        obj["seenByAfterFind"] = True
    return None


@after_save("Study")
async def study_audit(req: TriggerRequest) -> None:
    EVENTS.append("afterSave:Study")
    await write_audit(req.data, actor=req.user, action="update" if req.original else "create",
                      entity_type="Study", entity_id=req.object.object_id or "", summary="study saved",
                      metadata={"fields": sorted(req.object.keys())})


@before_save("Chain")
async def chain_before(req: TriggerRequest) -> None:
    EVENTS.append("beforeSave:Chain")


@define("hello")
def hello(req: FunctionRequest) -> dict[str, Any]:
    return {"greeting": f"hi {req.params.get('name')}", "when": req.params.get("when"), "master": req.master}


@define("makeNight")
async def make_night(req: FunctionRequest) -> Any:
    night = await req.data.create("Night", {"label": "From Function"})
    await req.data.create("Chain", {"n": 1})
    return night


@define("whoami", validator={"requireUser": True})
async def whoami(req: FunctionRequest) -> str:
    assert req.user is not None
    return str(req.user["username"])


@define("adminOnly", validator={"requireMaster": True})
async def admin_only(req: FunctionRequest) -> str:
    return "ok"


@define("typed", validator={"fields": {"n": {"type": int, "required": True}}})
async def typed(req: FunctionRequest) -> int:
    return int(req.params["n"]) * 2


@define("sleepy")
async def sleepy(req: FunctionRequest) -> None:
    await asyncio.sleep(5)


@define("nights")
async def nights(req: FunctionRequest) -> list[Any]:
    return await req.data.query("Night").ascending("label").find(use_master=True)


@job("tally")
async def tally(req: JobRequest) -> None:
    req.message("counting")
    await req.data.create("Night", {"label": f"job {req.params.get('n')}"})


@job("broken")
async def broken(req: JobRequest) -> None:
    raise ParseError(ErrorCode.SCRIPT_FAILED, "job went wrong")


@before_login
async def no_banned(req: TriggerRequest) -> None:
    EVENTS.append(f"beforeLogin:{req.object['username']}")
    if req.object.get("banned"):
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "banned")


@after_login
async def logged_in(req: TriggerRequest) -> None:
    EVENTS.append(f"afterLogin:{req.object['username']}")


@after_logout
async def logged_out(req: TriggerRequest) -> None:
    EVENTS.append("afterLogout")
