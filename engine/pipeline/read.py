"""Reads: check the class → parse `where` → resolve subqueries → storage.find(where ∧ read ACL) → include → shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import Services
from engine.pipeline.encode import Json, object_to_json
from engine.query.options import FindOptions
from engine.query.where import (
    And,
    Compare,
    In,
    InQuery,
    MatchNone,
    Nor,
    Or,
    RelatedTo,
    Select,
    Where,
    conjoin,
    parse_where,
)
from engine.schema.model import ClassDef, FieldType, is_valid_class_name
from engine.security.acl import read_constraint
from engine.security.auth import Auth
from engine.storage.base import StoredObject
from engine.wire import Pointer

ALWAYS_KEYS = ("objectId", "createdAt", "updatedAt", "ACL")
UNLIMITED = FindOptions(limit=None)


def readable_class(svc: Services, auth: Auth, class_name: str) -> ClassDef | None:
    """The class to read, or None when it does not exist yet (a master read then finds nothing)."""
    if not is_valid_class_name(class_name):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Invalid classname: {class_name}")
    cls = svc.schemas.get(class_name)
    if cls is None and not (auth.is_master or svc.settings.allow_client_class_creation):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    return cls


async def resolve(svc: Services, auth: Auth, cls: ClassDef, where: Where) -> Where:
    """Replace subqueries and relation lookups by plain `$in` constraints the adapters can run."""
    if isinstance(where, And | Or | Nor):
        items = tuple([await resolve(svc, auth, cls, w) for w in where.items])
        return type(where)(items)
    if isinstance(where, RelatedTo):
        owner_cls = svc.schemas.get(where.owner.class_name)
        fdef = owner_cls.field_def(where.key) if owner_cls else None
        if owner_cls is None or fdef is None or fdef.type is not FieldType.RELATION:
            return MatchNone()
        ids = await svc.storage.related_ids(owner_cls, where.key, [where.owner.object_id])
        return In(("objectId",), tuple(ids))
    if isinstance(where, InQuery):
        sub_cls = svc.schemas.get(where.class_name)
        rows = await find_stored(svc, auth, sub_cls, where.where, UNLIMITED) if sub_cls else []
        return In(where.path, tuple(Pointer(where.class_name, r.object_id) for r in rows), negate=where.negate)
    if isinstance(where, Select):
        sub_cls = svc.schemas.get(where.class_name)
        rows = await find_stored(svc, auth, sub_cls, where.where, UNLIMITED) if sub_cls else []
        values = tuple(r.fields[where.key] for r in rows if where.key in r.fields)
        return In(where.path, values, negate=where.negate)
    if isinstance(where, Compare | In) and len(where.path) == 1:
        fdef = cls.field_def(where.path[0])
        if fdef is not None and fdef.type is FieldType.RELATION:
            return await _relation_membership(svc, cls, where)
    return where


async def _relation_membership(svc: Services, cls: ClassDef, where: Compare | In) -> Where:
    """`{"likes": ptr}` or `{"likes": {"$in": [ptrs]}}` on a Relation column reads the join table."""
    values = (where.value,) if isinstance(where, Compare) else where.values
    ids = [v.object_id for v in values if isinstance(v, Pointer)]
    owners = tuple(await svc.storage.owning_ids(cls, where.path[0], ids)) if ids else ()
    negate = (isinstance(where, Compare) and where.op == "ne") or (isinstance(where, In) and where.negate)
    return In(("objectId",), owners, negate=negate)


async def find_stored(
    svc: Services, auth: Auth, cls: ClassDef, where: Where, opts: FindOptions
) -> list[StoredObject]:
    resolved = await resolve(svc, auth, cls, where)
    return await svc.storage.find(cls, conjoin(resolved, read_constraint(auth)), opts)


async def count_stored(svc: Services, auth: Auth, cls: ClassDef, where: Where) -> int:
    resolved = await resolve(svc, auth, cls, where)
    return await svc.storage.count(cls, conjoin(resolved, read_constraint(auth)))


async def run_find(
    svc: Services, auth: Auth, class_name: str, where_json: object, opts: FindOptions
) -> tuple[list[Json], int | None]:
    cls = readable_class(svc, auth, class_name)
    where = parse_where(where_json, master=auth.is_master)
    if cls is None:
        return [], (0 if opts.count else None)
    count = await count_stored(svc, auth, cls, where) if opts.count else None
    if opts.limit == 0:
        return [], count
    rows = await find_stored(svc, auth, cls, where, opts)
    results = [object_to_json(cls, r, svc.file_url) for r in rows]
    await _include(svc, auth, cls, results, opts)
    return [_project(r, opts) for r in results], count


async def run_get(svc: Services, auth: Auth, class_name: str, object_id: str, opts: FindOptions) -> Json:
    cls = readable_class(svc, auth, class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    rows = await find_stored(svc, auth, cls, Compare(("objectId",), "eq", object_id), replace(opts, limit=1, skip=0))
    if not rows:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    results = [object_to_json(cls, rows[0], svc.file_url)]
    await _include(svc, auth, cls, results, opts)
    return _project(results[0], opts)


# ---- include -------------------------------------------------------------------------------------------


def _include_paths(cls: ClassDef, opts: FindOptions) -> list[tuple[str, ...]]:
    paths = {tuple(p.split(".")) for p in opts.include}
    if opts.include_all:
        for name, fdef in cls.fields.items():
            if fdef.type in (FieldType.POINTER, FieldType.ARRAY):
                paths.add((name,))
    for key in opts.keys or ():
        parts = tuple(key.split("."))
        if len(parts) > 1:
            paths.add(parts[:-1])  # Parse: `keys=a.b` also includes the pointer `a`
    # Including "a.b" implies including "a" first.
    closed = {p[:i] for p in paths for i in range(1, len(p) + 1)}
    return sorted(closed, key=lambda p: (len(p), p))


def _pointers_at(node: Any, path: Sequence[str], out: list[dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _pointers_at(item, path, out)
        return
    if not isinstance(node, dict):
        return
    if not path:
        if node.get("__type") == "Pointer":
            out.append(node)
        return
    _pointers_at(node.get(path[0]), path[1:], out)


async def _include(svc: Services, auth: Auth, cls: ClassDef, results: list[Json], opts: FindOptions) -> None:
    for path in _include_paths(cls, opts):
        found: list[dict[str, Any]] = []
        for row in results:
            _pointers_at(row, path, found)
        by_class: dict[str, set[str]] = {}
        for ptr in found:
            by_class.setdefault(ptr["className"], set()).add(ptr["objectId"])
        fetched: dict[tuple[str, str], Json] = {}
        for class_name, ids in by_class.items():
            target = svc.schemas.get(class_name)
            if target is None:
                continue
            rows = await find_stored(svc, auth, target, In(("objectId",), tuple(sorted(ids))), UNLIMITED)
            for r in rows:
                fetched[(class_name, r.object_id)] = {
                    "__type": "Object", "className": class_name, **object_to_json(target, r, svc.file_url)
                }
        # An unreadable or dangling pointer stays a bare pointer: the caller learns nothing more than it sent.
        for ptr in found:
            full = fetched.get((ptr["className"], ptr["objectId"]))
            if full is not None:
                ptr.clear()
                ptr.update(full)


# ---- keys / excludeKeys ----------------------------------------------------------------------------------


def _project(row: Json, opts: FindOptions) -> Json:
    if opts.keys is not None:
        tree: dict[str, Any] = {}
        for key in opts.keys:
            node = tree
            for part in key.split("."):
                node = node.setdefault(part, {})
        row = _select(row, tree)
    for key in opts.exclude_keys:
        if key not in ALWAYS_KEYS:
            row.pop(key, None)
    return row


def _select(row: Json, tree: dict[str, Any]) -> Json:
    out = {k: v for k, v in row.items() if k in ALWAYS_KEYS or k in ("__type", "className")}
    for key, sub in tree.items():
        if key not in row:
            continue
        value = row[key]
        if sub and isinstance(value, dict) and value.get("__type") == "Object":
            out[key] = _select(value, sub)
        elif sub and isinstance(value, list):
            out[key] = [_select(v, sub) if isinstance(v, dict) and v.get("__type") == "Object" else v for v in value]
        else:
            out[key] = value
    return out
