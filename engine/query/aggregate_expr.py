"""Compile MongoDB aggregation expressions and $match filters into Python callables over plain dict documents."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ErrorCode, ParseError
from engine.query.match import sort_key
from engine.wire import Pointer, decode

Doc = Mapping[str, Any]
Expr = Callable[[Doc], Any]
Predicate = Callable[[Doc], bool]

# Deeper specs are abuse, not reports; the bound also keeps compilation far from Python's recursion limit.
MAX_DEPTH: Final = 64


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def refuse(message: str) -> ParseError:
    return ParseError(ErrorCode.INVALID_QUERY, message)


# ---- values ----

def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def null(value: Any) -> Any:
    return None if value is MISSING else value


_INT64: Final = 2**63


def fit(value: Any) -> Any:
    """Mongo widens an integer that leaves the 64-bit range to a double; JSON encoders refuse bigger ints too."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    return value


def truthy(value: Any) -> bool:
    """Mongo's expression truth: only false, null, missing and zero are false."""
    return not (value is MISSING or value is None or value is False or (is_number(value) and value == 0))


def order_key(value: Any) -> tuple[Any, ...]:
    """BSON order (null < numbers < strings < objects < arrays < booleans < dates), shared with find's sort."""
    return sort_key(null(value))


def compare(a: Any, b: Any) -> int:
    ka, kb = order_key(a), order_key(b)
    return (ka > kb) - (ka < kb)


