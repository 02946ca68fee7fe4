"""Parse JSON on the wire ⇄ Python values: Date, Pointer, File, Bytes, GeoPoint, Polygon, Relation; objectIds."""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.errors import ErrorCode, ParseError

_ID_ALPHABET = string.ascii_letters + string.digits
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_POINTER_CLASS_LENGTH = 128  # the class-name cap (engine.schema.model)
MAX_OBJECT_ID_LENGTH = 256  # generous for custom object ids; generated ones have 10 characters


@dataclass(frozen=True, slots=True)
class Pointer:
    class_name: str
    object_id: str


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class File:
    name: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Bytes:
    data: bytes


@dataclass(frozen=True, slots=True)
class Polygon:
    """Points as (latitude, longitude) pairs, the order Parse uses on the wire."""

    coordinates: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class RelationRef:
    class_name: str


Value = Any  # str | float | int | bool | None | datetime | Pointer | GeoPoint | File | Bytes | Polygon | list | dict


# Bytes at or past this are dropped so every character stays equally likely (248 = 4 × 62).
_ID_BYTE_LIMIT = 256 - 256 % len(_ID_ALPHABET)
_ID_TABLE = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))
_ID_DROPPED = bytes(range(_ID_BYTE_LIMIT, 256))


def new_object_id(size: int = 10) -> str:
    """``size`` characters from the OS's CSPRNG: one urandom read per id, bytes mapped to the alphabet by a table
    (a create's id once cost a tenth of its CPU as ten syscalls, then as a per-byte generator)."""
    out = ""
    while len(out) < size:
        out += secrets.token_bytes(size + 4).translate(_ID_TABLE, _ID_DROPPED).decode("ascii")
    return out[:size]


def now() -> datetime:
    # Parse keeps millisecond precision; truncating here keeps stored and echoed values identical.
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def format_date(value: datetime) -> str:
    last = _last_formatted  # one read: another thread may replace it meanwhile
    if value is last[0]:
        return last[1]  # a write formats its one stamp for createdAt, updatedAt and the response
    given = value
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        elif value.utcoffset():
            value = value.astimezone(UTC)
    # isoformat is several times faster than strftime, and this runs for every date of every object served.
    text = value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    _remember(given, text)
    return text


def _remember(value: datetime, text: str) -> None:
    global _last_formatted
    _last_formatted = (value, text)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_last_formatted: tuple[datetime, str] = (_EPOCH, "1970-01-01T00:00:00.000Z")


def parse_date(text: object) -> datetime:
    if not isinstance(text, str) or len(text) > 64:
        raise ParseError(ErrorCode.INCORRECT_TYPE, "invalid date")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        # An offset can push year 1 or 9999 outside what datetime (and every store) can hold.
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"invalid date: {text}") from exc


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(ErrorCode.INVALID_JSON, f"invalid {what}")
    return float(value)


def decode_geopoint(data: Mapping[str, Any]) -> GeoPoint:
    lat = _finite(data.get("latitude"), "GeoPoint latitude")
    lng = _finite(data.get("longitude"), "GeoPoint longitude")
    if not -90.0 <= lat <= 90.0 or not -180.0 <= lng <= 180.0:
        raise ParseError(ErrorCode.INVALID_JSON, "GeoPoint out of range")
    return GeoPoint(lat, lng)


def _decode_pointer(data: Mapping[str, Any]) -> Pointer:
    cls, oid = data.get("className"), data.get("objectId")
    if not isinstance(cls, str) or not cls or not isinstance(oid, str) or not oid:
        raise ParseError(ErrorCode.INVALID_POINTER, "invalid pointer")
    if len(cls) > MAX_POINTER_CLASS_LENGTH or len(oid) > MAX_OBJECT_ID_LENGTH:
        raise ParseError(ErrorCode.INVALID_POINTER, "invalid pointer: class name or objectId too long")
    return Pointer(cls, oid)


