"""Writes as an ordered list of steps: class → plan → schema growth → storage → relations → response."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.events import ObjectDeleted, ObjectSaved
from engine.pipeline import hooks
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json
from engine.pipeline.file_refs import check_file_references, references_files
from engine.pipeline.plan import WritePlan, check_required, check_required_kept, plan_write
from engine.pipeline.special import check_system_write
from engine.query.options import FindOptions
from engine.query.where import Compare, Where, conjoin
from engine.schema.model import ClassDef, is_valid_class_name
from engine.security.acl import write_constraint
from engine.security.auth import Auth
from engine.security.class_access import check_append_only, check_class_access
from engine.security.clp import Op, check_class_permission, default_acl_entries
from engine.storage.base import AddItems, Changes, Increment, RemoveItems, SetValue, StoredObject
from engine.wire import ACL, Value, decode_acl, encode, format_date, new_object_id, now


@dataclass(frozen=True, slots=True)
class Created:
    object_id: str
    body: Json
    stored: StoredObject


@dataclass(frozen=True, slots=True)
class ServerFields:
    """What only the server sets on a write (a user's password hash, a chosen objectId, a forced ACL)."""

    object_id: str | None = None
    acl: ACL | None = None
    internal: Mapping[str, Value] = field(default_factory=dict)
    fields: Mapping[str, Value] = field(default_factory=dict)  # set after the client's body was checked


NO_SERVER_FIELDS = ServerFields()


async def writable_class(svc: Services, auth: Auth, class_name: str) -> ClassDef:
    """The class to write; the master key (or allowClientClassCreation) may create it on first write."""
    if not is_valid_class_name(class_name) or class_name.startswith("_Join:"):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Invalid classname: {class_name}")
    cls = await svc.schemas.lookup(class_name)
    if cls is not None:
        return cls
    if auth.is_master or svc.settings.allow_client_class_creation:
        return await svc.schemas.ensure_class(class_name)
    raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")


async def _grow_schema(svc: Services, auth: Auth, cls: ClassDef, plan: WritePlan) -> ClassDef:
    if not plan.new_fields:
        return cls
    check_class_permission(cls, Op.ADD_FIELD, auth)
    return await svc.schemas.add_fields(cls.name, plan.new_fields)


def _default_acl(cls: ClassDef, auth: Auth) -> ACL | None:
    """The CLP's `ACL` entry, with `currentUser` standing for the creator (dropped when anonymous)."""
    entries = default_acl_entries(cls)
    if entries is None:
        return None
    resolved = {}
    for key, perms in entries.items():
        if key == "currentUser":
            if auth.user_id:
                resolved[auth.user_id] = perms
        else:
            resolved[key] = perms
    return decode_acl(resolved)


def _check_class_access(svc: Services, auth: Auth, class_name: str, op: Op) -> None:
    check_append_only(class_name, op, svc.settings.append_only_classes)
    check_class_access(class_name, op, auth, svc.settings.server_only_classes)


async def _load(svc: Services, cls: ClassDef, where: Where) -> StoredObject | None:
    rows = await svc.storage.find(cls, where, FindOptions(limit=1))
    return rows[0] if rows else None


def _echo_on_path(response: Json, path: tuple[str, ...], top: Any) -> None:
    """Parse's expandResultOnKeyPath: an op on `a.b.c` answers `{"a": {"b": {"c": <new value>}}}`, merged with
    other ops under `a`; an op into an array by index answers the whole array."""
    if len(path) == 1 or isinstance(top, list) or not isinstance(top, dict):
        response[path[0]] = top
        return
    node = response.setdefault(path[0], {})
    source: Any = top
    for part in path[1:-1]:
        source = source.get(part) if isinstance(source, dict) else None
        if not isinstance(node, dict):
            return
        node = node.setdefault(part, {})
    if isinstance(node, dict) and isinstance(source, dict) and path[-1] in source:
        node[path[-1]] = source[path[-1]]


def _echo(stored: StoredObject, keys: frozenset[str], file_url: Any) -> Json:
    """Values a beforeSave hook changed, as Parse echoes them so the SDK's copy matches what was saved."""
    return {k: encode(stored.fields[k], file_url) if k in stored.fields else {"__op": "Delete"} for k in keys}


def _after_write(svc: Services, cls: ClassDef) -> None:
    if cls.name == "_Role":
        svc.roles.clear()  # memberships may have changed; cached role sets are stale


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Value) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _initial_value(op: Any) -> tuple[bool, Value]:
    """On create, ops collapse to plain values (Parse: Increment → amount, Add → the array, Remove → [])."""
    if isinstance(op, SetValue):
        return True, op.value
    if isinstance(op, Increment):
        return True, op.amount
    if isinstance(op, AddItems):
        items: list[Value] = []
        for item in op.items:
            if not op.unique or item not in items:
                items.append(item)
        return True, items
    if isinstance(op, RemoveItems):
        return True, []
    return False, None


