"""Revocable sessions (`_Session`): tokens `r:<32 hex>`, expiry, one per (user, installation), revocation."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.cloud.triggers import TriggerType
from engine.errors import ErrorCode, ParseError
from engine.pipeline import hooks
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json, object_to_json
from engine.query.options import FindOptions
from engine.query.where import Compare, Where, conjoin
from engine.security.auth import Auth
from engine.storage.base import Changes, StoredObject
from engine.wire import ACL, Pointer, decode, new_object_id, now

ONE = FindOptions(limit=1)
ALL = FindOptions(limit=None)


def new_token() -> str:
    return "r:" + secrets.token_hex(16)


async def lookup_session_object(svc: Services, token: str) -> StoredObject | None:
    """The live `_Session` holding this token; 209 when it has expired."""
    sessions = svc.schemas.require("_Session")
    rows = await svc.storage.find(sessions, Compare(("sessionToken",), "eq", token), ONE)
    if not rows:
        return None
    expires = rows[0].fields.get("expiresAt")
    if isinstance(expires, datetime) and expires <= now():
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Session token is expired.")
    return rows[0]


async def lookup_session(svc: Services, token: str, installation_id: str | None = None) -> Auth | None:
    """The Auth a session token stands for; None when unknown, 209 when expired."""
    session = await lookup_session_object(svc, token)
    if session is not None:
        user = session.fields.get("user")
        if not isinstance(user, Pointer):
            return None
        user_id = user.object_id
    else:
        # Legacy (pre-revocable) tokens live on the user; /upgradeToRevocableSession converts them.
        users = svc.schemas.require("_User")
        legacy = await svc.storage.find(users, Compare(("_session_token",), "eq", token), ONE)
        if not legacy:
            return None
        user_id = legacy[0].object_id
    roles = await svc.roles.roles_for(svc.storage, svc.schemas.require("_Role"), user_id)
    return Auth(user_id=user_id, role_names=roles, installation_id=installation_id, session_token=token)


async def create_session(
    svc: Services, user_id: str, *, action: str, provider: str, installation_id: str | None
) -> StoredObject:
    """A fresh session; the user's other sessions on the same installation end (Parse's rule)."""
    sessions = svc.schemas.require("_Session")
    if installation_id:
        await svc.storage.delete(sessions, conjoin(Compare(("user",), "eq", Pointer("_User", user_id)),
                                                   Compare(("installationId",), "eq", installation_id)))
    stamp = now()
    fields: dict[str, object] = {
        "sessionToken": new_token(),
        "user": Pointer("_User", user_id),
        "createdWith": {"action": action, "authProvider": provider},
        "expiresAt": stamp + timedelta(seconds=svc.settings.session_length),
    }
    if installation_id:
        fields["installationId"] = installation_id
    acl = ACL(frozenset({user_id}), frozenset({user_id}))
    session = StoredObject("_Session", new_object_id(), stamp, stamp, acl).with_fields(fields)
    await svc.storage.create(sessions, session)
    return session


async def revoke_token(svc: Services, token: str) -> int:
    return await svc.storage.delete(svc.schemas.require("_Session"), Compare(("sessionToken",), "eq", token))


async def revoke_user_sessions(svc: Services, user_id: str, keep_token: str | None = None) -> int:
    where: Where = Compare(("user",), "eq", Pointer("_User", user_id))
    if keep_token:
        where = conjoin(where, Compare(("sessionToken",), "ne", keep_token))
    return await svc.storage.delete(svc.schemas.require("_Session"), where)


# ---- the operations a caller reaches through the door ---------------------------------------------------

# A client names none of these: the server sets them when it makes the session.
_CLIENT_FORBIDDEN = ("sessionToken", "user", "expiresAt", "createdWith", "installationId", "ACL")


async def create_for_caller(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> StoredObject:
    """POST /sessions: a new session for the caller (or, with the master key, for the user in the body)."""
    auth = ctx.auth
    data = dict(body)
    user_id = auth.user_id
    if auth.is_master and "user" in data:
        user = decode(data.pop("user"))
        if not isinstance(user, Pointer) or user.class_name != "_User":
            raise ParseError(ErrorCode.INVALID_POINTER, "user must be a _User pointer")
        user_id = user.object_id
    if not user_id:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Session token required.")
    for key in _CLIENT_FORBIDDEN:
        if key in data:
            raise ParseError(ErrorCode.OPERATION_FORBIDDEN, f"Clients aren't allowed to set {key}.")
    return await create_session(svc, user_id, action="create", provider="password",
                                installation_id=auth.installation_id)


async def current(svc: Services, ctx: RequestContext) -> Json:
    """GET /sessions/me."""
    token = ctx.auth.session_token
    if not token:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Session token required.")
    session = await lookup_session_object(svc, token)
    if session is None:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
    return object_to_json(svc.schemas.require("_Session"), session)


async def upgrade(svc: Services, ctx: RequestContext) -> Json:
    """Trade a legacy (non-`r:`) token stored on the user for a revocable session."""
    auth = ctx.auth
    if not auth.user_id or not auth.session_token:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "invalid session")
    users = svc.schemas.require("_User")
    rows = await svc.storage.find(users, Compare(("objectId",), "eq", auth.user_id), ONE)
    if not rows:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "invalid session")
    user = rows[0]
    session = await create_session(svc, user.object_id, action="upgrade", provider="password",
                                   installation_id=auth.installation_id)
    if user.internal.get("_session_token") == auth.session_token:
        await svc.storage.update(users, Compare(("objectId",), "eq", user.object_id),
                                 Changes(updated_at=now(), internal={"_session_token": None}))
    return object_to_json(svc.schemas.require("_Session"), session)


async def logout(svc: Services, ctx: RequestContext) -> None:
    """POST /logout: the caller's session ends, then afterLogout sees it."""
    token = ctx.auth.session_token
    session = await lookup_session_object(svc, token) if token else None
    if token:
        await revoke_token(svc, token)
    if session is not None:
        obj = hooks.to_cloud(svc.schemas.require("_Session"), session)
        await hooks.user_trigger(svc, ctx, TriggerType.AFTER_LOGOUT, obj, after=True)
