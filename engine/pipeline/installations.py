"""`_Installation`: one record per device — ids lowercased, de-duplicated by installationId and deviceToken."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json
from engine.pipeline.write import run_create, run_update
from engine.query.options import FindOptions
from engine.query.where import Compare, Where, conjoin
from engine.storage.base import StoredObject

ALL = FindOptions(limit=None)
IMMUTABLE = ("installationId", "deviceType")


@dataclass(frozen=True, slots=True)
class Saved:
    body: Json
    object_id: str
    created: bool


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    # A non-string could carry a query operator into the de-duplication lookup (security catalog S11).
    if not isinstance(value, str) or not value or len(value) > 512:
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"{key} must be a string")
    return value


async def _matching(svc: Services, key: str, value: str) -> list[StoredObject]:
    return await svc.storage.find(svc.schemas.require("_Installation"), Compare((key,), "eq", value), ALL)


async def _drop_token_holders(svc: Services, token: str, keep_id: str | None) -> None:
    """A device token belongs to one installation: older records holding it are removed (Parse's default)."""
    cls = svc.schemas.require("_Installation")
    where: Where = Compare(("deviceToken",), "eq", token)
    if keep_id:
        where = conjoin(where, Compare(("objectId",), "ne", keep_id))
    await svc.storage.delete(cls, where)


def _normalized(body: Mapping[str, Any], header_id: str | None) -> tuple[dict[str, Any], str | None, str | None]:
    """The body with a lowercased installationId (else the X-Parse-Installation-Id one), and the id and token."""
    data = dict(body)
    installation_id = _string(data, "installationId") or header_id
    if installation_id is not None:
        if not isinstance(installation_id, str) or len(installation_id) > 512:
            raise ParseError(ErrorCode.INCORRECT_TYPE, "installationId must be a string")
        installation_id = installation_id.lower()
        data["installationId"] = installation_id
    _string(data, "deviceType")
    return data, installation_id, _string(data, "deviceToken")


def _check_immutable(existing: StoredObject, data: Mapping[str, Any]) -> None:
    for key in IMMUTABLE:
        if key in data and existing.fields.get(key) is not None and data[key] != existing.fields.get(key):
            raise ParseError(ErrorCode.CHANGED_IMMUTABLE_FIELD, f"{key} may not be changed in this operation")


async def create_installation(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> Saved:
    data, installation_id, token = _normalized(body, ctx.installation_id)
    target: StoredObject | None = None
    if installation_id:
        found = await _matching(svc, "installationId", installation_id)
        target = found[0] if found else None
    if target is None and token:
        orphans = [i for i in await _matching(svc, "deviceToken", token) if not i.fields.get("installationId")]
        target = orphans[0] if orphans else None
    if target is not None:
        # A repeated POST from the same device updates its record instead of creating a second one.
        _check_immutable(target, data)
        if token:
            await _drop_token_holders(svc, token, target.object_id)
        response = await run_update(svc, ctx, "_Installation", target.object_id, data)
        return Saved({"objectId": target.object_id, **response}, target.object_id, created=False)
    if not data.get("deviceType"):
        raise ParseError(ErrorCode.MISSING_REQUIRED_FIELD, "deviceType must be specified in this operation")
    if token:
        await _drop_token_holders(svc, token, None)
    created = await run_create(svc, ctx, "_Installation", data)
    return Saved(created.body, created.object_id, created=True)


async def update_installation(
    svc: Services, ctx: RequestContext, object_id: str, body: Mapping[str, Any]
) -> Json:
    data, _, token = _normalized(body, None)
    cls = svc.schemas.require("_Installation")
    rows = await svc.storage.find(cls, Compare(("objectId",), "eq", object_id), FindOptions(limit=1))
    if rows:
        _check_immutable(rows[0], data)
    response = await run_update(svc, ctx, "_Installation", object_id, data)
    if token:
        await _drop_token_holders(svc, token, object_id)
    return response