def group_key(value: Any) -> object:
    """A hashable stand-in equal exactly when Mongo's $group would put two values in one group."""
    if value is MISSING or value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if is_number(value):
        return ("nan",) if math.isnan(value) else ("num", value)  # 1 and 1.0 hash alike, as Mongo groups them
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, datetime):
        return ("date", utc(value))
    if isinstance(value, Mapping):
        return ("obj", tuple((k, group_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("arr", tuple(group_key(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return ("other", type(value).__name__, value)


def type_name(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    for kind, name in ((bool, "bool"), (int, "int"), (float, "double"), (str, "string"), (datetime, "date"),
                       (Mapping, "object"), (list, "array")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- paths ----

# Parse on MongoDB stores these under Mongo names; a pipeline may use either spelling, so both resolve.
_ALIASES: Final = {"_id": "objectId", "objectId": "_id", "_created_at": "createdAt", "_updated_at": "updatedAt"}


def field_path(text: str, what: str = "field path", *, reference: bool = False) -> tuple[str, ...]:
    """``"a.b"`` (or the reference ``"$a.b"``) → ("a", "b"); Mongo refuses empty parts and parts starting with '$'."""
    parts = tuple((text[1:] if reference else text).split("."))
    if any(not p or p.startswith("$") for p in parts):
        raise refuse(f"invalid {what}: '{text}'")
    return parts


def top(doc: Doc, key: str) -> Any:
    if key in doc:
        return doc[key]
    alias = _ALIASES.get(key)
    return doc[alias] if alias is not None and alias in doc else MISSING


def _step(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, MISSING)
    if isinstance(value, list):
        # "$a.b" over an array of documents yields each element's b; elements without one are skipped.
        found = (_step(item, key) for item in value if isinstance(item, Mapping | list))
        return [v for v in found if v is not MISSING]
    return MISSING


def get_path(doc: Doc, parts: tuple[str, ...]) -> Any:
    value = top(doc, parts[0])
    for key in parts[1:]:
        value = _step(value, key)
    return value


def set_path(doc: Doc, parts: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``parts`` set; only the dicts along the path are copied."""
    out = dict(doc)
    if len(parts) == 1:
        out[parts[0]] = value
    else:
        child = out.get(parts[0])
        out[parts[0]] = set_path(child if isinstance(child, Mapping) else {}, parts[1:], value)
    return out


def unset_path(doc: Doc, parts: tuple[str, ...]) -> dict[str, Any]:
    out = dict(doc)
    if len(parts) == 1:
        out.pop(parts[0], None)
    elif isinstance(out.get(parts[0]), Mapping):
        out[parts[0]] = unset_path(out[parts[0]], parts[1:])
    return out


# ---- expressions ----

def compile_expr(spec: Any, depth: int = 0) -> Expr:
    """Compile once, so every malformed operator is refused before any document is read."""
    if depth > MAX_DEPTH:
        raise refuse("aggregation expression is nested too deeply")
    if isinstance(spec, str):
        if spec.startswith("$$"):
            return _variable(spec)
        if spec.startswith("$"):
            parts = field_path(spec, reference=True)
            return lambda doc: get_path(doc, parts)
        return lambda _doc: spec
    if isinstance(spec, list):
        items = [compile_expr(item, depth + 1) for item in spec]
        return lambda doc: [null(f(doc)) for f in items]
    if isinstance(spec, Mapping):
        if "__type" in spec:
            constant = parse_operand(spec)  # a Parse-encoded Date or Pointer used as a literal
            return lambda _doc: constant
        operators = [k for k in spec if isinstance(k, str) and k.startswith("$")]
        if operators:
            if len(spec) != 1:
                raise refuse(f"an expression object must hold exactly one operator, found {', '.join(map(str, spec))}")
            return _operator(operators[0], spec[operators[0]], depth + 1)
        fields = []
        for key, sub in spec.items():
            if not isinstance(key, str) or not key or "." in key:
                raise refuse(f"invalid field name in expression object: '{key}'")
            fields.append((key, compile_expr(sub, depth + 1)))
        return lambda doc: {k: v for k, f in fields if (v := f(doc)) is not MISSING}
    return lambda _doc: spec


def _variable(spec: str) -> Expr:
    name, _, rest = spec[2:].partition(".")
    if name not in ("ROOT", "CURRENT"):
        raise refuse(f"unsupported aggregation variable '$${name}'")
    if not rest:
        return lambda doc: doc
    parts = field_path(rest, "variable path")
    return lambda doc: get_path(doc, parts)


def _args(name: str, raw: Any, depth: int, low: int, high: int | None = None) -> list[Expr]:
    items = raw if isinstance(raw, list) else [raw]
    high = low if high is None else high
    if not low <= len(items) <= (high if high >= 0 else len(items)):
        bound = f"exactly {low}" if low == high else f"at least {low}"
        raise refuse(f"{name} takes {bound} argument(s), got {len(items)}")
    return [compile_expr(item, depth) for item in items]


def _numeric(name: str, values: list[Any], allow_dates: bool = False) -> bool:
    """Validate operands; False means one is null/missing, which makes the whole result null."""
    if any(v is MISSING or v is None for v in values):
        return False
    for v in values:
        if not (is_number(v) or (allow_dates and isinstance(v, datetime))):
            raise refuse(f"{name} only supports numeric{' or date' if allow_dates else ''} types, not {type_name(v)}")
    return True


def _shift(date: datetime, millis: float) -> datetime:
    try:
        return date + timedelta(milliseconds=millis)
    except (OverflowError, ValueError) as exc:
        raise refuse("date arithmetic out of range") from exc


def _add(values: list[Any]) -> Any:
    if not _numeric("$add", values, allow_dates=True):
        return None
    dates = [v for v in values if isinstance(v, datetime)]
    if len(dates) > 1:
        raise refuse("only one date allowed in an $add expression")
    total = sum(v for v in values if not isinstance(v, datetime))
    return _shift(dates[0], total) if dates else fit(total)


def _subtract(values: list[Any]) -> Any:
    a, b = values
    if not _numeric("$subtract", values, allow_dates=True):
        return None
    if isinstance(a, datetime):
        if isinstance(b, datetime):
            return (utc(a) - utc(b)) // timedelta(milliseconds=1)
        return _shift(a, -b)
    if isinstance(b, datetime):
        raise refuse("can't $subtract a date from a number")
    return fit(a - b)


def _multiply(values: list[Any]) -> Any:
    return fit(math.prod(values)) if _numeric("$multiply", values) else None


def _divide(values: list[Any]) -> Any:
    if not _numeric("$divide", values):
        return None
    if values[1] == 0:
        raise refuse("can't $divide by zero")
    try:
        return values[0] / values[1]
    except OverflowError as exc:
        raise refuse("$divide result out of range") from exc


def _concat(values: list[Any]) -> Any:
    if any(v is MISSING or v is None for v in values):
        return None
    for v in values:
        if not isinstance(v, str):
            raise refuse(f"$concat only supports strings, not {type_name(v)}")
    return "".join(values)


def _to_string(name: str, value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if is_number(value):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    if isinstance(value, datetime):
        return _format_date(utc(value), "%Y-%m-%dT%H:%M:%S.%LZ")
    raise refuse(f"{name} can't convert {type_name(value)} to a string")


def _cond(raw: Any, depth: int) -> Expr:
    if isinstance(raw, Mapping):
        if set(raw) != {"if", "then", "else"}:
            raise refuse("$cond needs exactly 'if', 'then' and 'else'")
        raw = [raw["if"], raw["then"], raw["else"]]
    test, yes, no = _args("$cond", raw, depth, 3)
    return lambda doc: yes(doc) if truthy(test(doc)) else no(doc)


def _if_null(raw: Any, depth: int) -> Expr:
    items = _args("$ifNull", raw, depth, 2, -1)

    def run(doc: Doc) -> Any:
        for f in items[:-1]:
            value = f(doc)
            if value is not MISSING and value is not None:
                return value
        return items[-1](doc)
    return run


def _compared(v: list[Any], op: Callable[[int, int], bool]) -> bool:
    return op(compare(v[0], v[1]), 0)


_COMPARISONS: Final = {"$eq": operator.eq, "$ne": operator.ne, "$gt": operator.gt, "$gte": operator.ge,
                       "$lt": operator.lt, "$lte": operator.le}

# Operators over the evaluated argument list: name → (min args, max args or -1 for any, function).
_LIST_OPERATORS: Final[dict[str, tuple[int, int, Callable[[list[Any]], Any]]]] = {
    "$add": (0, -1, _add),
    "$subtract": (2, 2, _subtract),
    "$multiply": (0, -1, _multiply),
    "$divide": (2, 2, _divide),
    "$concat": (0, -1, _concat),
    "$toLower": (1, 1, lambda v: _to_string("$toLower", v[0]).lower()),
    "$toUpper": (1, 1, lambda v: _to_string("$toUpper", v[0]).upper()),
    "$toString": (1, 1, lambda v: None if v[0] is MISSING or v[0] is None else _to_string("$toString", v[0])),
    "$not": (1, 1, lambda v: not truthy(v[0])),
    **{name: (2, 2, functools.partial(_compared, op=op)) for name, op in _COMPARISONS.items()},
}


def _operator(name: str, raw: Any, depth: int) -> Expr:
    if name == "$literal":
        return lambda _doc: raw
    if name == "$cond":
        return _cond(raw, depth)
    if name == "$ifNull":
        return _if_null(raw, depth)
    if name in ("$and", "$or"):
        # Lazy, as in Mongo: a later operand that would fail is never evaluated once the answer is known.
        items = _args(name, raw, depth, 0, -1)
        if name == "$and":
            return lambda doc: all(truthy(f(doc)) for f in items)
        return lambda doc: any(truthy(f(doc)) for f in items)
    if name in _DATE_PARTS:
        return _date_part(name, raw, depth)
    if name == "$dateToString":
        return _date_to_string(raw, depth)
    if name in _LIST_OPERATORS:
        low, high, fn = _LIST_OPERATORS[name]
        items = _args(name, raw, depth, low, high)
        return lambda doc: fn([f(doc) for f in items])
    raise refuse(f"Unsupported aggregation expression operator '{name}'")


# ---- dates ----

_DATE_PARTS: Final[dict[str, Callable[[datetime], int]]] = {
    "$year": lambda d: d.year,
    "$month": lambda d: d.month,
    "$dayOfMonth": lambda d: d.day,
    "$hour": lambda d: d.hour,
    "$minute": lambda d: d.minute,
    "$second": lambda d: d.second,
    "$millisecond": lambda d: d.microsecond // 1000,
    "$dayOfYear": lambda d: d.timetuple().tm_yday,
    "$dayOfWeek": lambda d: d.isoweekday() % 7 + 1,  # Mongo: 1 = Sunday … 7 = Saturday
    "$week": lambda d: int(d.strftime("%U")),
}

_OFFSET_RE: Final = re.compile(r"^([+-])(\d{2}):?(\d{2})?$")


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    m = _OFFSET_RE.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise refuse(f"unrecognized time zone identifier: '{name}'") from exc


def _date_operand(name: str, raw: Any, depth: int) -> tuple[Expr, Expr | None]:
    if isinstance(raw, Mapping) and "date" in raw and not any(str(k).startswith("$") for k in raw):
        unknown = set(raw) - {"date", "timezone"}
        if unknown:
            raise refuse(f"unrecognized option to {name}: {', '.join(sorted(map(str, unknown)))}")
        tz = compile_expr(raw["timezone"], depth) if "timezone" in raw else None
        return compile_expr(raw["date"], depth), tz
    return _args(name, raw, depth, 1)[0], None


def _localize(name: str, value: Any, zone: Any) -> datetime | None:
    """The date in the requested zone; None when the date (or a given zone) is null, as in Mongo."""
    if value is MISSING or value is None or zone is None:
        return None
    if not isinstance(value, datetime):
        raise refuse(f"{name} requires a date, found {type_name(value)}")
    if zone is MISSING:
        return utc(value)
    if not isinstance(zone, str):
        raise refuse(f"{name} timezone must be a string, found {type_name(zone)}")
    return utc(value).astimezone(_zone(zone))


def _date_part(name: str, raw: Any, depth: int) -> Expr:
    date, tz = _date_operand(name, raw, depth)
    part = _DATE_PARTS[name]

    def run(doc: Doc) -> Any:
        local = _localize(name, date(doc), tz(doc) if tz else MISSING)
        return None if local is None else part(local)
    return run


def _format_offset(d: datetime, minutes_only: bool) -> str:
    offset = d.utcoffset() or timedelta(0)
    total = int(offset.total_seconds() // 60)
    if minutes_only:
        return str(total)
    sign = "-" if total < 0 else "+"
    return f"{sign}{abs(total) // 60:02d}{abs(total) % 60:02d}"


_FORMATS: Final[dict[str, Callable[[datetime], str]]] = {
    "Y": lambda d: f"{d.year:04d}",
    "m": lambda d: f"{d.month:02d}",
    "d": lambda d: f"{d.day:02d}",
    "H": lambda d: f"{d.hour:02d}",
    "M": lambda d: f"{d.minute:02d}",
    "S": lambda d: f"{d.second:02d}",
    "L": lambda d: f"{d.microsecond // 1000:03d}",
    "j": lambda d: f"{d.timetuple().tm_yday:03d}",
    "w": lambda d: str(d.isoweekday() % 7 + 1),
    "u": lambda d: str(d.isoweekday()),
    "U": lambda d: d.strftime("%U"),
    "G": lambda d: f"{d.isocalendar()[0]:04d}",
    "V": lambda d: f"{d.isocalendar()[1]:02d}",
    "z": lambda d: _format_offset(d, False),
    "Z": lambda d: _format_offset(d, True),
    "%": lambda d: "%",
}
_SPEC_RE: Final = re.compile(r"%(.?)", re.DOTALL)


def _format_date(d: datetime, fmt: str) -> str:
    return _SPEC_RE.sub(lambda m: _FORMATS[m.group(1)](d), fmt)


def _date_to_string(raw: Any, depth: int) -> Expr:
    if not isinstance(raw, Mapping) or "date" not in raw:
        raise refuse("$dateToString needs an object with a 'date'")
    unknown = set(raw) - {"date", "format", "timezone", "onNull"}
    if unknown:
        raise refuse(f"unrecognized option to $dateToString: {', '.join(sorted(map(str, unknown)))}")
    fmt = raw.get("format", "%Y-%m-%dT%H:%M:%S.%LZ")
    if not isinstance(fmt, str):
        raise refuse("$dateToString format must be a string")
    for spec in _SPEC_RE.findall(fmt):
        if spec not in _FORMATS:
            raise refuse(f"invalid format character '%{spec}' in $dateToString format string")
    date = compile_expr(raw["date"], depth)
    tz = compile_expr(raw["timezone"], depth) if "timezone" in raw else None
    on_null = compile_expr(raw["onNull"], depth) if "onNull" in raw else None

    def run(doc: Doc) -> Any:
        value = date(doc)
        if (value is MISSING or value is None) and on_null is not None:
            return on_null(doc)
        local = _localize("$dateToString", value, tz(doc) if tz else MISSING)
        return None if local is None else _format_date(local, fmt)
    return run


# ---- Parse-encoded literals ----


def _flatten_pointers(value: Any) -> Any:
    if isinstance(value, Pointer):
        return f"{value.class_name}${value.object_id}"  # the form pointer fields take in aggregation documents
    if isinstance(value, Mapping):
        return {k: _flatten_pointers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_flatten_pointers(v) for v in value]
    return value


def parse_operand(raw: Any) -> Any:
    """Decode Parse-encoded values (Dates, Pointers) in a filter or literal; bad encodings are query errors."""
    try:
        return _flatten_pointers(decode(raw))
    except ParseError as exc:
        raise refuse(f"invalid value in aggregation pipeline: {exc.message}") from exc
