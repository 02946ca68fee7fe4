"""/users, /login, /logout, /users/me, /verifyPassword and the email request routes."""

from __future__ import annotations

from engine.cloud.triggers import TriggerType
from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import email_flows, hooks, users
from engine.pipeline.sessions import lookup_session_object, revoke_token


async def signup(call: ApiCall) -> ApiResult:
    result = await users.signup(call.services, call.auth, body_object(call))
    if not result.created:
        return ApiResult(result.body)
    location = f"{call.services.settings.public_url()}/users/{result.object_id}"
    return ApiResult(result.body, status=201, headers={"Location": location})


def _params(call: ApiCall) -> dict[str, object]:
    return {**call.query, **call.body}


async def login(call: ApiCall) -> ApiResult:
    return ApiResult(await users.login(call.services, call.auth, _params(call)))


async def login_as(call: ApiCall) -> ApiResult:
    call.require_master()
    return ApiResult(await users.login_as(call.services, call.auth, body_object(call).get("userId")))


async def verify_password(call: ApiCall) -> ApiResult:
    return ApiResult(await users.verify_credentials(call.services, _params(call)))


async def logout(call: ApiCall) -> ApiResult:
    svc, token = call.services, call.auth.session_token
    session = await lookup_session_object(svc, token) if token else None
    if token:
        await revoke_token(svc, token)
    if session is not None:
        obj = hooks.to_cloud(svc.schemas.require("_Session"), session)
        await hooks.user_trigger(svc, call.auth, TriggerType.AFTER_LOGOUT, obj, after=True)
    return ApiResult({})


async def me(call: ApiCall) -> ApiResult:
    return ApiResult(await users.me(call.services, call.auth))


async def update(call: ApiCall) -> ApiResult:
    return ApiResult(await users.update_user(call.services, call.auth, call.params["object_id"], body_object(call)))


async def delete(call: ApiCall) -> ApiResult:
    await users.delete_user(call.services, call.auth, call.params["object_id"])
    return ApiResult({})


async def request_password_reset(call: ApiCall) -> ApiResult:
    await email_flows.request_password_reset(call.services, body_object(call).get("email"))
    return ApiResult({})


async def verification_email_request(call: ApiCall) -> ApiResult:
    await email_flows.request_verification(call.services, body_object(call).get("email"))
    return ApiResult({})
