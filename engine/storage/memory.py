"""MemoryAdapter: the StorageAdapter kept entirely in process, so nothing is persisted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.query.deadline import check_deadline, deadline_after, running_until
from engine.query.match import distance_radians, matches, near_node, resolve_path, sort_objects, values_equal
from engine.query.options import FindOptions
from engine.query.where import Path, Where
from engine.schema.model import ClassDef
from engine.storage.base import (
    DUPLICATE_MESSAGE,
    AddItems,
    Changes,
    FieldOp,
    Increment,
    RemoveItems,
    SetValue,
    StoredObject,
    Unset,
    create_each,
)
from engine.wire import GeoPoint, Value

# Parse Server creates these unique indexes itself (sparse: objects lacking the field are not indexed).
BUILTIN_UNIQUE: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "_User": (("username",), ("email",)),
    "_Role": (("name",),),
    "_Idempotency": (("reqId",),),
}



def thaw(value: Value) -> Value:
    """A private copy of plain data; scalars and frozen wire values are immutable and shared."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def _detach(obj: StoredObject) -> StoredObject:
    """A copy whose fields share nothing mutable with the adapter (or with the caller)."""
    return replace(
        obj,
        fields=MappingProxyType({k: thaw(v) for k, v in obj.fields.items()}),
        internal=MappingProxyType({k: thaw(v) for k, v in obj.internal.items()}),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


Container = dict[str, Any] | list[Any]


def _slot_key(container: Container, part: str, path: Path) -> str | int:
    """A path part as a key of ``container``: a name in an object, an index in an array (MongoDB's `items.0.count`).

    An index reaches at most one past the end (appending): MongoDB pads with nulls, but an index from a client must
    not be able to make the server allocate an array of any length."""
    if isinstance(container, dict):
        return part
    # Nine digits bound the parse; the length check bounds the allocation.
    if not (part.isascii() and part.isdigit() and len(part) <= 9) or int(part) > len(container):
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"Cannot set {'.'.join(path)}: {part} is not an index of the array")
    return int(part)


def _get(container: Container, key: str | int) -> tuple[bool, Any]:
    if isinstance(container, dict):
        return str(key) in container, container.get(str(key))
    index = int(key)
    return (True, container[index]) if index < len(container) else (False, None)


def _put(container: Container, key: str | int, value: Any) -> None:
    if isinstance(container, dict):
        container[str(key)] = value
    elif int(key) == len(container):
        container.append(value)
    else:
        container[int(key)] = value


def _drop(container: Container, key: str | int) -> None:
    if isinstance(container, dict):
        container.pop(str(key), None)
    elif int(key) < len(container):
        container[int(key)] = None  # as MongoDB's $unset of an array slot: the slot stays, null


def apply_op(fields: dict[str, Any], path: Path, op: FieldOp) -> None:
    parent: Container = fields
    for part in path[:-1]:
        key = _slot_key(parent, part, path)
        _, child = _get(parent, key)
        if child is None:
            if isinstance(op, Unset | RemoveItems):
                return  # nothing there to remove, and Mongo does not create the parents either
            child = {}
            _put(parent, key, child)
        if not isinstance(child, dict | list):
            raise ParseError(ErrorCode.INCORRECT_TYPE, f"Cannot set {'.'.join(path)}: {part} is not an object")
        parent = child
    leaf = _slot_key(parent, path[-1], path)
    present, current = _get(parent, leaf)
    if isinstance(op, SetValue):
        _put(parent, leaf, thaw(op.value))
    elif isinstance(op, Unset):
        _drop(parent, leaf)
    elif isinstance(op, Increment):
        if not present:
            _put(parent, leaf, op.amount)
        elif isinstance(current, int | float) and not isinstance(current, bool):
            _put(parent, leaf, current + op.amount)
        else:
            raise ParseError(ErrorCode.INCORRECT_TYPE, "Cannot increment a non-number")
    elif isinstance(op, AddItems):
        if present and not isinstance(current, list):
            raise ParseError(ErrorCode.INCORRECT_TYPE, "Cannot add items to a non-array")
        items = current if isinstance(current, list) else []
        for item in op.items:
            if op.unique and any(values_equal(item, existing) for existing in items):
                continue
            items.append(thaw(item))
        _put(parent, leaf, items)
    elif isinstance(op, RemoveItems):
        if not present:
            return
        if not isinstance(current, list):
            raise ParseError(ErrorCode.INCORRECT_TYPE, "Cannot remove items from a non-array")
        _put(parent, leaf, [v for v in current if not any(values_equal(v, item) for item in op.items)])
    else:
        raise ParseError(ErrorCode.INVALID_JSON, f"unknown update operation: {type(op).__name__}")


def _unique_keys(cls: ClassDef) -> list[tuple[Path, ...]]:
    keys: list[tuple[Path, ...]] = [tuple((name,) for name in spec) for spec in BUILTIN_UNIQUE.get(cls.name, ())]
    for spec in cls.indexes.values():
        if isinstance(spec, Mapping) and spec.get("unique") is True:
            paths = tuple(tuple(str(name).split(".")) for name in spec if name != "unique")
            if paths:
                keys.append(paths)
    return keys


