"""Turn a client's write body into typed field operations, checked against the class's schema."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.schema.limits import check_write_body, shown
from engine.schema.model import ClassDef, FieldDef, FieldType, is_valid_field_name, value_type
from engine.storage.base import AddItems, FieldOp, Increment, RemoveItems, SetValue, Unset
from engine.wire import ACL, Pointer, RelationRef, Value, decode, decode_acl

Path = tuple[str, ...]
IGNORED_KEYS = frozenset({"createdAt", "updatedAt"})
__all__ = ["WritePlan", "check_required", "check_required_kept", "plan_write", "value_type"]
NESTED_KEY_MESSAGE = "Nested keys should not contain the '$' or '.' characters"


@dataclass(frozen=True, slots=True)
class RelationChange:
    key: str
    target_class: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WritePlan:
    ops: tuple[tuple[Path, FieldOp], ...] = ()
    relations: tuple[RelationChange, ...] = ()
    acl: ACL | None = None
    acl_given: bool = False
    new_fields: Mapping[str, FieldDef] = field(default_factory=dict)


def check_nested_keys(value: Value, depth: int = 0) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "$" in key or "." in key:
                raise ParseError(ErrorCode.INVALID_NESTED_KEY, NESTED_KEY_MESSAGE)
            check_nested_keys(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_nested_keys(item, depth + 1)


class _Planner:
    def __init__(self, cls: ClassDef, is_create: bool) -> None:
        self.cls = cls
        self.is_create = is_create
        self.ops: list[tuple[Path, FieldOp]] = []
        self.relations: list[RelationChange] = []
        self.new_fields: dict[str, FieldDef] = {}

    def expect(self, key: str, found: FieldDef | None) -> None:
        """Check (or record, for a new column) the type a value implies for a top-level key."""
        if found is None:
            return
        declared = self.cls.field_def(key) or self.new_fields.get(key)
        if declared is None:
            self.new_fields[key] = found
            return
        if declared.type != found.type or (
            declared.type in (FieldType.POINTER, FieldType.RELATION) and declared.target_class != found.target_class
        ):
            raise ParseError(
                ErrorCode.INCORRECT_TYPE,
                f"schema mismatch for {self.cls.name}.{key}; "
                f"expected {declared.type_label()} but got {found.type_label()}",
            )

    def key(self, raw: str, value: Any) -> None:
        parts = raw.split(".") if "." in raw else [raw]
        top = parts[0]
        if not is_valid_field_name(top) or (len(parts) > 1 and any(not p or "$" in p for p in parts[1:])):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {shown(raw)}.")
        if len(parts) > 1:
            declared = self.cls.field_def(top)
            # As Parse's enforceFieldExists: `<object>.<key>`, or `<array>.<index>` (MongoDB's positional path).
            by_index = parts[1].isascii() and parts[1].isdigit()
            if declared is None or not (declared.type is FieldType.OBJECT
                                        or (by_index and declared.type is FieldType.ARRAY)):
                raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {shown(raw)}.")
        path = tuple(parts)
        if isinstance(value, Mapping) and "__op" in value:
            self.op(path, value)
            return
        decoded = decode(value)
        check_nested_keys(decoded)
        if len(path) == 1:
            self.expect(top, value_type(decoded))
            if isinstance(decoded, RelationRef):
                return  # declaring a relation column is all a Relation value can do
        self.ops.append((path, SetValue(decoded)))

    def op(self, path: Path, spec: Mapping[str, Any]) -> None:
        kind = spec.get("__op")
        top = path[0]
        if kind == "Delete":
            self.ops.append((path, Unset()))
        elif kind == "Increment":
            amount = spec.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
                raise ParseError(ErrorCode.INVALID_JSON, "Increment amount must be a number")
            if len(path) == 1:
                self.expect(top, FieldDef(FieldType.NUMBER))
            self.ops.append((path, Increment(amount)))
        elif kind in ("Add", "AddUnique", "Remove"):
            objects = spec.get("objects")
            if not isinstance(objects, list):
                raise ParseError(ErrorCode.INVALID_JSON, "objects to add must be an array")
            items = tuple(decode(o) for o in objects)
            for item in items:
                check_nested_keys(item)
            if len(path) == 1:
                self.expect(top, FieldDef(FieldType.ARRAY))
            self.ops.append((path, RemoveItems(items) if kind == "Remove" else AddItems(items, kind == "AddUnique")))
        elif kind in ("AddRelation", "RemoveRelation", "Batch"):
            if len(path) != 1:
                raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {shown('.'.join(path))}.")
            self.relation(top, spec)
        else:
            raise ParseError(ErrorCode.COMMAND_UNAVAILABLE, f"The {shown(kind)} operator is not supported.")

    def relation(self, key: str, spec: Mapping[str, Any]) -> None:
        steps = spec.get("ops") if spec.get("__op") == "Batch" else [spec]
        if not isinstance(steps, list):
            raise ParseError(ErrorCode.INVALID_JSON, "Batch ops must be an array")
        add: list[str] = []
        remove: list[str] = []
        target: str | None = None
        for step in steps:
            if not isinstance(step, Mapping) or step.get("__op") not in ("AddRelation", "RemoveRelation"):
                raise ParseError(ErrorCode.INVALID_JSON, "only relation ops can be batched")
            objects = step.get("objects")
            if not isinstance(objects, list):
                raise ParseError(ErrorCode.INVALID_JSON, "objects to add must be an array")
            for obj in objects:
                ptr = decode(obj)
                if not isinstance(ptr, Pointer):
                    raise ParseError(ErrorCode.INVALID_POINTER, "relation ops take pointers")
                if target is not None and ptr.class_name != target:
                    raise ParseError(ErrorCode.INCORRECT_TYPE, "related objects must all be of one class")
                target = ptr.class_name
                (add if step["__op"] == "AddRelation" else remove).append(ptr.object_id)
        if target is None:
            return
        self.expect(key, FieldDef(FieldType.RELATION, target))
        self.relations.append(RelationChange(key, target, tuple(add), tuple(remove)))


def plan_write(cls: ClassDef, body: Mapping[str, Any], *, is_create: bool) -> WritePlan:
    """Check every key of a create or update body and return the typed operations it asks for."""
    check_write_body(body)  # before any decoding: the caps bound everything below
    planner = _Planner(cls, is_create)
    acl: ACL | None = None
    acl_given = False
    for raw, value in body.items():
        if not isinstance(raw, str):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, "Invalid field name.")
        if raw in IGNORED_KEYS:
            continue
        if raw == "objectId":
            if is_create:
                raise ParseError(ErrorCode.INVALID_KEY_NAME, "objectId is an invalid field name.")
            continue
        if raw == "ACL":
            acl_given = True
            if isinstance(value, Mapping) and value.get("__op") == "Delete":
                continue
            acl = decode_acl(value)
            continue
        planner.key(raw, value)
    _check_disjoint(planner.ops)
    return WritePlan(tuple(planner.ops), tuple(planner.relations), acl, acl_given, dict(planner.new_fields))


def _check_disjoint(ops: list[tuple[Path, FieldOp]]) -> None:
    """`{"meta": {...}, "meta.n": op}` is ambiguous; stores disagree on it, so refuse it up front."""
    if all(len(path) == 1 for path, _ in ops):
        return  # top-level keys of one body are distinct, and none can be another's prefix
    paths = sorted(path for path, _ in ops)
    for a, b in zip(paths, paths[1:], strict=False):
        if b[: len(a)] == a:
            raise ParseError(ErrorCode.INVALID_JSON,
                             f"conflicting updates to {shown('.'.join(a))} and {shown('.'.join(b))}")


def check_required(cls: ClassDef, fields: Mapping[str, Value]) -> None:
    for name, fdef in cls.fields.items():
        if fdef.required and fields.get(name) is None and fdef.type is not FieldType.RELATION:
            raise ParseError(ErrorCode.VALIDATION_ERROR, f"{name} is required")


def check_required_kept(cls: ClassDef, ops: tuple[tuple[Path, FieldOp], ...]) -> None:
    for path, op in ops:
        fdef = cls.field_def(path[0])
        if len(path) == 1 and fdef is not None and fdef.required:
            if isinstance(op, Unset) or (isinstance(op, SetValue) and op.value is None):
                raise ParseError(ErrorCode.VALIDATION_ERROR, f"{path[0]} is required")
