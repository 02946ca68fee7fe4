"""/login, /logout, /users/me, /verifyPassword, /loginAs and the email request routes (the /users object
routes are /classes/_User, see routes.py)."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult, body_object
from engine.pipeline import email_flows, sessions, users


def _params(call: ApiCall) -> dict[str, object]:
    return {**call.query, **call.body}


async def login(call: ApiCall) -> ApiResult:
    return ApiResult(await users.login(call.services, call.ctx, _params(call)))


async def login_as(call: ApiCall) -> ApiResult:
    return ApiResult(await users.login_as(call.services, call.ctx, body_object(call).get("userId")))


async def verify_password(call: ApiCall) -> ApiResult:
    return ApiResult(await users.verify_credentials(call.services, _params(call)))


async def logout(call: ApiCall) -> ApiResult:
    await sessions.logout(call.services, call.ctx)
    return ApiResult({})


async def me(call: ApiCall) -> ApiResult:
    return ApiResult(await users.me(call.services, call.ctx))


async def request_password_reset(call: ApiCall) -> ApiResult:
    await email_flows.request_password_reset(call.services, body_object(call).get("email"))
    return ApiResult({})


async def verification_email_request(call: ApiCall) -> ApiResult:
    await email_flows.request_verification(call.services, body_object(call).get("email"))
    return ApiResult({})
