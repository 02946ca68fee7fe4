"""Writes as an ordered list of steps: class → plan → schema growth → storage → relations → response."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import Services
from engine.pipeline.encode import Json
from engine.pipeline.plan import WritePlan, check_required, check_required_kept, plan_write
from engine.query.where import Compare, conjoin
from engine.schema.model import ClassDef, is_valid_class_name
from engine.security.acl import write_constraint
from engine.security.auth import Auth
from engine.storage.base import AddItems, Changes, Increment, RemoveItems, SetValue, StoredObject
from engine.wire import Value, encode, format_date, new_object_id, now


@dataclass(frozen=True, slots=True)
class Created:
    object_id: str
    body: Json


async def writable_class(svc: Services, auth: Auth, class_name: str) -> ClassDef:
    """The class to write; the master key (or allowClientClassCreation) may create it on first write."""
    if not is_valid_class_name(class_name) or class_name.startswith("_Join:"):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Invalid classname: {class_name}")
    cls = svc.schemas.get(class_name)
    if cls is not None:
        return cls
    if auth.is_master or svc.settings.allow_client_class_creation:
        return await svc.schemas.ensure_class(class_name)
    raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")


async def _grow_schema(svc: Services, cls: ClassDef, plan: WritePlan) -> ClassDef:
    if not plan.new_fields:
        return cls
    return await svc.schemas.add_fields(cls.name, plan.new_fields)


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


async def run_create(svc: Services, auth: Auth, class_name: str, body: Mapping[str, Any]) -> Created:
    cls = await writable_class(svc, auth, class_name)
    plan = plan_write(cls, body, is_create=True)
    cls = await _grow_schema(svc, cls, plan)
    fields: dict[str, Value] = {}
    echo: Json = {}
    for path, op in plan.ops:
        present, value = _initial_value(op)
        if present:
            _set_path(fields, path, copy.deepcopy(value))
            if not isinstance(op, SetValue):
                echo[path[0]] = fields[path[0]]
    for name, fdef in cls.fields.items():
        if fdef.default is not None and fields.get(name) is None:
            fields[name] = copy.deepcopy(fdef.default)
            echo[name] = fields[name]
    check_required(cls, fields)
    stamp = now()
    obj = StoredObject(cls.name, new_object_id(), stamp, stamp, plan.acl).with_fields(fields)
    await svc.storage.create(cls, obj)
    for rel in plan.relations:
        if rel.add:
            await svc.storage.add_relation(cls, rel.key, obj.object_id, rel.add)
    response: Json = {"objectId": obj.object_id, "createdAt": format_date(stamp)}
    response.update({k: encode(v, svc.file_url) for k, v in echo.items()})
    return Created(obj.object_id, response)


async def run_update(
    svc: Services, auth: Auth, class_name: str, object_id: str, body: Mapping[str, Any]
) -> Json:
    cls = svc.schemas.get(class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    plan = plan_write(cls, body, is_create=False)
    check_required_kept(cls, plan.ops)
    cls = await _grow_schema(svc, cls, plan)
    changes = Changes(
        updated_at=now(), ops=plan.ops, acl=plan.acl, clear_acl=plan.acl_given and plan.acl is None
    )
    where = conjoin(Compare(("objectId",), "eq", object_id), write_constraint(auth))
    updated = await svc.storage.update(cls, where, changes)
    if updated is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    for rel in plan.relations:
        if rel.add:
            await svc.storage.add_relation(cls, rel.key, object_id, rel.add)
        if rel.remove:
            await svc.storage.remove_relation(cls, rel.key, object_id, rel.remove)
    response: Json = {"updatedAt": format_date(updated.updated_at)}
    for path, op in plan.ops:
        # The SDK merges these server-computed results into its local copy.
        if isinstance(op, Increment | AddItems | RemoveItems) and len(path) == 1 and path[0] in updated.fields:
            response[path[0]] = encode(updated.fields[path[0]], svc.file_url)
    return response


async def run_delete(svc: Services, auth: Auth, class_name: str, object_id: str) -> None:
    cls = svc.schemas.get(class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    where = conjoin(Compare(("objectId",), "eq", object_id), write_constraint(auth))
    if await svc.storage.delete(cls, where) == 0:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")



