"""/sessions/me and /upgradeToRevocableSession (the other /sessions routes are /classes/_Session)."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult
from engine.pipeline import sessions


async def me(call: ApiCall) -> ApiResult:
    return ApiResult(await sessions.current(call.services, call.ctx))


async def upgrade(call: ApiCall) -> ApiResult:
    return ApiResult(await sessions.upgrade(call.services, call.ctx))
