"""Where the request pipeline calls cloud code: the object a trigger sees, and what its changes mean."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from engine.cloud.data import CloudQuery, DataApi
from engine.cloud.objects import CloudObject, encode_value, objects_from_json
from engine.cloud.request import TriggerRequest, trigger_request
from engine.cloud.runner import run_after_trigger, run_trigger
from engine.cloud.triggers import TriggerType
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json, object_to_json
from engine.query.options import FindOptions
from engine.query.where import Compare
from engine.schema.model import ClassDef
from engine.security.auth import Auth
from engine.storage.base import StoredObject
from engine.wire import check_denylist, decode, decode_acl


def data_api(svc: Services, ctx: RequestContext) -> DataApi:
    return DataApi(svc.data_access(svc, ctx), master=ctx.auth.is_master)


def to_cloud(cls: ClassDef, obj: StoredObject, file_url: Callable[[str], str] | None = None) -> CloudObject:
    """The object a hook sees; with `file_url`, its File values carry the (signed) URL a reader would get."""
    return CloudObject.from_json(cls.name, object_to_json(cls, obj, file_url))


async def user_object(svc: Services, auth: Auth) -> CloudObject | None:
    if not auth.user_id:
        return None
    users = svc.schemas.require("_User")
    rows = await svc.storage.find(users, Compare(("objectId",), "eq", auth.user_id), FindOptions(limit=1))
    return to_cloud(users, rows[0]) if rows else None


async def _request(
    svc: Services, ctx: RequestContext, kind: TriggerType, class_name: str, **kw: Any
) -> TriggerRequest:
    auth = ctx.auth
    return trigger_request(
        kind, class_name=class_name, data=data_api(svc, ctx), user=await user_object(svc, auth),
        master=auth.is_master, installation_id=auth.installation_id, ip=ctx.ip, headers=ctx.headers,
        context=ctx.cloud_context, **kw,
    )


def _timeout(svc: Services) -> float:
    return svc.settings.hook_timeout


# ---- save -----------------------------------------------------------------------------------------------


def _preview(fields: dict[str, Any], key: str, spec: Mapping[str, Any]) -> None:
    """What a field will hold once an `__op` applies, so beforeSave sees the object as it will be saved."""
    op = spec.get("__op")
    current = fields.get(key)
    if op == "Delete":
        fields.pop(key, None)
    elif op == "Increment" and isinstance(spec.get("amount"), int | float):
        fields[key] = (current if isinstance(current, int | float) else 0) + spec["amount"]
    elif op in ("Add", "AddUnique", "Remove") and isinstance(spec.get("objects"), list):
        items = [decode(o) for o in spec["objects"]]
        base = list(current) if isinstance(current, list) else []
        if op == "Add":
            fields[key] = base + items
        elif op == "AddUnique":
            fields[key] = base + [i for i in items if i not in base]
        else:
            fields[key] = [v for v in base if v not in items]


def _object_for_save(cls: ClassDef, body: Mapping[str, Any], original: StoredObject | None) -> CloudObject:
    base = to_cloud(cls, original) if original is not None else CloudObject(cls.name)
    fields = dict(base)
    for key, value in body.items():
        if key in ("ACL", "objectId", "createdAt", "updatedAt") or "." in key:
            continue
        if isinstance(value, Mapping) and "__op" in value:
            _preview(fields, key, value)
        else:
            fields[key] = decode(value)
    acl = decode_acl(body["ACL"]) if isinstance(body.get("ACL"), Mapping) else base.acl
    return CloudObject(cls.name, base.object_id, fields, created_at=base.created_at, updated_at=base.updated_at,
                       acl=acl)


async def before_save(
    svc: Services, ctx: RequestContext, cls: ClassDef, body: Mapping[str, Any], original: StoredObject | None
) -> tuple[dict[str, Any], frozenset[str]]:
    """Run beforeSave; returns the body to write (the hook's changes folded in) and the keys it changed."""
    hook = svc.cloud.trigger(TriggerType.BEFORE_SAVE, cls.name)
    if hook is None:
        return dict(body), frozenset()
    obj = _object_for_save(cls, body, original)
    req = await _request(svc, ctx, TriggerType.BEFORE_SAVE, cls.name, object=obj,
                         original=to_cloud(cls, original, svc.file_url) if original is not None else None)
    await run_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)
    changed = obj.dirty_keys()
    out = dict(body)
    for key in changed:
        if key == "ACL":
            out["ACL"] = obj.acl.to_json() if obj.acl is not None else {"__op": "Delete"}
        elif key in obj:
            out[key] = encode_value(obj[key])
        else:
            out[key] = {"__op": "Delete"}
    # Trigger output is untrusted input too (security catalog S03/S68): same checks as a client body.
    check_denylist(out)
    return out, frozenset(changed - {"ACL"})


