"""The declared data model: frozen ClassDef / FieldDef values and Parse's system classes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from engine.wire import Bytes, File, GeoPoint, Pointer, Polygon, RelationRef, Value


class FieldType(StrEnum):
    STRING = "String"
    NUMBER = "Number"
    BOOLEAN = "Boolean"
    DATE = "Date"
    OBJECT = "Object"
    ARRAY = "Array"
    GEOPOINT = "GeoPoint"
    FILE = "File"
    BYTES = "Bytes"
    POLYGON = "Polygon"
    POINTER = "Pointer"
    RELATION = "Relation"
    ACL = "ACL"


CLASS_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
FIELD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SYSTEM_CLASSES = frozenset(
    {"_User", "_Installation", "_Role", "_Session", "_Product", "_PushStatus", "_JobStatus", "_JobSchedule",
     "_Audience", "_Idempotency", "_GlobalConfig", "_GraphQLConfig", "_Hooks"}
)
BUILTIN_FIELDS = ("objectId", "createdAt", "updatedAt", "ACL")
RESERVED_FIELD_NAMES = frozenset({"objectId", "createdAt", "updatedAt", "ACL", "length", "className"})
# Object.prototype's own names (and `prototype`): as a class or field name they shadow JS runtime members in
# Parse Server and the SDKs, so Parse refuses them; names starting with `_` already fail the name pattern.
PROTOTYPE_NAMES = frozenset({"constructor", "prototype", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
                             "toString", "toLocaleString", "valueOf", "__proto__", "__defineGetter__",
                             "__defineSetter__", "__lookupGetter__", "__lookupSetter__"})
MAX_NAME_LENGTH = 128


@dataclass(frozen=True, slots=True)
class FieldDef:
    type: FieldType
    target_class: str | None = None
    required: bool = False
    default: Any = None  # already decoded with engine.wire.decode

    def type_label(self) -> str:
        return f"{self.type}<{self.target_class}>" if self.target_class else str(self.type)


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    fields: Mapping[str, FieldDef] = field(default_factory=lambda: _frozen({}))
    # CLP JSON exactly as Parse stores it; engine.security interprets it.
    clp: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    indexes: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _frozen({}))

    def field_def(self, name: str) -> FieldDef | None:
        return self.fields.get(name)

    def with_fields(self, fields: Mapping[str, FieldDef]) -> ClassDef:
        return replace(self, fields=_frozen(fields))

    def with_clp(self, clp: Mapping[str, Any]) -> ClassDef:
        return replace(self, clp=_frozen(clp))

    def with_indexes(self, indexes: Mapping[str, Mapping[str, Any]]) -> ClassDef:
        return replace(self, indexes=_frozen(indexes))

    def relation_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.type is FieldType.RELATION]


def _defaults() -> dict[str, FieldDef]:
    return {
        "objectId": FieldDef(FieldType.STRING),
        "createdAt": FieldDef(FieldType.DATE),
        "updatedAt": FieldDef(FieldType.DATE),
        "ACL": FieldDef(FieldType.ACL),
    }


SYSTEM_FIELDS: Mapping[str, Mapping[str, FieldDef]] = {
    "_User": {
        "username": FieldDef(FieldType.STRING),
        "password": FieldDef(FieldType.STRING),
        "email": FieldDef(FieldType.STRING),
        "emailVerified": FieldDef(FieldType.BOOLEAN),
        "authData": FieldDef(FieldType.OBJECT),
    },
    "_Installation": {
        "installationId": FieldDef(FieldType.STRING),
        "deviceToken": FieldDef(FieldType.STRING),
        "channels": FieldDef(FieldType.ARRAY),
        "deviceType": FieldDef(FieldType.STRING),
        "pushType": FieldDef(FieldType.STRING),
        "GCMSenderId": FieldDef(FieldType.STRING),
        "timeZone": FieldDef(FieldType.STRING),
        "localeIdentifier": FieldDef(FieldType.STRING),
        "badge": FieldDef(FieldType.NUMBER),
        "appVersion": FieldDef(FieldType.STRING),
        "appName": FieldDef(FieldType.STRING),
        "appIdentifier": FieldDef(FieldType.STRING),
        "parseVersion": FieldDef(FieldType.STRING),
    },
    "_Role": {
        "name": FieldDef(FieldType.STRING),
        "users": FieldDef(FieldType.RELATION, "_User"),
        "roles": FieldDef(FieldType.RELATION, "_Role"),
    },
    "_JobStatus": {
        "jobName": FieldDef(FieldType.STRING),
        "source": FieldDef(FieldType.STRING),
        "status": FieldDef(FieldType.STRING),
        "message": FieldDef(FieldType.STRING),
        "params": FieldDef(FieldType.OBJECT),
        "finishedAt": FieldDef(FieldType.DATE),
    },
    "_JobSchedule": {
        "jobName": FieldDef(FieldType.STRING),
        "description": FieldDef(FieldType.STRING),
        "params": FieldDef(FieldType.STRING),
        "startAfter": FieldDef(FieldType.STRING),
        "daysOfWeek": FieldDef(FieldType.ARRAY),
        "timeOfDay": FieldDef(FieldType.STRING),
        "lastRun": FieldDef(FieldType.NUMBER),
        "repeatMinutes": FieldDef(FieldType.NUMBER),
    },
    "_Idempotency": {
        "reqId": FieldDef(FieldType.STRING),
        "expire": FieldDef(FieldType.DATE),
    },
    "_Hooks": {  # Parse's own columns; without them a trigger row's `className` reads back as a reserved name
        "functionName": FieldDef(FieldType.STRING),
        "className": FieldDef(FieldType.STRING),
        "triggerName": FieldDef(FieldType.STRING),
        "url": FieldDef(FieldType.STRING),
    },
    "_GlobalConfig": {
        "params": FieldDef(FieldType.OBJECT),
        "masterKeyOnly": FieldDef(FieldType.OBJECT),
    },
    "_Session": {
        "user": FieldDef(FieldType.POINTER, "_User"),
        "installationId": FieldDef(FieldType.STRING),
        "sessionToken": FieldDef(FieldType.STRING),
        "expiresAt": FieldDef(FieldType.DATE),
        "createdWith": FieldDef(FieldType.OBJECT),
    },
}

# Classes every app has, whether or not the schema file names them.
IMPLICIT_CLASSES = ("_User", "_Role", "_Session", "_Installation", "_JobStatus")
# Parse's internal classes: only the master key reads or writes them, whatever their CLP says.
MASTER_ONLY_CLASSES = frozenset({"_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_GraphQLConfig",
                                 "_JobSchedule", "_Audience", "_Idempotency"})


def default_fields(class_name: str) -> dict[str, FieldDef]:
    """The columns Parse gives every object, plus the system class's own."""
    out = _defaults()
    out.update(SYSTEM_FIELDS.get(class_name, {}))
    return out


