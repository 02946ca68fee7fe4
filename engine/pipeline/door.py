"""The one door: every object operation, from any entry point, enters here with its RequestContext.

REST handlers, `/batch` sub-requests and the hook data API all call these functions, so the class rules
(`security/class_access.py`, checked again inside read.py/write.py), CLP, ACL and each special class's own
logic apply whatever the way in. Special classes are handled by their own module below this one:
`_User` users.py, `_Session` sessions.py, `_Installation` installations.py, `_JobStatus` jobs.py,
`_Role` and server-owned columns special.py; everything else goes straight to read.py / write.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import HTTPDenied, ParseError
from engine.pipeline import installations, sessions, users
from engine.pipeline.context import RequestContext, Services, refuse_read_only, require_master
from engine.pipeline.encode import Json, object_to_json
from engine.pipeline.read import FindResult, run_find, run_get
from engine.pipeline.write import Refused, run_create, run_create_many, run_delete, run_update
from engine.query.where import MATCH_ALL
from engine.security.class_access import check_append_only
from engine.security.clp import Op

# The classes `create` hands to their own modules (below): never stored straight from a body.
_SPECIAL_CREATES = frozenset({"_User", "_Session", "_Installation"})


@dataclass(frozen=True, slots=True)
class Saved:
    """A create's answer: `created` is False when the class turned it into an update or a log-in (200)."""

    body: Json
    object_id: str
    created: bool


async def find(svc: Services, ctx: RequestContext, class_name: str, params: Mapping[str, Any]) -> FindResult:
    return await run_find(svc, ctx, class_name, params)


async def count(svc: Services, ctx: RequestContext, class_name: str, where: Mapping[str, Any]) -> int:
    found = await run_find(svc, ctx, class_name, {"where": dict(where), "count": 1, "limit": 0})
    return found.count or 0


async def get(
    svc: Services, ctx: RequestContext, class_name: str, object_id: str, params: Mapping[str, Any]
) -> Json:
    body = await run_get(svc, ctx, class_name, object_id, params)
    if class_name == "_User" and object_id == ctx.auth.user_id and ctx.auth.session_token:
        # Parse hands a user fetching their own record the token they sent (the SDK's `fetch()` of the
        # current user keeps its session); nobody else's token is ever returned.
        body["sessionToken"] = ctx.auth.session_token
    return body


async def create(svc: Services, ctx: RequestContext, class_name: str, body: Mapping[str, Any]) -> Saved:
    refuse_read_only(ctx, "create")
    # Users and sessions carry secrets (password hashes, tokens) and installations are de-duplicated:
    # only their own module writes them.
    if class_name == "_User":
        user = await users.signup(svc, ctx, body)
        return Saved(user.body, user.object_id, user.created)
    if class_name == "_Session":
        session = await sessions.create_for_caller(svc, ctx, body)
        return Saved(object_to_json(svc.schemas.require("_Session"), session), session.object_id, True)
    if class_name == "_Installation":
        device = await installations.create_installation(svc, ctx, body)
        return Saved(device.body, device.object_id, device.created)
    created = await run_create(svc, ctx, class_name, body)
    return Saved(created.body, created.object_id, True)


async def create_many(
    svc: Services, ctx: RequestContext, class_name: str, bodies: Sequence[Mapping[str, Any]]
) -> list[Saved | Refused]:
    """Creates in one class, each answered as ``create`` would answer it: a batch's run of creates. The
    special classes' modules write one object at a time, so their creates go through ``create`` in order."""
    try:
        refuse_read_only(ctx, "create")
    except ParseError as exc:
        return [exc] * len(bodies)
    if class_name in _SPECIAL_CREATES:
        out: list[Saved | Refused] = []
        for body in bodies:
            try:
                out.append(await create(svc, ctx, class_name, body))
            except (ParseError, HTTPDenied) as exc:
                out.append(exc)
        return out
    return [c if isinstance(c, ParseError | HTTPDenied) else Saved(c.body, c.object_id, True)
            for c in await run_create_many(svc, ctx, class_name, bodies)]


async def update(
    svc: Services, ctx: RequestContext, class_name: str, object_id: str, body: Mapping[str, Any]
) -> Json:
    refuse_read_only(ctx, "update")
    # Here as well as in write.py: the special classes' modules below do not all reach write.py.
    check_append_only(class_name, Op.UPDATE, svc.settings.append_only_classes)
    if class_name == "_User":
        return await users.update_user(svc, ctx, object_id, body)
    if class_name == "_Installation":
        return await installations.update_installation(svc, ctx, object_id, body)
    return await run_update(svc, ctx, class_name, object_id, body)


async def delete(svc: Services, ctx: RequestContext, class_name: str, object_id: str) -> None:
    refuse_read_only(ctx, "delete")
    check_append_only(class_name, Op.DELETE, svc.settings.append_only_classes)
    if class_name == "_User":
        await users.delete_user(svc, ctx, object_id)
        return
    await run_delete(svc, ctx, class_name, object_id)


async def purge(svc: Services, ctx: RequestContext, class_name: str) -> None:
    """DELETE /purge/<class> (master key): every object goes; the class and its schema stay."""
    require_master(ctx)
    refuse_read_only(ctx, "delete")
    check_append_only(class_name, Op.DELETE, svc.settings.append_only_classes)
    cls = svc.schemas.require(class_name)
    await svc.storage.delete(cls, MATCH_ALL)
    if cls.name == "_Role":
        svc.roles.clear()