async def after_save(
    svc: Services, ctx: RequestContext, cls: ClassDef, saved: StoredObject, original: StoredObject | None
) -> None:
    hook = svc.cloud.trigger(TriggerType.AFTER_SAVE, cls.name)
    if hook is None:
        return
    req = await _request(svc, ctx, TriggerType.AFTER_SAVE, cls.name, object=to_cloud(cls, saved, svc.file_url),
                         original=to_cloud(cls, original, svc.file_url) if original is not None else None)
    await run_after_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)


def wants_original(svc: Services, cls: ClassDef) -> bool:
    return any(svc.cloud.has_trigger(k, cls.name) for k in
               (TriggerType.BEFORE_SAVE, TriggerType.AFTER_SAVE, TriggerType.BEFORE_DELETE, TriggerType.AFTER_DELETE))


# ---- delete ---------------------------------------------------------------------------------------------


async def before_delete(svc: Services, ctx: RequestContext, cls: ClassDef, obj: StoredObject) -> None:
    hook = svc.cloud.trigger(TriggerType.BEFORE_DELETE, cls.name)
    if hook is not None:
        req = await _request(svc, ctx, TriggerType.BEFORE_DELETE, cls.name, object=to_cloud(cls, obj, svc.file_url))
        await run_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)


async def after_delete(svc: Services, ctx: RequestContext, cls: ClassDef, obj: StoredObject) -> None:
    hook = svc.cloud.trigger(TriggerType.AFTER_DELETE, cls.name)
    if hook is not None:
        req = await _request(svc, ctx, TriggerType.AFTER_DELETE, cls.name, object=to_cloud(cls, obj, svc.file_url))
        await run_after_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)


# ---- find -----------------------------------------------------------------------------------------------


async def before_find(
    svc: Services, ctx: RequestContext, class_name: str, params: Mapping[str, Any], *, is_get: bool
) -> dict[str, Any]:
    """beforeFind may rewrite the query: returns the (possibly new) REST params."""
    hook = svc.cloud.trigger(TriggerType.BEFORE_FIND, class_name)
    if hook is None:
        return dict(params)
    data = data_api(svc, ctx)
    options = {k: v for k, v in params.items() if k not in ("where", "count")}
    query = CloudQuery.from_json(class_name, params.get("where") or {}, options, data=data)
    req = await _request(svc, ctx, TriggerType.BEFORE_FIND, class_name, query=query, is_get=is_get,
                         count=params.get("count") in (1, "1", True, "true"))
    returned = await run_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)
    if isinstance(returned, CloudQuery):
        query = returned
    out: dict[str, Any] = {**query.options_json()}
    where = query.where_json()
    if where:
        out["where"] = where
    if "count" in params:
        out["count"] = params["count"]
    check_denylist(out)
    return out


async def after_find(
    svc: Services, ctx: RequestContext, class_name: str, results: list[Json], *, is_get: bool
) -> list[Json]:
    hook = svc.cloud.trigger(TriggerType.AFTER_FIND, class_name)
    if hook is None:
        return results
    objects = objects_from_json(class_name, copy.deepcopy(results))
    given = list(objects)
    req = await _request(svc, ctx, TriggerType.AFTER_FIND, class_name, objects=objects, is_get=is_get)
    returned = await run_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)
    if returned is None and len(objects) == len(given) and all(
            a is b and not a.is_dirty() for a, b in zip(objects, given, strict=True)):
        # A hook that only looked (an access log) keeps the results as they were, included objects whole:
        # the CloudObject round trip would turn them back into pointers.
        return results
    final = returned if isinstance(returned, list) else req.objects or []
    return [o.to_json() if isinstance(o, CloudObject) else o for o in final]


# ---- users ----------------------------------------------------------------------------------------------


async def user_trigger(
    svc: Services, ctx: RequestContext, kind: TriggerType, obj: CloudObject, *, after: bool
) -> None:
    """beforeLogin (may reject), afterLogin, afterLogout (object is the `_Session`)."""
    hook = svc.cloud.trigger(kind, obj.class_name)
    if hook is None:
        return
    req = await _request(svc, ctx, kind, obj.class_name, object=obj)
    if after:
        await run_after_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)
    else:
        await run_trigger(hook, req, timeout=_timeout(svc), user_roles=ctx.auth.role_names)