@dataclass(frozen=True, slots=True)
class _Draft:
    """A create checked and built, not stored yet."""

    cls: ClassDef
    obj: StoredObject
    plan: WritePlan
    response: Json


async def _open_class(svc: Services, ctx: RequestContext, class_name: str) -> ClassDef:
    """The class a create writes to, once the caller may create there (class rules, then the CLP)."""
    _check_class_access(svc, ctx.auth, class_name, Op.CREATE)
    cls = await writable_class(svc, ctx.auth, class_name)
    check_class_permission(cls, Op.CREATE, ctx.auth)
    return cls


async def _draft(
    svc: Services, ctx: RequestContext, cls: ClassDef, body: Mapping[str, Any], server: ServerFields
) -> _Draft:
    auth = ctx.auth
    body, changed = await hooks.before_save(svc, ctx, cls, body, None)
    check_system_write(cls.name, body, auth, is_create=True)
    plan = plan_write(cls, body, is_create=True)
    if plan.new_fields:
        check_class_permission(cls, Op.ADD_FIELD, auth)
    await check_file_references(svc, auth, plan.ops, None)
    fields: dict[str, Value] = {}
    echo: Json = {}
    for path, op in plan.ops:
        present, value = _initial_value(op)
        if present:
            _set_path(fields, path, copy.deepcopy(value))
            if not isinstance(op, SetValue):
                echo[path[0]] = fields[path[0]]
    fields.update(server.fields)
    for name, fdef in cls.fields.items():
        if fdef.default is not None and fields.get(name) is None:
            fields[name] = copy.deepcopy(fdef.default)
            echo[name] = fields[name]
    # Before the schema grows: a create refused for a missing field must not leave its new columns behind.
    check_required(cls, fields)
    cls = await _grow_schema(svc, auth, cls, plan)
    stamp = now()
    acl = server.acl if server.acl is not None else plan.acl if plan.acl_given else _default_acl(cls, auth)
    obj = StoredObject(cls.name, server.object_id or new_object_id(), stamp, stamp, acl,
                       internal=dict(server.internal)).with_fields(fields)
    response: Json = {"objectId": obj.object_id, "createdAt": format_date(stamp)}
    response.update({k: encode(v, svc.file_url) for k, v in echo.items()})
    response.update(_echo(obj, changed, svc.file_url))
    return _Draft(cls, obj, plan, response)


async def _stored(svc: Services, ctx: RequestContext, draft: _Draft) -> Created:
    """What follows a create's row: its relations, then afterSave and LiveQuery."""
    cls, obj = draft.cls, draft.obj
    for rel in draft.plan.relations:
        if rel.add:
            await svc.storage.add_relation(cls, rel.key, obj.object_id, rel.add)
    _after_write(svc, cls)
    await hooks.after_save(svc, ctx, cls, obj, None)
    if svc.events.wants(cls.name):
        await svc.events.publish(ObjectSaved(cls, obj, None))
    return Created(obj.object_id, draft.response, obj)


async def run_create(
    svc: Services, ctx: RequestContext, class_name: str, body: Mapping[str, Any],
    server: ServerFields = NO_SERVER_FIELDS,
) -> Created:
    cls = await _open_class(svc, ctx, class_name)
    draft = await _draft(svc, ctx, cls, body, server)
    await svc.storage.create(draft.cls, draft.obj)
    return await _stored(svc, ctx, draft)


Refused = ParseError | HTTPDenied


