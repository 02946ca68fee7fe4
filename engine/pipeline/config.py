"""Parse.Config (`_GlobalConfig`, one object with id 1): params of any Parse type, some master-key only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.pipeline.plan import check_nested_keys
from engine.query.options import FindOptions
from engine.query.where import Compare
from engine.schema.limits import check_value, shown
from engine.schema.model import PROTOTYPE_NAMES
from engine.storage.base import Changes, SetValue, StoredObject
from engine.wire import PROHIBITED_KEYS, decode, encode, now

CONFIG_CLASS = "_GlobalConfig"
CONFIG_ID = "1"  # Parse stores the single config document under _id 1
MAX_PARAMS = 1000
MAX_PARAM_NAME_LENGTH = 256
MAX_CONFIG_BYTES = 1024 * 1024  # every client downloads the whole config: keep it small
RESERVED_PARAM_NAMES = PROTOTYPE_NAMES | PROHIBITED_KEYS | {"__type", "__op"}


async def _load(svc: Services, *, create: bool = False) -> StoredObject | None:
    # Only a write makes the class: reading the config (every client does, any key) must write nothing. The cached
    # schema answers a read: the request refreshed it just before.
    cls = await svc.schemas.ensure_class(CONFIG_CLASS) if create else svc.schemas.get(CONFIG_CLASS)
    if cls is None:
        return None
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


def check_param_name(key: object) -> None:
    """Parse stores a parameter under the path `params.<name>`: a `.` or `$` would address (or break) another
    path, `__type`/`__op` would turn the params object into a typed value, and prototype names poison the SDKs."""
    if (not isinstance(key, str) or not key or len(key) > MAX_PARAM_NAME_LENGTH or "." in key or "$" in key
            or key in RESERVED_PARAM_NAMES or not key.isprintable()):
        raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid config parameter name: {shown(key)}")


def _check_request(new_params: Mapping[str, Any], new_flags: Mapping[str, Any]) -> None:
    for key, value in new_params.items():
        check_param_name(key)
        check_value(value, f"config parameter {key}")
    for key, flag in new_flags.items():
        check_param_name(key)
        if not isinstance(flag, bool):
            raise ParseError(ErrorCode.INVALID_JSON, f"masterKeyOnly.{key} must be a boolean")


def _check_size(params: Mapping[str, Any]) -> None:
    if len(params) > MAX_PARAMS:
        raise ParseError(ErrorCode.OBJECT_TOO_LARGE, f"The config cannot hold more than {MAX_PARAMS} parameters.")
    if len(orjson.dumps(encode(params))) > MAX_CONFIG_BYTES:
        raise ParseError(ErrorCode.OBJECT_TOO_LARGE, f"The config cannot be larger than {MAX_CONFIG_BYTES} bytes.")


async def update_config(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> None:
    """Merge `params` (a `{"__op": "Delete"}` value removes a key) and `masterKeyOnly` flags (master key only)."""
    require_master(ctx)
    new_params = body.get("params") or {}
    new_flags = body.get("masterKeyOnly") or {}
    if not isinstance(new_params, Mapping) or not isinstance(new_flags, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "params and masterKeyOnly must be objects")
    if len(new_params) > MAX_PARAMS or len(new_flags) > MAX_PARAMS:
        raise ParseError(ErrorCode.OBJECT_TOO_LARGE, f"The config cannot hold more than {MAX_PARAMS} parameters.")
    _check_request(new_params, new_flags)
    stored = await _load(svc, create=True)
    params = dict(stored.fields.get("params") or {}) if stored else {}
    flags = dict(stored.fields.get("masterKeyOnly") or {}) if stored else {}
    for key, value in new_params.items():
        if isinstance(value, Mapping) and value.get("__op") == "Delete":
            params.pop(key, None)
            flags.pop(key, None)
        elif isinstance(value, Mapping) and "__op" in value:
            raise ParseError(ErrorCode.COMMAND_UNAVAILABLE,
                             f"The {shown(value.get('__op'))} operator is not supported on config parameters.")
        else:
            decoded = decode(value)
            check_nested_keys(decoded)  # stores keep params as a nested document: no `.`/`$` keys inside
            params[key] = decoded
    flags.update(new_flags)
    # A flag without its parameter would hide (or reveal) a parameter created later by surprise.
    flags = {k: v for k, v in flags.items() if k in params}
    _check_size(params)
    cls = svc.schemas.require(CONFIG_CLASS)
    if stored is None:
        stamp = now()
        await svc.storage.create(cls, StoredObject(CONFIG_CLASS, CONFIG_ID, stamp, stamp).with_fields(
            {"params": params, "masterKeyOnly": flags}))
        return
    ops = ((("params",), SetValue(params)), (("masterKeyOnly",), SetValue(flags)))
    await svc.storage.update(cls, Compare(("objectId",), "eq", CONFIG_ID), Changes(updated_at=now(), ops=ops))
