"""Typed values and ClassDefs ⇄ Parse Server's own MongoDB layout (object documents and `_SCHEMA` documents)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from engine.errors import ParseError
from engine.schema.model import BUILTIN_FIELDS, ClassDef, FieldDef, FieldType, default_fields, public_clp
from engine.storage.base import StoredObject
from engine.wire import ACL, Bytes, File, GeoPoint, Pointer, Polygon, RelationRef, Value, decode, encode, parse_date

log = logging.getLogger(__name__)

ID, CREATED, UPDATED = "_id", "_created_at", "_updated_at"
RPERM, WPERM, LEGACY_ACL = "_rperm", "_wperm", "_acl"
POINTER_PREFIX = "_p_"
SCHEMA_COLLECTION = "_SCHEMA"

_BUILTIN_KEYS = {"objectId": ID, "createdAt": CREATED, "updatedAt": UPDATED}
# Parse renames these columns in every class (MongoTransform.transformKey), e.g. _Session.sessionToken.
_RENAMED = {"sessionToken": "_session_token", "lastUsed": "_last_used", "timesUsed": "times_used"}
_UNRENAMED = {stored: name for name, stored in _RENAMED.items()}
_STRUCTURAL = frozenset({ID, CREATED, UPDATED, RPERM, WPERM, LEGACY_ACL})
# Underscore keys Parse may leave on a document that are neither fields nor server-owned values.
_IGNORED = frozenset({"_metadata", "_client_permissions", "__type"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_TYPE_NAMES = {
    FieldType.STRING: "string",
    FieldType.NUMBER: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.OBJECT: "object",
    FieldType.ARRAY: "array",
    FieldType.GEOPOINT: "geopoint",
    FieldType.FILE: "file",
    FieldType.BYTES: "bytes",
    FieldType.POLYGON: "polygon",
}
_TYPES_BY_NAME = {name: kind for kind, name in _TYPE_NAMES.items()} | {"map": FieldType.OBJECT}
_NON_FIELD_SCHEMA_KEYS = frozenset({"_id", "_metadata", "_client_permissions"})


# ---- keys ----

def field_key(cls: ClassDef, name: str, value: Value = None) -> str:
    """The document key of a top-level column; a column missing from the schema is keyed by its value."""
    if name in _BUILTIN_KEYS:
        return _BUILTIN_KEYS[name]
    if name in _RENAMED:
        return _RENAMED[name]
    fdef = cls.fields.get(name)
    if fdef is not None:
        return POINTER_PREFIX + name if fdef.type is FieldType.POINTER else name
    return POINTER_PREFIX + name if isinstance(value, Pointer) else name


def path_key(cls: ClassDef, path: tuple[str, ...]) -> str:
    return ".".join((field_key(cls, path[0]), *path[1:]))


def id_value(cls: ClassDef, object_id: str) -> Any:
    # Parse keys the one _GlobalConfig document by the integer 1.
    if cls.name == "_GlobalConfig" and object_id.isdigit():
        return int(object_id)
    return object_id


# ---- values ----

def to_bson_date(value: datetime) -> datetime:
    """Naive UTC with millisecond precision: what BSON stores, so queries compare like for like."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def from_bson_date(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pointer_string(value: Pointer) -> str:
    return f"{value.class_name}${value.object_id}"


def polygon_document(value: Polygon) -> dict[str, Any]:
    ring = [[lng, lat] for lat, lng in value.coordinates]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))  # GeoJSON rings are closed; Parse closes them the same way
    return {"type": "Polygon", "coordinates": [ring]}


def encode_nested(value: Value) -> Any:
    """A value inside an Object/Array (or a column the schema does not know): dates and bytes stay BSON,
    pointers, GeoPoints, Files and Polygons become Parse JSON dicts, as Parse's transformInteriorAtom does."""
    if isinstance(value, datetime):
        return to_bson_date(value)
    if isinstance(value, Bytes):
        return value.data  # the driver writes bytes as BSON Binary (subtype 0)
    if isinstance(value, Pointer | GeoPoint | File | Polygon | RelationRef):
        return encode(value)
    if isinstance(value, Mapping):
        return {str(k): encode_nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_nested(v) for v in value]
    return value


def encode_column(fdef: FieldDef | None, value: Value) -> Any:
    """A top-level column value in the typed layout its schema type asks for."""
    if value is None:
        return None
    kind = fdef.type if fdef is not None else None
    if isinstance(value, Pointer) and kind in (FieldType.POINTER, None):
        return pointer_string(value)
    if isinstance(value, GeoPoint) and kind is FieldType.GEOPOINT:
        return [value.longitude, value.latitude]
    if isinstance(value, Polygon) and kind is FieldType.POLYGON:
        return polygon_document(value)
    if isinstance(value, File) and kind is FieldType.FILE:
        return value.name
    return encode_nested(value)


def _odd_scalar(value: object) -> Value:
    # Decimal128 and ObjectId can sit in databases other tools wrote; neither has a Parse type.
    to_decimal = getattr(value, "to_decimal", None)
    if callable(to_decimal):
        return float(to_decimal())
    return str(value)