def is_valid_class_name(name: str) -> bool:
    if name in SYSTEM_CLASSES:
        return True
    return len(name) <= MAX_NAME_LENGTH and name not in PROTOTYPE_NAMES and bool(CLASS_NAME_RE.match(name))


def is_valid_field_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and name not in PROTOTYPE_NAMES and bool(FIELD_NAME_RE.match(name))


_BOOLEAN, _NUMBER, _STRING = FieldDef(FieldType.BOOLEAN), FieldDef(FieldType.NUMBER), FieldDef(FieldType.STRING)


def value_type(value: Value) -> FieldDef | None:
    """Parse's getType: the schema type a decoded value implies (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int | float):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    if isinstance(value, datetime):
        return FieldDef(FieldType.DATE)
    if isinstance(value, Pointer):
        return FieldDef(FieldType.POINTER, value.class_name)
    simple = {GeoPoint: FieldType.GEOPOINT, File: FieldType.FILE, Bytes: FieldType.BYTES, Polygon: FieldType.POLYGON}
    for kind, ftype in simple.items():
        if isinstance(value, kind):
            return FieldDef(ftype)
    if isinstance(value, RelationRef):
        return FieldDef(FieldType.RELATION, value.class_name)
    if isinstance(value, list):
        return FieldDef(FieldType.ARRAY)
    return FieldDef(FieldType.OBJECT)


def public_clp() -> dict[str, Any]:
    """Parse's default CLP for a class that declares none: everything public."""
    ops = ("find", "count", "get", "create", "update", "delete", "addField")
    out: dict[str, Any] = {op: {"*": True} for op in ops}
    out["protectedFields"] = {"*": []}
    return out


def master_only_clp() -> dict[str, Any]:
    out: dict[str, Any] = {op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")}
    out["protectedFields"] = {}
    return out


def new_class(name: str, fields: Mapping[str, FieldDef] | None = None) -> ClassDef:
    merged = default_fields(name)
    merged.update(fields or {})
    clp = master_only_clp() if name in MASTER_ONLY_CLASSES else public_clp()
    return ClassDef(name, _frozen(merged), _frozen(clp), _frozen({"_id_": {"_id": 1}}))
