"""StoredObject ⇄ SQLite row: fields as typed Parse JSON, ISO timestamps, permission arrays, schema rows."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from engine.errors import ErrorCode, ParseError
from engine.schema.model import ClassDef, FieldType
from engine.schema.rest import class_from_json, class_to_json
from engine.storage.base import StoredObject
from engine.storage.encoded import EncodedObject
from engine.wire import (
    ACL,
    Bytes,
    File,
    GeoPoint,
    Pointer,
    Polygon,
    RelationRef,
    Value,
    decode_acl,
    encode,
    format_date,
    parse_date,
)

log = logging.getLogger(__name__)

# The columns a row is read back from, in the order decode_row expects them.
ROW_COLUMNS = 'objectId, createdAt, updatedAt, acl, data, internal'
INSERT_COLUMNS = ("objectId", "createdAt", "updatedAt", "_rperm", "_wperm", "acl", "data", "internal")


# One encoder for every row: json.dumps with options builds a new JSONEncoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: object) -> str:
    """Compact JSON; a non-finite number has no JSON spelling (SQLite's parser would refuse the whole row)."""
    try:
        return _ENCODER.encode(value)
    except ValueError as exc:
        raise ParseError(ErrorCode.INVALID_JSON, "invalid number: only finite numbers can be stored") from exc


def loads(text: str) -> Any:
    # orjson is several times faster on the read path; the stdlib still reads integers past 64 bits exactly
    # (only a hook can store one: request bodies are parsed by orjson already).
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# ---- values ----

def encode_value(value: Value) -> object:
    """A field value as Parse JSON: dates, pointers, files, bytes, geo values as ``__type`` objects."""
    return encode(value)


def encode_fields(cls: ClassDef | None, fields: Mapping[str, Value]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in fields.items():
        fdef = cls.fields.get(name) if cls is not None else None
        if isinstance(value, File) and fdef is not None and fdef.type is FieldType.FILE:
            # A File column keeps only the name, as Parse stores it; the url is computed when served.
            out[name] = {"__type": "File", "name": value.name}
        else:
            out[name] = encode_value(value)
    return out


def _number(value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return value


def _decode_typed(data: Mapping[str, Any]) -> Value:
    """The exact inverse of engine.wire.encode on what this adapter wrote (no validation: it was validated)."""
    kind = data.get("__type")
    try:
        if kind == "Date":
            return parse_date(data["iso"])
        if kind == "Pointer":
            return Pointer(str(data["className"]), str(data["objectId"]))
        if kind == "GeoPoint":
            return GeoPoint(_number(data["latitude"]), _number(data["longitude"]))
        if kind == "File":
            url = data.get("url")
            return File(str(data["name"]), url if isinstance(url, str) else None)
        if kind == "Bytes":
            return Bytes(base64.b64decode(data["base64"], validate=True))
        if kind == "Polygon":
            return Polygon(tuple((_number(p[0]), _number(p[1])) for p in data["coordinates"]))
        if kind == "Relation":
            return RelationRef(str(data["className"]))
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error, ParseError):
        log.warning("undecodable %s value in SQLite row; returned as a plain object", kind)
    return {str(k): decode_value(v) for k, v in data.items()}


def decode_value(value: Any) -> Value:
    if isinstance(value, dict):
        if "__type" in value:
            return _decode_typed(value)
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def decode_fields(text: str | None) -> dict[str, Value]:
    if not text:
        return {}
    data = loads(text)
    return {k: decode_value(v) for k, v in data.items()} if isinstance(data, dict) else {}


# ---- rows ----

def _perms(names: frozenset[str]) -> str:
    # Sorted, as match.py presents _rperm/_wperm, so sorting on them agrees too.
    return dumps(sorted(names))


def encode_row(cls: ClassDef | None, obj: StoredObject) -> tuple[object, ...]:
    """The values of INSERT_COLUMNS for one object."""
    acl = obj.acl
    created = format_date(obj.created_at)
    return (
        obj.object_id,
        created,
        created if obj.updated_at == obj.created_at else format_date(obj.updated_at),  # a create: one stamp
        None if acl is None else _perms(acl.read),
        None if acl is None else _perms(acl.write),
        None if acl is None else dumps(acl.to_json()),
        dumps(encode_fields(cls, obj.fields)),
        dumps({k: encode_value(v) for k, v in obj.internal.items()}) if obj.internal else "{}",
    )


def decode_row(class_name: str, row: tuple[Any, ...]) -> StoredObject:
    """A row read with ROW_COLUMNS."""
    object_id, created_at, updated_at, acl_text, data, internal = row
    acl: ACL | None = None
    if acl_text is not None:
        acl = decode_acl(loads(acl_text))
    return StoredObject(
        class_name,
        object_id,
        parse_date(created_at),
        parse_date(updated_at),
        acl,
        MappingProxyType(decode_fields(data)),
        MappingProxyType(decode_fields(internal)),
    )


# What dumps writes for a File anywhere in a document (compact separators): without it, no url is needed.
_FILE_MARK = '"__type":"File"'
_NO_INTERNAL: Mapping[str, Any] = MappingProxyType({})


def encoded_columns(class_name: str) -> str:
    """The columns encoded_row reads: `internal` only where it is served (_User's authData)."""
    return ROW_COLUMNS if class_name == "_User" else ROW_COLUMNS.removesuffix(", internal")


def encoded_row(class_name: str, row: tuple[Any, ...]) -> EncodedObject:
    """A row read with encoded_columns, as the Parse JSON it holds. Every column was written by encode_row from
    canonical values, so this is exactly what decode_row and re-encoding would give, without doing either."""
    object_id, created_at, updated_at, acl_text, data = row[:5]
    out: dict[str, Any] = {"objectId": object_id, "createdAt": created_at, "updatedAt": updated_at}
    if acl_text is not None:
        out["ACL"] = loads(acl_text)
    fields = loads(data) if data else None
    if isinstance(fields, dict):
        out.update(fields)
    internal = loads(row[5]) if len(row) > 5 and row[5] else None
    return EncodedObject(out, internal if isinstance(internal, dict) else _NO_INTERNAL,
                         bool(data) and _FILE_MARK in data)


# ---- schemas ----

def schema_text(cls: ClassDef) -> str:
    return dumps(class_to_json(cls))


def schema_from_text(text: str) -> ClassDef | None:
    try:
        data = loads(text)
        if not isinstance(data, Mapping):
            raise ValueError("not an object")
        return class_from_json(data)
    except (ValueError, ParseError) as exc:
        log.error("ignoring an unreadable _SCHEMA row: %s", exc)
        return None
