"""Parse's `where` JSON parsed into a typed tree; unknown operators and bad values are refused here."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.wire import GeoPoint, Pointer, Polygon, Value, decode, decode_geopoint, now

MAX_REGEX_LENGTH = 1024
MAX_DEPTH = 32
# A key names a field, then at most 31 levels inside it: a real schema never nests that deep, and every level
# costs SQL and a JSON walk per row.
MAX_PATH_SEGMENTS = 32
MAX_KEY_LENGTH = 256  # a whole dotted key, as written in the query
# Keys and operators in one where (subqueries and $or branches included), and JSON values inside operator
# arguments (list items, members of object values) over the whole where. Far above what an SDK sends; they keep
# parsing, compiling and matching bounded whatever the body size allows.
MAX_WHERE_TERMS = 2_000
MAX_WHERE_VALUES = 100_000
MAX_VALUE_DEPTH = 64  # nesting of one value, as wire.MAX_NESTING for request data
MAX_TEXT_TERM = 1024  # a $text $term, matched against every candidate row
_INT64 = 2**63
MAX_LIST_VALUES = 10_000  # $in/$nin/$all/$containedBy; a longer list is a denial-of-service, not a query
EARTH_RADIUS_KM = 6371.0
EARTH_RADIUS_MILES = 3958.8

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


@dataclass(frozen=True, slots=True)
class MatchNone:
    pass


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Where, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Where, ...]


@dataclass(frozen=True, slots=True)
class Nor:
    items: tuple[Where, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """``op`` is one of eq ne lt lte gt gte. Equality on an array field means "contains" (Mongo semantics)."""

    path: Path
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class In:
    path: Path
    values: tuple[Value, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    path: Path
    pattern: str  # as sent (PCRE, may hold \Q...\E); python_pattern() is the translated form
    options: str = ""

    def python_pattern(self) -> str:
        return translate_regex(self.pattern)


@dataclass(frozen=True, slots=True)
class All:
    """Array holds every value; a Regex element matches any string element (containsAllStartingWith)."""

    path: Path
    values: tuple[Value | Regex, ...]


@dataclass(frozen=True, slots=True)
class ContainedBy:
    path: Path
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    path: Path
    exists: bool


@dataclass(frozen=True, slots=True)
class Near:
    """Sorted by distance when no order is given. ``max_distance`` is in radians."""

    path: Path
    point: GeoPoint
    max_distance: float | None = None


@dataclass(frozen=True, slots=True)
class WithinBox:
    path: Path
    southwest: GeoPoint
    northeast: GeoPoint


@dataclass(frozen=True, slots=True)
class WithinPolygon:
    path: Path
    points: tuple[GeoPoint, ...]


@dataclass(frozen=True, slots=True)
class WithinSphere:
    path: Path
    center: GeoPoint
    radius: float  # radians


@dataclass(frozen=True, slots=True)
class GeoIntersects:
    """A Polygon field that contains the point."""

    path: Path
    point: GeoPoint


@dataclass(frozen=True, slots=True)
class Text:
    path: Path
    term: str
    language: str | None = None
    case_sensitive: bool = False
    diacritic_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class RelatedTo:
    owner: Pointer
    key: str


@dataclass(frozen=True, slots=True)
class InQuery:
    path: Path
    class_name: str
    where: Where
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Select:
    path: Path
    class_name: str
    where: Where
    key: str
    negate: bool = False


Where = (
    MatchAll | MatchNone | And | Or | Nor | Compare | In | Regex | All | ContainedBy | Exists | Near | WithinBox
    | WithinPolygon | WithinSphere | GeoIntersects | Text | RelatedTo | InQuery | Select
)

MATCH_ALL = MatchAll()
SUBQUERY_NODES = (RelatedTo, InQuery, Select)

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_OPTIONS_RE = re.compile(r"^[imxsu]+$")
_QUOTED_RE = re.compile(r"\\Q(.*?)(?:\\E|$)", re.S)
_QUERYABLE_INTERNALS = frozenset({"_rperm", "_wperm"})


def translate_regex(pattern: str) -> str:
    """PCRE's \\Q...\\E (the SDK's startsWith/endsWith) has no Python spelling: escape the quoted part."""
    return _QUOTED_RE.sub(lambda m: re.escape(m.group(1)), pattern)


def conjoin(*items: Where) -> Where:
    parts = [i for i in items if not isinstance(i, MatchAll)]
    if not parts:
        return MATCH_ALL
    if len(parts) == 1:
        return parts[0]
    return And(tuple(parts))


def parse_where(data: object, *, master: bool = False) -> Where:
    """Parse a `where` object; ``master`` lets internal ``_`` keys through (Parse's validateQuery)."""
    if data is None:
        return MATCH_ALL
    if not isinstance(data, Mapping):
        raise ParseError(ErrorCode.INVALID_QUERY, "where must be an object")
    return _Parser(master).top(data, 0)


class _Parser:
    def __init__(self, master: bool) -> None:
        self.master = master
        self.terms = 0
        self.values = 0

    def _term(self) -> None:
        self.terms += 1
        if self.terms > MAX_WHERE_TERMS:
            raise ParseError(ErrorCode.INVALID_QUERY, f"query has more than {MAX_WHERE_TERMS} keys and operators")

    def top(self, data: Mapping[str, Any], depth: int) -> Where:
        if depth > MAX_DEPTH:
            raise ParseError(ErrorCode.INVALID_QUERY, "query is too deeply nested")
        parts: list[Where] = []
        for key, value in data.items():
            self._term()
            if key in ("$or", "$and", "$nor"):
                parts.append(self._logical(key, value, depth))
            elif key == "$relatedTo":
                parts.append(self._related_to(value))
            else:
                parts.append(self._field(key, value, depth))
        return conjoin(*parts)

    def _logical(self, key: str, value: object, depth: int) -> Where:
        if not isinstance(value, list) or not value:
            raise ParseError(ErrorCode.INVALID_QUERY, f"Bad {key} format - use an array of at least 1 value.")
        items = []
        for item in value:
            if not isinstance(item, Mapping):
                raise ParseError(ErrorCode.INVALID_QUERY, f"Bad {key} format - use an array of objects.")
            items.append(self.top(item, depth + 1))
        if key == "$or":
            return Or(tuple(items))
        if key == "$nor":
            return Nor(tuple(items))
        return conjoin(*items) if items else MATCH_ALL

    def _related_to(self, value: object) -> Where:
        if not isinstance(value, Mapping) or not isinstance(value.get("key"), str):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $relatedTo")
        _check_key_size(value["key"])
        owner = decode(value.get("object"))
        if not isinstance(owner, Pointer):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $relatedTo")
        return RelatedTo(owner, value["key"])

    def _path(self, key: str) -> Path:
        if key == "ACL":
            raise ParseError(ErrorCode.INVALID_QUERY, "Cannot query on ACL.")
        _check_key_size(key)
        if not _KEY_RE.match(key):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid key name: {key}")
        if key.startswith("_") and key not in _QUERYABLE_INTERNALS and not self.master:
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid key name: {key}")
        return tuple(key.split("."))

    def _field(self, key: str, value: object, depth: int) -> Where:
        path = self._path(key)
        if isinstance(value, Mapping) and "__type" not in value and any(str(k).startswith("$") for k in value):
            return self._constraints(path, value, depth)
        return Compare(path, "eq", self._atom(value))

    def _atom(self, value: object) -> Value:
        if isinstance(value, Mapping) and "__type" not in value:
            for k in value:
                if str(k).startswith("$"):
                    raise ParseError(ErrorCode.INVALID_JSON, f"bad atom: {k}")
        self.values += _value_size(value)
        if self.values > MAX_WHERE_VALUES:
            raise ParseError(ErrorCode.INVALID_QUERY, f"query holds more than {MAX_WHERE_VALUES} values")
        try:
            return decode(_fit_numbers(value))
        except OverflowError as exc:  # a date whose time zone moves it out of years 1..9999
            raise ParseError(ErrorCode.INVALID_JSON, "a date in the query is out of range") from exc

    def _constraints(self, path: Path, spec: Mapping[str, Any], depth: int) -> Where:
        parts: list[Where] = []
        distance: float | None = None
        for op in ("$maxDistance", "$maxDistanceInRadians", "$maxDistanceInMiles", "$maxDistanceInKilometers"):
            if op in spec:
                d = spec[op]
                if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or d < 0:
                    raise ParseError(ErrorCode.INVALID_JSON, f"bad {op} value")
                if op == "$maxDistanceInMiles":
                    d = d / EARTH_RADIUS_MILES
                elif op == "$maxDistanceInKilometers":
                    d = d / EARTH_RADIUS_KM
                distance = float(d)
        for op, arg in spec.items():
            self._term()
            if op in ("$maxDistance", "$maxDistanceInRadians", "$maxDistanceInMiles", "$maxDistanceInKilometers"):
                if "$nearSphere" not in spec:
                    raise ParseError(ErrorCode.INVALID_JSON, f"{op} needs $nearSphere")
                continue
            if op == "$options":
                if "$regex" not in spec:
                    raise ParseError(ErrorCode.INVALID_QUERY, "$options needs $regex")
                continue
            parts.append(self._operator(path, op, arg, spec, distance, depth))
        return conjoin(*parts) if parts else MATCH_ALL

    def _operator(
        self, path: Path, op: str, arg: Any, spec: Mapping[str, Any], distance: float | None, depth: int
    ) -> Where:
        if isinstance(arg, list) and len(arg) > MAX_LIST_VALUES:
            raise ParseError(ErrorCode.INVALID_QUERY, f"{op} accepts at most {MAX_LIST_VALUES} values")
        if op in ("$lt", "$lte", "$gt", "$gte"):
            return Compare(path, op[1:], self._comparable(op, arg))
        if op in ("$eq", "$ne"):
            return Compare(path, op[1:], self._atom(arg))
        if op in ("$in", "$nin"):
            if not isinstance(arg, list):
                raise ParseError(ErrorCode.INVALID_JSON, f"bad {op} value")
            return In(path, tuple(self._atom(v) for v in arg), negate=op == "$nin")
        if op == "$exists":
            if not isinstance(arg, bool):
                raise ParseError(ErrorCode.INVALID_JSON, "bad $exists value")
            return Exists(path, arg)
        if op == "$all":
            if not isinstance(arg, list):
                raise ParseError(ErrorCode.INVALID_JSON, "bad $all value")
            return All(path, tuple(self._all_item(path, v) for v in arg))
        if op == "$containedBy":
            if not isinstance(arg, list):
                raise ParseError(ErrorCode.INVALID_JSON, "bad $containedBy: should be an array")
            return ContainedBy(path, tuple(self._atom(v) for v in arg))
        if op == "$regex":
            return self._regex(path, arg, spec.get("$options", ""))
        if op == "$nearSphere":
            return Near(path, self._geopoint(arg), distance)
        if op == "$within":
            return self._within(path, arg)
        if op == "$geoWithin":
            return self._geo_within(path, arg)
        if op == "$geoIntersects":
            if not isinstance(arg, Mapping) or "$point" not in arg:
                raise ParseError(ErrorCode.INVALID_JSON, "bad $geoIntersect value; $point should be GeoPoint")
            return GeoIntersects(path, self._geopoint(arg["$point"]))
        if op == "$text":
            return self._text(path, arg)
        if op in ("$inQuery", "$notInQuery"):
            cls, where = self._subquery(arg, depth)
            return InQuery(path, cls, where, negate=op == "$notInQuery")
        if op in ("$select", "$dontSelect"):
            if not isinstance(arg, Mapping) or not isinstance(arg.get("key"), str):
                raise ParseError(ErrorCode.INVALID_QUERY, f"improper usage of {op}")
            _check_key_size(arg["key"])
            cls, where = self._subquery(arg.get("query"), depth)
            return Select(path, cls, where, arg["key"], negate=op == "$dontSelect")
        raise ParseError(ErrorCode.INVALID_QUERY, f"bad constraint: {op}")

    def _comparable(self, op: str, arg: object) -> Value:
        if isinstance(arg, Mapping) and "$relativeTime" in arg:
            return relative_time(arg["$relativeTime"], op)
        value = self._atom(arg)
        if isinstance(value, list | dict):
            raise ParseError(ErrorCode.INVALID_JSON, "bad comparison value")
        return value

    def _all_item(self, path: Path, value: object) -> Value | Regex:
        if isinstance(value, Mapping) and "$regex" in value:
            return self._regex(path, value["$regex"], value.get("$options", ""))
        return self._atom(value)

    def _regex(self, path: Path, pattern: object, options: object) -> Regex:
        if not isinstance(pattern, str):
            raise ParseError(ErrorCode.INVALID_QUERY, "bad $regex value")
        if len(pattern) > MAX_REGEX_LENGTH:
            raise ParseError(ErrorCode.INVALID_QUERY, f"$regex is longer than {MAX_REGEX_LENGTH} characters")
        if not isinstance(options, str) or (options and not _OPTIONS_RE.match(options)):
            raise ParseError(ErrorCode.INVALID_QUERY, f"Bad $options value for query: {options}")
        node = Regex(path, pattern, options)
        try:
            re.compile(node.python_pattern())
        except re.error as exc:
            raise ParseError(ErrorCode.INVALID_QUERY, "Invalid regular expression in $regex") from exc
        return node

    def _geopoint(self, value: object) -> GeoPoint:
        if isinstance(value, Mapping) and value.get("__type") == "GeoPoint":
            return decode_geopoint(value)
        raise ParseError(ErrorCode.INVALID_JSON, "bad GeoPoint")

    def _polygon_point(self, value: object) -> GeoPoint:
        """A `$polygon` vertex: a GeoPoint, or a `[longitude, latitude]` pair as both of Parse's stores read it."""
        if isinstance(value, list) and len(value) == 2:
            return decode_geopoint({"latitude": value[1], "longitude": value[0]})
        return self._geopoint(value)

    def _within(self, path: Path, arg: object) -> Where:
        box = arg.get("$box") if isinstance(arg, Mapping) else None
        if not isinstance(box, list) or len(box) != 2:
            raise ParseError(ErrorCode.INVALID_JSON, "malformatted $within arg")
        a, b = self._geopoint(box[0]), self._geopoint(box[1])
        # Any two opposite corners, as MongoDB's `$box` and PostgreSQL's `box` (Parse's two stores) read them.
        sw = GeoPoint(min(a.latitude, b.latitude), min(a.longitude, b.longitude))
        ne = GeoPoint(max(a.latitude, b.latitude), max(a.longitude, b.longitude))
        return WithinBox(path, sw, ne)

    def _geo_within(self, path: Path, arg: object) -> Where:
        if not isinstance(arg, Mapping):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value")
        if "$polygon" in arg:
            poly = arg["$polygon"]
            if isinstance(poly, Mapping) and poly.get("__type") == "Polygon":
                decoded = decode(poly)
                assert isinstance(decoded, Polygon)
                points = tuple(GeoPoint(lat, lng) for lat, lng in decoded.coordinates)
            elif isinstance(poly, list):
                points = tuple(self._polygon_point(p) for p in poly)
            else:
                raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value; $polygon should be Polygon object")
            if len(points) < 3:
                raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value; $polygon needs at least 3 GeoPoints")
            return WithinPolygon(path, points)
        if "$centerSphere" in arg:
            cs = arg["$centerSphere"]
            if not isinstance(cs, list) or len(cs) != 2:
                raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value; $centerSphere should be an array")
            center_raw, radius = cs
            if isinstance(center_raw, list) and len(center_raw) == 2:
                center = decode_geopoint({"latitude": center_raw[1], "longitude": center_raw[0]})
            else:
                center = self._geopoint(center_raw)
            if isinstance(radius, bool) or not isinstance(radius, int | float) or not math.isfinite(radius) \
                    or radius < 0:
                raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value; $centerSphere distance is invalid")
            return WithinSphere(path, center, float(radius))
        raise ParseError(ErrorCode.INVALID_JSON, "bad $geoWithin value")

    def _text(self, path: Path, arg: object) -> Where:
        search = arg.get("$search") if isinstance(arg, Mapping) else None
        if not isinstance(search, Mapping):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $text: $search, should be object")
        term = search.get("$term")
        if not isinstance(term, str):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $text: $term, should be string")
        if len(term) > MAX_TEXT_TERM:
            raise ParseError(ErrorCode.INVALID_QUERY, f"$text $term is longer than {MAX_TEXT_TERM} characters")
        lang = search.get("$language")
        if lang is not None and not isinstance(lang, str):
            raise ParseError(ErrorCode.INVALID_JSON, "bad $text: $language, should be string")
        flags = {}
        for name in ("$caseSensitive", "$diacriticSensitive"):
            flag = search.get(name, False)
            if not isinstance(flag, bool):
                raise ParseError(ErrorCode.INVALID_JSON, f"bad $text: {name}, should be boolean")
            flags[name] = flag
        return Text(path, term, lang, flags["$caseSensitive"], flags["$diacriticSensitive"])

    def _subquery(self, arg: object, depth: int) -> tuple[str, Where]:
        if not isinstance(arg, Mapping) or not isinstance(arg.get("className"), str):
            raise ParseError(ErrorCode.INVALID_QUERY, "improper usage of subquery")
        where = arg.get("where", {})
        if not isinstance(where, Mapping):
            raise ParseError(ErrorCode.INVALID_QUERY, "improper usage of subquery")
        return arg["className"], self.top(where, depth + 1)


_RELATIVE_UNITS = {
    "yr": 365 * 86400, "yrs": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
    "wk": 7 * 86400, "wks": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "d": 86400, "day": 86400, "days": 86400,
    "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}


def relative_time(text: object, op: str = "$lt") -> datetime:
    """Parse's `$relativeTime`: "in 2 days", "3 hours ago", "now"; errors as Parse words them."""
    if not isinstance(text, str) or len(text) > 200:
        raise ParseError(ErrorCode.INVALID_JSON, f"bad $relativeTime ({op}) value")
    words = text.lower().split()
    future = bool(words) and words[0] == "in"
    past = bool(words) and words[-1] == "ago"
    if not future and not past and words != ["now"]:
        raise _bad_relative(op, "Time should either start with 'in' or end with 'ago'")
    if future and past:
        raise _bad_relative(op, "Time cannot have both 'in' and 'ago'")
    body = words[1:] if future else words[:-1]
    if len(body) % 2:
        raise _bad_relative(op, "Invalid time string. Dangling unit or number.")
    seconds = 0
    for amount, unit in zip(body[::2], body[1::2], strict=True):
        seconds += _whole_number(op, amount) * _relative_unit(op, unit)
    try:
        delta = timedelta(seconds=seconds)
        return now() + delta if future else now() - delta
    except OverflowError as exc:
        raise _bad_relative(op, "The resulting date is out of range.") from exc


def _bad_relative(op: str, info: str) -> ParseError:
    return ParseError(ErrorCode.INVALID_JSON, f"bad $relativeTime ({op}) value. {info}")


def _whole_number(op: str, amount: str) -> int:
    # Parse requires Number(amount) to be an integer: "2" and "2e3" are, "1.5" and "x" are not.
    try:
        n = float(amount)
    except ValueError:
        n = math.nan
    if not math.isfinite(n) or not n.is_integer():
        raise _bad_relative(op, f"'{amount}' is not an integer.")
    return int(n)


def _relative_unit(op: str, unit: str) -> int:
    if unit not in _RELATIVE_UNITS:
        raise _bad_relative(op, f"Invalid interval: '{unit}'")
    return _RELATIVE_UNITS[unit]


def _check_key_size(key: str) -> None:
    """Refused before any other work: a key longer, or nested deeper, than any schema has."""
    if len(key) > MAX_KEY_LENGTH:
        raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid key name: {key[:64]}... (longer than {MAX_KEY_LENGTH})")
    if key.count(".") >= MAX_PATH_SEGMENTS:
        raise ParseError(ErrorCode.INVALID_QUERY,
                         f"Invalid key {key[:64]}...: a key has at most {MAX_PATH_SEGMENTS} dotted parts")


def _value_size(value: object) -> int:
    """JSON values in ``value``, counted without recursion; deeper than MAX_VALUE_DEPTH is refused."""
    size = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        size += 1
        if depth > MAX_VALUE_DEPTH:
            raise ParseError(ErrorCode.INVALID_JSON, "query value is too deeply nested")
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return size


def _fit_numbers(value: Any) -> Any:
    """An integer past 64 bits becomes the double a JavaScript client (and every store) would compare."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if not -_INT64 <= value < _INT64 else value
    if isinstance(value, list):
        return [_fit_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _fit_numbers(v) for k, v in value.items()}
    return value
