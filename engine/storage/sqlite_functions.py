"""Python functions SQLite calls from compiled queries: regex, text search, geometry, and sort keys."""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.query import geo
from engine.query.match import regex_matches, resolve_path, sort_key, text_matches
from engine.query.where import Regex, Text
from engine.storage.base import StoredObject
from engine.storage.sqlite_codec import decode_value, loads
from engine.wire import GeoPoint, Value

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _order_bytes(key: Any, out: bytearray) -> None:
    """Bytes whose memcmp order is Python's order of sort_key tuples (numbers, strings, bytes, tuples)."""
    if isinstance(key, tuple):
        out.append(0x05)
        for item in key:
            _order_bytes(item, out)
        out.append(0x01)  # below every tag: a prefix sorts first, as in tuple comparison
    elif isinstance(key, int | float):
        number = float(key) or 0.0  # -0.0 == 0.0 in Python
        bits = struct.unpack(">Q", struct.pack(">d", number))[0]
        bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
        out.append(0x02)
        out += bits.to_bytes(8, "big")
    elif isinstance(key, str | bytes):
        raw = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else key  # UTF-8 keeps code point order
        out.append(0x03 if isinstance(key, str) else 0x04)
        out += raw.replace(b"\x00", b"\x00\xff")
        out += b"\x00\x00"
    else:
        _order_bytes(repr(key), out)


def order_key(value: Value) -> bytes:
    out = bytearray()
    _order_bytes(sort_key(value), out)
    return bytes(out)


def _sort_key_sql(text: str | None) -> bytes | None:
    if text is None:
        return None
    return order_key(decode_value(loads(text)))


def _resolve(document: str | None, path_json: str) -> tuple[bool, Value]:
    path = tuple(loads(path_json))
    data = loads(document) if document else {}
    head = path[0]
    fields = {head: decode_value(data[head])} if isinstance(data, dict) and head in data else {}
    probe = StoredObject("", "", _EPOCH, _EPOCH, None, fields)
    return resolve_path(probe, path)


def _sort_path_sql(document: str | None, path_json: str) -> bytes:
    return order_key(_resolve(document, path_json)[1])


def _near_distance_sql(document: str | None, path_json: str, lat: float, lng: float) -> float:
    # memory._distance: the nearest GeoPoint the path reaches; objects without one sort last.
    found, value = _resolve(document, path_json)
    values = value if isinstance(value, list) else [value]
    point = GeoPoint(lat, lng)
    return min((geo.distance_radians(v, point) for v in values if found and isinstance(v, GeoPoint)),
               default=math.inf)


@functools.lru_cache(maxsize=256)
def _regex_node(pattern: str, options: str) -> Regex:
    return Regex(("_",), pattern, options)


def _regexp_sql(pattern: str, options: str | None, text: object) -> int:
    if not isinstance(text, str) or not isinstance(pattern, str):
        return 0
    return int(regex_matches([text], _regex_node(pattern, options or "")))


@functools.lru_cache(maxsize=256)
def _text_node(term: str, case_sensitive: bool, diacritic_sensitive: bool) -> Text:
    return Text(("_",), term, None, case_sensitive, diacritic_sensitive)


def _text_sql(term: str, case_sensitive: int, diacritic_sensitive: int, text: object) -> int:
    if not isinstance(text, str) or not isinstance(term, str):
        return 0
    return int(text_matches([text], _text_node(term, bool(case_sensitive), bool(diacritic_sensitive))))


def _distance_sql(lat1: object, lng1: object, lat2: float, lng2: float) -> float | None:
    if not all(isinstance(v, int | float) for v in (lat1, lng1)):
        return None
    return geo.distance_radians(GeoPoint(lat1, lng1), GeoPoint(lat2, lng2))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _vertices(text: str) -> tuple[tuple[float, float], ...]:
    return tuple((float(p[0]), float(p[1])) for p in loads(text))


def _in_polygon_sql(lat: object, lng: object, vertices: str) -> int:
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        return 0
    return int(geo.in_polygon((lat, lng), _vertices(vertices)))


def _polygon_contains_sql(coordinates: str | None, lat: float, lng: float) -> int:
    if not isinstance(coordinates, str):
        return 0
    try:
        ring = _vertices(coordinates)
    except (ValueError, TypeError, IndexError):
        return 0
    return int(geo.in_polygon((lat, lng), ring))


SQL_FUNCTIONS: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    ("parse_regexp", 3, _regexp_sql),
    ("parse_text", 4, _text_sql),
    ("parse_geo_distance", 4, _distance_sql),
    ("parse_in_polygon", 3, _in_polygon_sql),
    ("parse_polygon_contains", 3, _polygon_contains_sql),
    ("parse_sort_key", 1, _sort_key_sql),
    ("parse_sort_path", 2, _sort_path_sql),
    ("parse_near_distance", 4, _near_distance_sql),
)


def register_functions(conn: Any) -> None:
    """Install the functions compiled SQL calls on one sqlite3 connection."""
    for name, arity, fn in SQL_FUNCTIONS:
        conn.create_function(name, arity, fn, deterministic=True)
