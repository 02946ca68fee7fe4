"""StoredObject and ClassDef ⇄ Parse Server's own PostgreSQL layout (PostgresStorageAdapter).

One table per class with a typed column per field: ``objectId`` text primary key, ``createdAt``/``updatedAt``
timestamptz, ``_rperm``/``_wperm`` text[], String/File/Pointer text (a pointer keeps only its objectId: the
schema names the target class), Number double precision, Boolean boolean, Date timestamptz, GeoPoint point
(x = longitude), Polygon polygon, Object/Array/Bytes jsonb (Parse JSON). ``authData`` is one jsonb column
holding every provider; the other server-owned ``_`` keys are columns of their own. ``_SCHEMA`` keeps each
class as Parse's schema document (``className``, ``fields``, ``classLevelPermissions``, ``indexes``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from asyncpg.types import Point as PgPoint, Polygon as PgPolygon

from engine.errors import ErrorCode, ParseError
from engine.schema.model import BUILTIN_FIELDS, ClassDef, FieldDef, FieldType
from engine.schema.rest import class_from_json, class_to_json
from engine.storage.base import StoredObject
from engine.storage.sqlite_codec import decode_value, dumps, encode_value
from engine.wire import ACL, File, GeoPoint, Pointer, Polygon, RelationRef, Value

log = logging.getLogger(__name__)

SCHEMA_TABLE = "_SCHEMA"
JOIN_PREFIX = "_Join:"
AUTH_DATA = "authData"
AUTH_PREFIX = "_auth_data_"
BUILTIN_COLUMNS = ("objectId", "createdAt", "updatedAt", "_rperm", "_wperm")

# Parse's parseTypeToPostgresType.
PG_TYPES: Mapping[FieldType, str] = {
    FieldType.STRING: "text",
    FieldType.DATE: "timestamp with time zone",
    FieldType.OBJECT: "jsonb",
    FieldType.FILE: "text",
    FieldType.BOOLEAN: "boolean",
    FieldType.POINTER: "text",
    FieldType.NUMBER: "double precision",
    FieldType.GEOPOINT: "point",
    FieldType.BYTES: "jsonb",
    FieldType.POLYGON: "polygon",
    FieldType.ARRAY: "jsonb",
}
# Server-owned columns Parse creates on _User, with its types; any other `_` key is kept as jsonb.
INTERNAL_TYPES: Mapping[str, str] = {
    "_hashed_password": "text",
    "_email_verify_token": "text",
    "_perishable_token": "text",
    "_session_token": "text",
    "_failed_login_count": "double precision",
    "_email_verify_token_expires_at": "timestamp with time zone",
    "_account_lockout_expires_at": "timestamp with time zone",
    "_perishable_token_expires_at": "timestamp with time zone",
    "_password_changed_at": "timestamp with time zone",
    "_password_history": "jsonb",
}
# information_schema's udt_name for each type above.
UDT = {"text": "text", "timestamp with time zone": "timestamptz", "jsonb": "jsonb", "boolean": "bool",
       "double precision": "float8", "point": "point", "polygon": "polygon", "text[]": "_text"}
# The SQL cast a bound parameter of a column gets (asyncpg infers types from these).
CASTS = {"text": "text", "timestamptz": "timestamptz", "jsonb": "jsonb", "bool": "boolean", "float8": "float8",
         "point": "point", "polygon": "polygon", "_text": "text[]", "varchar": "text"}


def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, "invalid name")
    return '"' + name.replace('"', '""') + '"'


def join_table(class_name: str, key: str) -> str:
    return f"{JOIN_PREFIX}{key}:{class_name}"


def column_type(cls: ClassDef, name: str) -> str | None:
    """The column type a field or server-owned key gets when its column is created; None: no column."""
    if name == AUTH_DATA or name.startswith(AUTH_PREFIX):
        return "jsonb"
    if name.startswith("_"):
        return INTERNAL_TYPES.get(name, "jsonb")
    fdef = cls.fields.get(name)
    if fdef is None:
        return "jsonb"  # a key the schema does not (yet) declare: self-describing Parse JSON
    if fdef.type in (FieldType.RELATION, FieldType.ACL):
        return None
    return PG_TYPES.get(fdef.type, "jsonb")


# ---- values ----

def _json(value: Value) -> str:
    return dumps(encode_value(value))


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise ParseError(ErrorCode.INVALID_JSON, "invalid number: only finite numbers can be stored")
    return number


def encode_column(udt: str, value: Value) -> Any:
    """A value as asyncpg binds it for a column of type ``udt``; a value the column cannot hold is refused."""
    if udt == "jsonb":
        if isinstance(value, File):
            return dumps({"__type": "File", "name": value.name})
        return _json(value)
    if value is None:
        return None
    if udt in ("text", "varchar"):
        if isinstance(value, Pointer):
            return value.object_id
        if isinstance(value, File):
            return value.name
        if isinstance(value, str):
            return value
    elif udt == "float8" and isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(float(value))
    elif udt == "bool" and isinstance(value, bool):
        return value
    elif udt == "timestamptz" and isinstance(value, datetime):
        return value
    elif udt == "point" and isinstance(value, GeoPoint):
        return PgPoint(value.longitude, value.latitude)
    elif udt == "polygon" and isinstance(value, Polygon):
        return PgPolygon(*[PgPoint(lng, lat) for lat, lng in value.coordinates])
    elif udt == "_text" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ParseError(ErrorCode.INCORRECT_TYPE, "schema mismatch: the value does not fit the column's type")


def _number(value: float) -> int | float:
    # double precision hands back 10.0 for a stored 10; JSON clients expect 10, as Parse Server answers.
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def decode_column(fdef: FieldDef | None, udt: str, raw: Any) -> Value:
    if udt == "jsonb":
        return decode_value(json.loads(raw) if isinstance(raw, str) else raw)
    if udt in ("text", "varchar") and fdef is not None:
        if fdef.type is FieldType.POINTER and fdef.target_class:
            return Pointer(fdef.target_class, raw)
        if fdef.type is FieldType.FILE:
            return File(raw)
    if udt == "float8":
        return _number(float(raw))
    if udt == "timestamptz" and isinstance(raw, datetime):
        return raw.astimezone(UTC)
    if udt == "point":
        return GeoPoint(float(raw.y), float(raw.x))
    if udt == "polygon":
        return Polygon(tuple((float(p.y), float(p.x)) for p in raw.points))
    if udt == "_text":
        return list(raw)
    if isinstance(raw, bool | str | int | float):
        return raw
    return str(raw)


# ---- rows ----

def object_columns(cls: ClassDef, obj: StoredObject) -> dict[str, Value]:
    """Every column the object sets (name -> typed value); builtins and the ACL are handled apart."""
    out: dict[str, Value] = {}
    for name, value in obj.fields.items():
        if name in BUILTIN_FIELDS or isinstance(value, RelationRef) or name == AUTH_DATA:
            continue
        fdef = cls.fields.get(name)
        if fdef is not None and fdef.type is FieldType.RELATION:
            continue
        out[name] = value
    auth: dict[str, Value] = {}
    for key, value in obj.internal.items():
        if key.startswith(AUTH_PREFIX):
            if value is not None:
                auth[key[len(AUTH_PREFIX):]] = value
        elif value is not None:
            out[key] = value
    if auth:
        out[AUTH_DATA] = auth
    return out


def acl_columns(acl: ACL | None) -> tuple[list[str] | None, list[str] | None]:
    if acl is None:
        return None, None
    return sorted(acl.read), sorted(acl.write)


def decode_row(cls: ClassDef, columns: Mapping[str, str], row: Mapping[str, Any]) -> StoredObject:
    fields: dict[str, Value] = {}
    internal: dict[str, Value] = {}
    for name, raw in row.items():
        if name in BUILTIN_COLUMNS or raw is None:
            continue
        udt = columns.get(name, "jsonb")
        if name == AUTH_DATA:
            data = decode_column(None, udt, raw)
            if isinstance(data, Mapping):
                internal.update({AUTH_PREFIX + str(k): v for k, v in data.items() if v is not None})
            continue
        fdef = cls.fields.get(name)
        if fdef is not None and fdef.type is FieldType.RELATION:
            continue
        value = decode_column(fdef, udt, raw)
        (internal if name.startswith("_") else fields)[name] = value
    read, write = row.get("_rperm"), row.get("_wperm")
    acl = None
    if read is not None or write is not None:
        acl = ACL(frozenset(read or ()), frozenset(write or ()))
    created = row["createdAt"].astimezone(UTC) if row.get("createdAt") else datetime(1970, 1, 1, tzinfo=UTC)
    updated = row["updatedAt"].astimezone(UTC) if row.get("updatedAt") else created
    return StoredObject(cls.name, str(row["objectId"]), created, updated, acl,
                        MappingProxyType(fields), MappingProxyType(internal))


# ---- _SCHEMA documents ----

def schema_document(cls: ClassDef) -> dict[str, Any]:
    """Parse's adapter schema (SchemaController.convertSchemaToAdapterSchema + toPostgresSchema)."""
    doc = class_to_json(cls)
    fields = dict(doc["fields"])
    fields.pop("ACL", None)
    fields["_rperm"] = {"type": "Array", "contents": {"type": "String"}}
    fields["_wperm"] = {"type": "Array", "contents": {"type": "String"}}
    if cls.name == "_User":
        fields.pop("password", None)
        fields["_hashed_password"] = {"type": "String"}
        fields["_password_history"] = {"type": "Array"}
    doc["fields"] = fields
    return doc


def class_from_document(class_name: str, doc: object) -> ClassDef | None:
    if isinstance(doc, str):
        doc = json.loads(doc)
    if not isinstance(doc, Mapping):
        return None
    fields = doc.get("fields")
    fields = {k: v for k, v in fields.items() if not k.startswith("_") and k != "ACL"} if isinstance(
        fields, Mapping) else {}
    data = {**doc, "className": class_name, "fields": fields}
    try:
        return class_from_json(data)
    except ParseError as exc:
        try:
            # Parse may list indexes (e.g. on internal columns) our validation refuses: keep the class.
            cls = class_from_json({**data, "indexes": {}})
        except ParseError:
            log.error("ignoring an unreadable _SCHEMA row for %s: %s", class_name, exc)
            return None
        log.warning("_SCHEMA %s: ignoring its indexes (%s)", class_name, exc)
        return cls