def _decode_typed(value: Mapping[str, Any]) -> Value:
    if value.get("__type") == "Date" and isinstance(value.get("iso"), datetime):
        return from_bson_date(value["iso"])
    try:
        return decode(value)
    except ParseError:
        log.warning("undecodable %s value in MongoDB document; returned as a plain object", value.get("__type"))
        return {k: decode_nested(v) for k, v in value.items()}


def decode_nested(value: Any) -> Value:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return from_bson_date(value)
    if isinstance(value, bytes):
        return Bytes(bytes(value))
    if isinstance(value, Mapping):
        if "__type" in value:
            return _decode_typed(value)
        return {str(k): decode_nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [decode_nested(v) for v in value]
    return _odd_scalar(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_pair(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(v) for v in value)


def decode_column(fdef: FieldDef | None, value: Any) -> Value:
    if value is None or fdef is None:
        return decode_nested(value)
    kind = fdef.type
    if kind is FieldType.GEOPOINT and _is_pair(value):
        return GeoPoint(latitude=float(value[1]), longitude=float(value[0]))
    if kind is FieldType.POLYGON and isinstance(value, Mapping) and value.get("type") == "Polygon":
        rings = value.get("coordinates")
        if isinstance(rings, list) and rings and all(_is_pair(c) for c in rings[0]):
            return Polygon(tuple((float(lat), float(lng)) for lng, lat in rings[0]))
    if kind is FieldType.FILE and isinstance(value, str):
        return File(value)
    if kind is FieldType.BYTES and isinstance(value, str):
        # Very old Parse versions stored Bytes as a base64 string.
        try:
            return Bytes(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return value
    if kind is FieldType.DATE and isinstance(value, str):
        try:
            return parse_date(value)
        except ParseError:
            return value
    return decode_nested(value)


_INVALID = object()


def decode_pointer(value: Any) -> Any:
    """``"Class$id"`` → Pointer; None stays None; anything else is _INVALID."""
    if value is None:
        return None
    if isinstance(value, str):
        class_name, sep, object_id = value.partition("$")
        if sep and class_name and object_id:
            return Pointer(class_name, object_id)
    if isinstance(value, Mapping) and value.get("__type") == "Pointer":
        decoded = _decode_typed(value)
        if isinstance(decoded, Pointer):
            return decoded
    return _INVALID


# ---- ACL ----

def encode_acl(acl: ACL) -> dict[str, Any]:
    legacy: dict[str, dict[str, bool]] = {}
    for key in sorted(acl.read | acl.write):
        entry: dict[str, bool] = {}
        if key in acl.read:
            entry["r"] = True
        if key in acl.write:
            entry["w"] = True
        legacy[key] = entry
    return {RPERM: sorted(acl.read), WPERM: sorted(acl.write), LEGACY_ACL: legacy}


def _strings(value: Any) -> frozenset[str]:
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def decode_acl(doc: Mapping[str, Any]) -> ACL | None:
    if doc.get(RPERM) is not None or doc.get(WPERM) is not None:
        return ACL(_strings(doc.get(RPERM)), _strings(doc.get(WPERM)))
    legacy = doc.get(LEGACY_ACL)
    if isinstance(legacy, Mapping):
        # Documents from before Parse wrote _rperm/_wperm carry only the legacy map.
        read = {k for k, v in legacy.items() if isinstance(v, Mapping) and v.get("r") is True}
        write = {k for k, v in legacy.items() if isinstance(v, Mapping) and v.get("w") is True}
        return ACL(frozenset(read), frozenset(write))
    return None


# ---- documents ----

def encode_document(cls: ClassDef, obj: StoredObject) -> dict[str, Any]:
    doc: dict[str, Any] = {
        ID: id_value(cls, obj.object_id),
        CREATED: to_bson_date(obj.created_at),
        UPDATED: to_bson_date(obj.updated_at),
    }
    for name, value in obj.fields.items():
        fdef = cls.fields.get(name)
        if name in BUILTIN_FIELDS or isinstance(value, RelationRef):
            continue
        if fdef is not None and fdef.type is FieldType.RELATION:
            continue  # relations live in _Join collections only
        doc[field_key(cls, name, value)] = encode_column(fdef, value)
    for key, value in obj.internal.items():
        if value is not None:
            doc[key] = encode_nested(value)
    if obj.acl is not None:
        doc.update(encode_acl(obj.acl))
    return doc


def _date_or(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return from_bson_date(value)
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ParseError:
            pass
    return fallback


def decode_document(cls: ClassDef, doc: Mapping[str, Any]) -> StoredObject:
    fields: dict[str, Value] = {}
    internal: dict[str, Value] = {}
    for key, raw in doc.items():
        if key in _STRUCTURAL or key in _IGNORED or key in BUILTIN_FIELDS:
            continue
        if key.startswith(POINTER_PREFIX):
            pointer = decode_pointer(raw)
            if pointer is _INVALID:
                log.warning("%s: dropping malformed pointer column %s", cls.name, key)
            else:
                fields[key[len(POINTER_PREFIX):]] = pointer
            continue
        name = _UNRENAMED.get(key)
        if name is not None and (name in cls.fields or not (key.startswith("_") or key in cls.fields)):
            fields[name] = decode_column(cls.fields.get(name), raw)
            continue
        if key.startswith("_"):
            # _hashed_password, _session_token, _auth_data_<provider>, _email_verify_token, ...
            internal[key] = decode_nested(raw)
            continue
        fdef = cls.fields.get(key)
        if fdef is not None and fdef.type is FieldType.RELATION:
            continue
        fields[key] = decode_column(fdef, raw)
    object_id = doc.get(ID)
    generated = getattr(object_id, "generation_time", None)
    # Very old Parse documents spell the timestamps createdAt/updatedAt; Parse still reads those.
    created = _date_or(doc.get(CREATED, doc.get("createdAt")), generated if isinstance(generated, datetime) else _EPOCH)
    return StoredObject(
        class_name=cls.name,
        object_id=str(object_id),
        created_at=created,
        updated_at=_date_or(doc.get(UPDATED, doc.get("updatedAt")), created),
        acl=decode_acl(doc),
        fields=MappingProxyType(fields),
        internal=MappingProxyType(internal),
    )


# ---- _SCHEMA documents ----

def _plain(value: Any) -> Any:
    """MappingProxy/tuple-free copy: BSON encodes only dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def field_type_string(fdef: FieldDef) -> str | None:
    if fdef.type is FieldType.POINTER:
        return f"*{fdef.target_class}"
    if fdef.type is FieldType.RELATION:
        return f"relation<{fdef.target_class}>"
    return _TYPE_NAMES.get(fdef.type)


def parse_field_type(text: object) -> FieldDef | None:
    if not isinstance(text, str):
        return None
    if text.startswith("*") and len(text) > 1:
        return FieldDef(FieldType.POINTER, text[1:])
    if text.startswith("relation<") and text.endswith(">") and len(text) > len("relation<>"):
        return FieldDef(FieldType.RELATION, text[len("relation<"):-1])
    kind = _TYPES_BY_NAME.get(text)
    return FieldDef(kind) if kind is not None else None


def schema_document(cls: ClassDef) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": cls.name, "objectId": "string", "updatedAt": "date", "createdAt": "date"}
    options: dict[str, dict[str, Any]] = {}
    for name, fdef in cls.fields.items():
        if name in BUILTIN_FIELDS or (cls.name == "_User" and name == "password"):
            continue  # implicit in Parse's _SCHEMA (the password column is the internal _hashed_password)
        type_string = field_type_string(fdef)
        if type_string is None:
            continue
        doc[name] = type_string
        opts: dict[str, Any] = {}
        if fdef.required:
            opts["required"] = True
        if fdef.default is not None:
            opts["defaultValue"] = encode(fdef.default)
        if opts:
            options[name] = opts
    metadata: dict[str, Any] = {"class_permissions": _plain(cls.clp)}
    if cls.indexes:
        metadata["indexes"] = _plain(cls.indexes)
    if options:
        metadata["fields_options"] = options
    doc["_metadata"] = metadata
    return doc


def _with_options(name: str, fdef: FieldDef, opts: object) -> FieldDef:
    if not isinstance(opts, Mapping):
        return fdef
    default = None
    if opts.get("defaultValue") is not None:
        try:
            default = decode(opts["defaultValue"])
        except ParseError:
            log.warning("ignoring undecodable defaultValue of %s", name)
    return replace(fdef, required=opts.get("required") is True, default=default)


def class_from_schema_document(doc: Mapping[str, Any]) -> ClassDef | None:
    name = doc.get("_id")
    if not isinstance(name, str) or not name:
        return None
    metadata = doc.get("_metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    options = metadata.get("fields_options")
    options = options if isinstance(options, Mapping) else {}
    fields = default_fields(name)
    for key, type_string in doc.items():
        # Parse lists its internal columns (_rperm, _hashed_password, ...) here too; they are not fields.
        if key in _NON_FIELD_SCHEMA_KEYS or key.startswith("_") or key in BUILTIN_FIELDS:
            continue
        fdef = parse_field_type(type_string)
        if fdef is None:
            log.warning("_SCHEMA %s: ignoring field %s of unknown type %r", name, key, type_string)
            continue
        fields[key] = _with_options(key, fdef, options.get(key))
    clp = metadata.get("class_permissions")
    indexes = metadata.get("indexes")
    return ClassDef(
        name,
        MappingProxyType(fields),
        MappingProxyType(_plain(clp) if isinstance(clp, Mapping) else public_clp()),
        MappingProxyType(_plain(indexes) if isinstance(indexes, Mapping) else {"_id_": {"_id": 1}}),
    )


def index_keys(cls: ClassDef, spec: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], bool]:
    """(storage-named key list, unique) of one schema index spec such as ``{"score": 1, "unique": True}``."""
    keys = [(field_key(cls, str(k)), v) for k, v in spec.items() if k != "unique"]
    return keys, spec.get("unique") is True