async def run_create_many(
    svc: Services, ctx: RequestContext, class_name: str, bodies: Sequence[Mapping[str, Any]]
) -> list[Created | Refused]:
    """Several creates in one class, each answered as ``run_create`` would answer it alone, with one storage
    call for the rows: a batch's creates cost one writer round trip instead of one each. The class and its
    CLP are checked once (they are the same for every body); each body is planned, stored and followed by
    its afterSave alone, so one refused body leaves the others as they would have been."""
    try:
        cls = await _open_class(svc, ctx, class_name)
    except (ParseError, HTTPDenied) as exc:
        return [exc] * len(bodies)
    drafts: list[_Draft | Refused] = []
    for body in bodies:
        try:
            draft = await _draft(svc, ctx, cls, body, NO_SERVER_FIELDS)
        except (ParseError, HTTPDenied) as exc:
            drafts.append(exc)
            continue
        cls = draft.cls  # the schema may have grown: later bodies are planned against it
        drafts.append(draft)
    ready = [d for d in drafts if isinstance(d, _Draft)]
    try:
        failures = iter(await svc.storage.create_many(cls, [d.obj for d in ready]))
    except ParseError as exc:  # the store failed them all (a full disk): each create answers so, as alone
        failures = iter([exc] * len(ready))
    out: list[Created | Refused] = []
    for item in drafts:
        if not isinstance(item, _Draft):
            out.append(item)
        elif (failure := next(failures)) is not None:
            out.append(failure)
        else:
            out.append(await _stored(svc, ctx, item))
    return out


def _target(cls: ClassDef, auth: Auth, op: Op, object_id: str) -> Where:
    """The one row a write may touch: this id, within the CLP's pointer permissions and the ACL."""
    return conjoin(Compare(("objectId",), "eq", object_id), check_class_permission(cls, op, auth),
                   write_constraint(auth))


async def run_update(
    svc: Services, ctx: RequestContext, class_name: str, object_id: str, body: Mapping[str, Any],
    server: ServerFields = NO_SERVER_FIELDS,
) -> Json:
    auth = ctx.auth
    _check_class_access(svc, auth, class_name, Op.UPDATE)
    cls = await svc.schemas.lookup(class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    where = _target(cls, auth, Op.UPDATE, object_id)
    original = None
    # Decided once: an update published without its previous state would look like a create to LiveQuery.
    publish = svc.events.wants(cls.name)
    if hooks.wants_original(svc, cls) or publish:
        original = await _load(svc, cls, where)
        if original is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    body, changed = await hooks.before_save(svc, ctx, cls, body, original)
    check_system_write(cls.name, body, auth, is_create=False)
    plan = plan_write(cls, body, is_create=False)
    check_required_kept(cls, plan.ops)
    if references_files(svc, auth, plan.ops):
        holder = original if original is not None else await _load(svc, cls, where)
        if holder is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
        await check_file_references(svc, auth, plan.ops, holder)
    cls = await _grow_schema(svc, auth, cls, plan)
    acl = server.acl if server.acl is not None else plan.acl
    ops = plan.ops + tuple(((name,), SetValue(value)) for name, value in server.fields.items())
    changes = Changes(updated_at=now(), ops=ops, acl=acl, clear_acl=plan.acl_given and acl is None,
                      internal=dict(server.internal))
    updated = await svc.storage.update(cls, where, changes)
    if updated is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    for rel in plan.relations:
        if rel.add:
            await svc.storage.add_relation(cls, rel.key, object_id, rel.add)
        if rel.remove:
            await svc.storage.remove_relation(cls, rel.key, object_id, rel.remove)
    _after_write(svc, cls)
    response: Json = {"updatedAt": format_date(updated.updated_at)}
    for path, op in plan.ops:
        # The SDK merges these server-computed results into its local copy.
        if isinstance(op, Increment | AddItems | RemoveItems) and path[0] in updated.fields:
            _echo_on_path(response, path, encode(updated.fields[path[0]], svc.file_url))
    response.update(_echo(updated, changed, svc.file_url))
    await hooks.after_save(svc, ctx, cls, updated, original)
    if publish:
        await svc.events.publish(ObjectSaved(cls, updated, original))
    return response


async def run_delete(svc: Services, ctx: RequestContext, class_name: str, object_id: str) -> None:
    auth = ctx.auth
    _check_class_access(svc, auth, class_name, Op.DELETE)
    cls = await svc.schemas.lookup(class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    where = _target(cls, auth, Op.DELETE, object_id)
    needed = hooks.wants_original(svc, cls) or svc.events.wants(cls.name)
    original = await _load(svc, cls, where) if needed else None
    if original is not None:
        await hooks.before_delete(svc, ctx, cls, original)
    if await svc.storage.delete(cls, where) == 0:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    _after_write(svc, cls)
    if original is not None:
        await hooks.after_delete(svc, ctx, cls, original)
        await svc.events.publish(ObjectDeleted(cls, original))