def apply_changes(target: StoredObject, changes: Changes) -> StoredObject:
    """The object after an update; stores that keep whole objects (memory, SQLite rows) share this."""
    fields: dict[str, Any] = {k: thaw(v) for k, v in target.fields.items()}
    for path, op in changes.ops:
        apply_op(fields, path, op)
    internal = dict(target.internal)
    for key, value in changes.internal.items():
        if value is None:
            internal.pop(key, None)
        else:
            internal[key] = thaw(value)
    acl = None if changes.clear_acl else (changes.acl if changes.acl is not None else target.acl)
    return replace(target, updated_at=changes.updated_at, acl=acl, fields=MappingProxyType(fields),
                   internal=MappingProxyType(internal))


class MemoryAdapter:
    """Objects per class in dicts keyed by objectId; every method runs without awaiting, hence atomically.

    ``max_time_ms`` bounds the matching of each find and count (124 past it): checked between objects and shared
    by every regex evaluation; None or 0: unbounded (regexes keep their per-match cap)."""

    def __init__(self, *, max_time_ms: int | None = None) -> None:
        self._max_time_ms = max_time_ms
        self._schemas: dict[str, ClassDef] = {}
        self._objects: dict[str, dict[str, StoredObject]] = {}
        # (class, relation key) -> ordered set of (owning id, related id)
        self._joins: dict[tuple[str, str], dict[tuple[str, str], None]] = {}

    async def open(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    # ---- schemas ----

    async def load_schemas(self) -> list[ClassDef]:
        return list(self._schemas.values())

    async def save_schema(self, cls: ClassDef) -> None:
        self._schemas[cls.name] = cls

    async def drop_class(self, cls: ClassDef) -> None:
        self._schemas.pop(cls.name, None)
        self._objects.pop(cls.name, None)
        for join in [j for j in self._joins if j[0] == cls.name]:
            del self._joins[join]

    # ---- objects ----

    def _check_unique(self, cls: ClassDef, candidate: StoredObject) -> None:
        table = self._objects.get(cls.name, {})
        for paths in _unique_keys(cls):
            mine = [resolve_path(candidate, p) for p in paths]
            if not any(found for found, _ in mine):
                continue  # sparse: an object without any indexed field is not indexed
            for other in table.values():
                if other.object_id == candidate.object_id:
                    continue
                theirs = [resolve_path(other, p) for p in paths]
                if all(
                    f1 == f2 and values_equal(v1, v2) for (f1, v1), (f2, v2) in zip(mine, theirs, strict=True)
                ):
                    raise ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE)

    async def create(self, cls: ClassDef, obj: StoredObject) -> None:
        table = self._objects.setdefault(cls.name, {})
        if obj.object_id in table:
            raise ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE)
        stored = _detach(obj)
        self._check_unique(cls, stored)
        table[stored.object_id] = stored

    async def create_many(self, cls: ClassDef, objs: Sequence[StoredObject]) -> list[ParseError | None]:
        return await create_each(self.create, cls, objs)

    def _matching(self, cls: ClassDef, where: Where) -> list[StoredObject]:
        out: list[StoredObject] = []
        with running_until(deadline_after(self._max_time_ms)):
            for i, obj in enumerate(self._objects.get(cls.name, {}).values()):
                if i % 256 == 0:
                    check_deadline()
                if matches(where, obj):
                    out.append(obj)
        return out

    async def find(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]:
        rows = self._matching(cls, where)
        if opts.order:
            rows = sort_objects(rows, opts.order)
        else:
            near = near_node(where)
            if near is not None:
                rows.sort(key=lambda o: _distance(o, near.path, near.point))
        end = None if opts.limit is None else opts.skip + max(opts.limit, 0)
        return [_detach(o) for o in rows[opts.skip:end]]

    async def count(self, cls: ClassDef, where: Where) -> int:
        return len(self._matching(cls, where))

    async def update(self, cls: ClassDef, where: Where, changes: Changes) -> StoredObject | None:
        table = self._objects.get(cls.name, {})
        target = next((o for o in table.values() if matches(where, o)), None)
        if target is None:
            return None
        updated = apply_changes(target, changes)
        self._check_unique(cls, updated)
        table[updated.object_id] = updated
        return _detach(updated)

    async def delete(self, cls: ClassDef, where: Where) -> int:
        table = self._objects.get(cls.name, {})
        doomed = [oid for oid, o in table.items() if matches(where, o)]
        for oid in doomed:
            del table[oid]
        return len(doomed)

    # ---- relations ----

    async def add_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        join = self._joins.setdefault((cls.name, key), {})
        for rid in related_ids:
            join[(owning_id, rid)] = None

    async def remove_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        join = self._joins.get((cls.name, key), {})
        for rid in related_ids:
            join.pop((owning_id, rid), None)

    async def related_ids(self, cls: ClassDef, key: str, owning_ids: Sequence[str]) -> list[str]:
        wanted = set(owning_ids)
        pairs = self._joins.get((cls.name, key), {})
        return list(dict.fromkeys(rid for oid, rid in pairs if oid in wanted))

    async def owning_ids(self, cls: ClassDef, key: str, related_ids: Sequence[str]) -> list[str]:
        wanted = set(related_ids)
        pairs = self._joins.get((cls.name, key), {})
        return list(dict.fromkeys(oid for oid, rid in pairs if rid in wanted))


def _distance(obj: StoredObject, path: Path, point: GeoPoint) -> float:
    found, value = resolve_path(obj, path)
    values = value if isinstance(value, list) else [value]
    distances = [distance_radians(v, point) for v in values if found and isinstance(v, GeoPoint)]
    return min(distances, default=float("inf"))
