"""Parse.Config (`_GlobalConfig`, one object with id 1): params of any Parse type, some master-key only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.query.options import FindOptions
from engine.query.where import Compare
from engine.storage.base import Changes, SetValue, StoredObject
from engine.wire import decode, encode, now

CONFIG_CLASS = "_GlobalConfig"
CONFIG_ID = "1"  # Parse stores the single config document under _id 1


async def _load(svc: Services) -> StoredObject | None:
    cls = await svc.schemas.ensure_class(CONFIG_CLASS)
    rows = await svc.storage.find(cls, Compare(("objectId",), "eq", CONFIG_ID), FindOptions(limit=1))
    return rows[0] if rows else None


async def read_config(svc: Services, ctx: RequestContext) -> dict[str, Any]:
    master = ctx.auth.is_master
    stored = await _load(svc)
    params = dict(stored.fields.get("params") or {}) if stored else {}
    master_only = dict(stored.fields.get("masterKeyOnly") or {}) if stored else {}
    if not master:
        params = {k: v for k, v in params.items() if master_only.get(k) is not True}
        return {"params": encode(params)}
    return {"params": encode(params), "masterKeyOnly": master_only}


def _check_keys(params: Mapping[str, Any]) -> None:
    for key in params:
        if not isinstance(key, str) or not key or key.startswith("$") or len(key) > 256:
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid config key: {key}")


async def update_config(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> None:
    """Merge `params` (a `{"__op": "Delete"}` value removes a key) and `masterKeyOnly` flags (master key only)."""
    require_master(ctx)
    new_params = body.get("params") or {}
    new_flags = body.get("masterKeyOnly") or {}
    if not isinstance(new_params, Mapping) or not isinstance(new_flags, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "params and masterKeyOnly must be objects")
    _check_keys(new_params)
    if not all(isinstance(v, bool) for v in new_flags.values()):
        raise ParseError(ErrorCode.INVALID_JSON, "masterKeyOnly values must be booleans")
    stored = await _load(svc)
    params = dict(stored.fields.get("params") or {}) if stored else {}
    flags = dict(stored.fields.get("masterKeyOnly") or {}) if stored else {}
    for key, value in new_params.items():
        if isinstance(value, Mapping) and value.get("__op") == "Delete":
            params.pop(key, None)
            flags.pop(key, None)
        else:
            params[key] = decode(value)
    flags.update(new_flags)
    cls = svc.schemas.require(CONFIG_CLASS)
    if stored is None:
        stamp = now()
        await svc.storage.create(cls, StoredObject(CONFIG_CLASS, CONFIG_ID, stamp, stamp).with_fields(
            {"params": params, "masterKeyOnly": flags}))
        return
    ops = ((("params",), SetValue(params)), (("masterKeyOnly",), SetValue(flags)))
    await svc.storage.update(cls, Compare(("objectId",), "eq", CONFIG_ID), Changes(updated_at=now(), ops=ops))
