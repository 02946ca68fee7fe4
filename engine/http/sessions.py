"""/sessions, /sessions/me and /upgradeToRevocableSession (other /sessions routes are /classes/_Session)."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline.encode import object_to_json
from engine.pipeline.sessions import create_session, lookup_session_object
from engine.pipeline.users import find_user
from engine.query.where import Compare
from engine.storage.base import Changes
from engine.wire import Pointer, decode, now


async def me(call: ApiCall) -> ApiResult:
    svc = call.services
    token = call.auth.session_token
    session = await lookup_session_object(svc, token) if token else None
    if session is None:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
    return ApiResult(object_to_json(svc.schemas.require("_Session"), session))


async def create(call: ApiCall) -> ApiResult:
    """A new session for the caller (or, with the master key, for the user named in the body)."""
    svc, auth = call.services, call.auth
    body = dict(body_object(call))
    user_id = auth.user_id
    if auth.is_master and "user" in body:
        user = decode(body.pop("user"))
        if not isinstance(user, Pointer) or user.class_name != "_User":
            raise ParseError(ErrorCode.INVALID_POINTER, "user must be a _User pointer")
        user_id = user.object_id
    if not user_id:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Session token required.")
    for key in ("sessionToken", "user", "expiresAt", "createdWith", "installationId", "ACL"):
        if key in body:
            raise ParseError(ErrorCode.OPERATION_FORBIDDEN, f"Clients aren't allowed to set {key}.")
    session = await create_session(svc, user_id, action="create", provider="password",
                                   installation_id=auth.installation_id)
    body_out = object_to_json(svc.schemas.require("_Session"), session)
    location = f"{svc.settings.public_url()}/sessions/{session.object_id}"
    return ApiResult(body_out, status=201, headers={"Location": location})


async def upgrade(call: ApiCall) -> ApiResult:
    """Trade a legacy (non-`r:`) token stored on the user for a revocable session."""
    svc, auth = call.services, call.auth
    if not auth.user_id or not auth.session_token:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "invalid session")
    user = await find_user(svc, Compare(("objectId",), "eq", auth.user_id))
    if user is None:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "invalid session")
    session = await create_session(svc, user.object_id, action="upgrade", provider="password",
                                   installation_id=auth.installation_id)
    if user.internal.get("_session_token") == auth.session_token:
        await svc.storage.update(svc.schemas.require("_User"), Compare(("objectId",), "eq", user.object_id),
                                 Changes(updated_at=now(), internal={"_session_token": None}))
    return ApiResult(object_to_json(svc.schemas.require("_Session"), session))