def _decode_typed(data: Mapping[str, Any]) -> Value:
    kind = data["__type"]
    if kind == "Pointer":
        return _decode_pointer(data)
    if kind == "Date":
        return parse_date(data.get("iso"))
    if kind == "GeoPoint":
        return decode_geopoint(data)
    if kind == "File":
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ParseError(ErrorCode.INVALID_FILE_NAME, "invalid file")
        url = data.get("url")
        return File(name, url if isinstance(url, str) else None)
    if kind == "Bytes":
        raw = data.get("base64")
        if not isinstance(raw, str):
            raise ParseError(ErrorCode.INVALID_JSON, "invalid Bytes")
        try:
            return Bytes(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ParseError(ErrorCode.INVALID_JSON, "invalid Bytes") from exc
    if kind == "Polygon":
        coords = data.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 3:
            raise ParseError(ErrorCode.INVALID_JSON, "Polygon must have at least 3 points")
        points: list[tuple[float, float]] = []
        for c in coords:
            if isinstance(c, Mapping) and c.get("__type") == "GeoPoint":
                g = decode_geopoint(c)
                points.append((g.latitude, g.longitude))
            elif isinstance(c, list) and len(c) == 2:
                points.append((_finite(c[0], "Polygon"), _finite(c[1], "Polygon")))
            else:
                raise ParseError(ErrorCode.INVALID_JSON, "invalid Polygon")
        if points[0] != points[-1]:
            points.append(points[0])  # Parse stores (and returns) the ring closed
        if len(set(points)) < 3:
            raise ParseError(ErrorCode.INVALID_JSON, "Polygon must have at least 3 distinct points")
        return Polygon(tuple(points))
    if kind == "Relation":
        cls = data.get("className")
        if not isinstance(cls, str):
            raise ParseError(ErrorCode.INVALID_JSON, "invalid Relation")
        return RelationRef(cls)
    if kind == "Object":
        # A full object sent back by the SDK (e.g. an included pointer) is stored as a pointer.
        return _decode_pointer(data)
    raise ParseError(ErrorCode.INCORRECT_TYPE, f"invalid type: {str(kind)[:64]}")


# Exact types (not subclasses) that decode and encode return unchanged; numbers still get their range checks.
_AS_IS = frozenset({str, bool, type(None)})
_ENCODED_AS_IS = _AS_IS | {int, float}


def decode(value: object) -> Value:
    """Decode a Parse JSON value (never an ``__op``) into a Python value."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Mapping):
        if "__type" in value:
            return _decode_typed(value)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ParseError(ErrorCode.INVALID_JSON, "invalid number")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        # orjson yields unsigned 64-bit ints up to 2**64-1; no store keeps them exactly.
        raise ParseError(ErrorCode.INVALID_JSON, "invalid number: integers must fit in 64 bits")
    return value


def encode(value: Value, file_url: Any = None) -> object:
    """Encode a Python value to Parse JSON; ``file_url(name)`` computes File urls."""
    if type(value) in _ENCODED_AS_IS:  # most values: skip the isinstance chain (ABC checks cost the most)
        return value
    if isinstance(value, datetime):
        return {"__type": "Date", "iso": format_date(value)}
    if isinstance(value, Pointer):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.object_id}
    if isinstance(value, GeoPoint):
        return {"__type": "GeoPoint", "latitude": value.latitude, "longitude": value.longitude}
    if isinstance(value, File):
        url = file_url(value.name) if file_url is not None else value.url
        out: dict[str, object] = {"__type": "File", "name": value.name}
        if url:
            out["url"] = url
        return out
    if isinstance(value, Bytes):
        return {"__type": "Bytes", "base64": base64.b64encode(value.data).decode("ascii")}
    if isinstance(value, Polygon):
        return {"__type": "Polygon", "coordinates": [list(p) for p in value.coordinates]}
    if isinstance(value, RelationRef):
        return {"__type": "Relation", "className": value.class_name}
    if isinstance(value, Mapping):
        return {k: encode(v, file_url) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v, file_url) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class ACL:
    """Who may read and write one object: ``*``, user ids and ``role:Name`` entries."""

    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, dict[str, bool]]:
        out: dict[str, dict[str, bool]] = {}
        for key in sorted(self.read | self.write):
            entry: dict[str, bool] = {}
            if key in self.read:
                entry["read"] = True
            if key in self.write:
                entry["write"] = True
            out[key] = entry
        return out


_ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9_\- ]+$")


def decode_acl(data: object) -> ACL:
    if not isinstance(data, Mapping):
        raise ParseError(ErrorCode.INVALID_ACL, "ACL must be an object")
    read: set[str] = set()
    write: set[str] = set()
    for key, perms in data.items():
        if not isinstance(key, str) or not key or len(key) > 256:
            raise ParseError(ErrorCode.INVALID_ACL, "invalid ACL key")
        if key.startswith("role:") and not _ROLE_NAME_RE.match(key[5:]):
            raise ParseError(ErrorCode.INVALID_ACL, f"invalid ACL role: {key}")
        if not isinstance(perms, Mapping):
            raise ParseError(ErrorCode.INVALID_ACL, "invalid ACL entry")
        for perm, allowed in perms.items():
            if perm not in ("read", "write") or not isinstance(allowed, bool):
                raise ParseError(ErrorCode.INVALID_ACL, f"invalid permission type: {perm}")
            if allowed:
                (read if perm == "read" else write).add(key)
    return ACL(frozenset(read), frozenset(write))


PROHIBITED_KEYS = frozenset({"__proto__", "constructor", "prototype", "_bsontype"})
MAX_NESTING = 64


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def check_denylist(value: object, depth: int = 0) -> None:
    """Refuse keys that poison JS/driver runtimes (Parse's requestKeywordDenylist), at any depth.

    Every body (and each batch) walks through here, so scalars are not recursed into (their exact type is
    checked first: the ABC isinstance below cost a batch of 50 creates a tenth of its CPU); a container's items
    sit one level deeper, which is where the nesting cap counts them."""
    if depth > MAX_NESTING:
        raise ParseError(ErrorCode.INVALID_JSON, "request data is too deeply nested")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and (key in PROHIBITED_KEYS
                                         or ("." in key and not PROHIBITED_KEYS.isdisjoint(key.split(".")))):
                name = key if len(key) <= 64 else key[:64] + "…"  # never echo a megabyte key
                raise ParseError(ErrorCode.INVALID_KEY_NAME, f'Prohibited keyword in request data: {{"key":"{name}"}}.')
            if depth >= MAX_NESTING:
                raise ParseError(ErrorCode.INVALID_JSON, "request data is too deeply nested")
            if type(item) not in _JSON_SCALARS and isinstance(item, Mapping | list):
                check_denylist(item, depth + 1)
    elif isinstance(value, list):
        if value and depth >= MAX_NESTING:
            raise ParseError(ErrorCode.INVALID_JSON, "request data is too deeply nested")
        for item in value:
            if type(item) not in _JSON_SCALARS and isinstance(item, Mapping | list):
                check_denylist(item, depth + 1)
