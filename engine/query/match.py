"""Evaluate a Where tree on one StoredObject in memory, with the semantics Parse on MongoDB exposes."""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import regex

from engine.errors import ErrorCode, ParseError
from engine.query import geo
from engine.query.deadline import check_deadline, current_deadline, query_timeout
from engine.query.geo import distance_radians
from engine.query.options import SortKey
from engine.query.where import (
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    InQuery,
    MatchAll,
    MatchNone,
    Near,
    Nor,
    Or,
    Path,
    Regex,
    RelatedTo,
    Select,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
    translate_regex,
)
from engine.wire import Bytes, File, GeoPoint, Pointer, Polygon, RelationRef, Value, encode

if TYPE_CHECKING:  # the storage layer sits above query; only the type is needed here
    from engine.storage.base import StoredObject

__all__ = [
    "MISSING", "distance_radians", "matches", "near_node", "regex_matches", "resolve_path", "search_terms", "sort_key",
    "sort_objects", "text_matches", "values_equal",
]

# Per evaluation when no query deadline is set (LiveQuery): a pathological pattern must cost one slow match, never a
# stuck worker. Under a query deadline (deadline.py) every evaluation of the query shares that one budget instead.
REGEX_TIMEOUT = 0.1


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


# ---- paths ----

def _walk(value: Value, rest: Path) -> list[Value]:
    if not rest:
        return [value]
    key = rest[0]
    if isinstance(value, Mapping):
        return _walk(value[key], rest[1:]) if key in value else [MISSING]
    if isinstance(value, list):
        # Mongo reads "a.b" on an array of documents as each element's "b"; a numeric part also indexes.
        out: list[Value] = []
        if key.isdigit() and int(key) < len(value):
            out.extend(_walk(value[int(key)], rest[1:]))
        for item in value:
            if isinstance(item, Mapping):
                out.extend(_walk(item, rest))
        return out
    return [MISSING]


def _candidates(obj: StoredObject, path: Path) -> list[Value]:
    """Every value the path reaches (several through arrays); MISSING marks a branch where it is absent."""
    head, rest = path[0], path[1:]
    if head == "objectId":
        root: Value = obj.object_id
    elif head == "createdAt":
        root = obj.created_at
    elif head == "updatedAt":
        root = obj.updated_at
    elif head in ("_rperm", "_wperm"):
        if obj.acl is None:
            return [MISSING]
        root = sorted(obj.acl.read if head == "_rperm" else obj.acl.write)
    elif head in obj.fields:
        root = obj.fields[head]
    elif head.startswith("_") and head in obj.internal:
        # Master-key queries address server-owned columns such as _email_verify_token.
        root = obj.internal[head]
    else:
        return [MISSING]
    return _walk(root, rest)


def resolve_path(obj: StoredObject, path: Path) -> tuple[bool, Value]:
    """(found, value); values gathered through an array of documents come back as a list."""
    cands = _candidates(obj, path)
    found = [c for c in cands if c is not MISSING]
    if not found:
        return False, None
    if len(cands) == 1:
        return True, found[0]
    return True, found


# ---- equality and ordering ----

def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def values_equal(a: Value, b: Value) -> bool:
    """Mongo-style deep equality: 1 == 1.0 but True != 1, pointers by class and id, files by name."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _utc(a) == _utc(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, File) and isinstance(b, File):
        return a.name == b.name
    return type(a) is type(b) and a == b


def _eq_one(cand: Value, value: Value) -> bool:
    if cand is MISSING:
        return value is None
    if values_equal(cand, value):
        return True
    return isinstance(cand, list) and any(values_equal(item, value) for item in cand)


def _eq(cands: list[Value], value: Value) -> bool:
    return any(_eq_one(c, value) for c in cands)


def _orderable(value: Value) -> tuple[int, object] | None:
    """Values only compare within one type bracket, as in Mongo's $lt/$gt."""
    if isinstance(value, bool):
        return 6, value
    if _is_number(value):
        return (1, value) if not math.isnan(value) else None
    if isinstance(value, str):
        return 2, value
    if isinstance(value, datetime):
        return 7, _utc(value)
    if isinstance(value, Pointer):
        return 8, (value.class_name, value.object_id)
    return None


_ORDER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
}


def _ordered_one(cand: Value, op: str, value: Value) -> bool:
    a, b = _orderable(cand), _orderable(value)
    if a is None or b is None or a[0] != b[0]:
        return False
    try:
        return bool(_ORDER_OPS[op](a[1], b[1]))
    except TypeError:
        return False


def _compare(cands: list[Value], op: str, value: Value) -> bool:
    if op == "eq":
        return _eq(cands, value)
    if op == "ne":
        return not _eq(cands, value)
    if value is None:
        # Mongo: {$lte: null} and {$gte: null} behave like {$eq: null}; $lt/$gt null match nothing.
        return op in ("lte", "gte") and _eq(cands, None)
    for cand in cands:
        if cand is MISSING:
            continue
        items = cand if isinstance(cand, list) else [cand]
        if any(_ordered_one(item, op, value) for item in items):
            return True
    return False


# ---- regex and text ----

_REGEX_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "x": regex.VERBOSE, "s": regex.DOTALL, "u": regex.UNICODE}


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str, options: str) -> regex.Pattern[str] | None:
    flags = 0
    for ch in options:
        flags |= _REGEX_FLAGS.get(ch, 0)
    try:
        return regex.compile(translate_regex(pattern), flags)
    except (regex.error, ValueError, OverflowError, RecursionError):
        # The parser validated with `re`; a pattern `regex` still refuses simply matches nothing.
        return None


def _search(compiled: regex.Pattern[str], text: str) -> bool:
    deadline = current_deadline()
    if deadline is None:
        try:
            return compiled.search(text, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            return False
    left = deadline.remaining()
    if left <= 0:
        deadline.expired = True
        raise query_timeout()
    try:
        return compiled.search(text, timeout=left) is not None
    except TimeoutError:
        # A timed-out search is not "no match": the whole query fails rather than answer a silently short result.
        deadline.expired = True
        raise query_timeout() from None


def _strings(cands: list[Value]) -> Iterator[str]:
    for cand in cands:
        if isinstance(cand, str):
            yield cand
        elif isinstance(cand, list):
            yield from (item for item in cand if isinstance(item, str))


def regex_matches(cands: list[Value], node: Regex) -> bool:
    compiled = _compiled(node.pattern, node.options)
    return compiled is not None and any(_search(compiled, s) for s in _strings(cands))


_WORD_RE = re.compile(r"\w+")
_PHRASE_RE = re.compile(r'"([^"]*)"')


def _fold(text: str, case_sensitive: bool, diacritic_sensitive: bool) -> str:
    if not diacritic_sensitive:
        text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
        text = unicodedata.normalize("NFC", text)
    return text if case_sensitive else text.casefold()


@functools.lru_cache(maxsize=256)
def search_terms(term: str, case_sensitive: bool, diacritic_sensitive: bool) -> tuple[
    tuple[str, ...], tuple[str, ...], tuple[str, ...]
]:
    """(positive words, required phrases, negated words), already folded."""
    term = _fold(term, case_sensitive, diacritic_sensitive)
    phrases = tuple(p.strip() for p in _PHRASE_RE.findall(term) if p.strip())
    positives: list[str] = []
    negations: list[str] = []
    for token in _PHRASE_RE.sub(" ", term).split():
        (negations if token.startswith("-") else positives).extend(_WORD_RE.findall(token))
    return tuple(positives), phrases, tuple(negations)


def text_matches(cands: list[Value], node: Text) -> bool:
    positives, phrases, negations = search_terms(node.term, node.case_sensitive, node.diacritic_sensitive)
    if not positives and not phrases:
        return False
    for text in _strings(cands):
        check_deadline()
        folded = _fold(text, node.case_sensitive, node.diacritic_sensitive)
        words = set(_WORD_RE.findall(folded))
        if any(n in words for n in negations):
            continue
        # Mongo: once the search holds a phrase, only the phrases decide; loose words just add score.
        if phrases:
            if all(p in folded for p in phrases):
                return True
        elif any(p in words for p in positives):
            return True
    return False


# ---- geo ----

def _items(cands: list[Value]) -> Iterator[Value]:
    """Candidate values with arrays flattened one level: geo operators accept an array of points."""
    for cand in cands:
        if isinstance(cand, list):
            yield from cand
        elif cand is not MISSING:
            yield cand


# ---- arrays ----

def _all(cands: list[Value], node: All) -> bool:
    if not node.values:
        return False  # Mongo's {$all: []} matches nothing
    for item in node.values:
        ok = regex_matches(cands, item) if isinstance(item, Regex) else _eq(cands, item)
        if not ok:
            return False
    return True


def _contained_by(cands: list[Value], values: tuple[Value, ...]) -> bool:
    for cand in cands:
        if cand is MISSING:
            continue
        items = cand if isinstance(cand, list) else [cand]
        for item in items:
            if not any(values_equal(item, v) for v in values):
                return False
    return True


# ---- the tree ----

def matches(where: Where, obj: StoredObject) -> bool:
    """Whether ``obj`` satisfies ``where``. Subquery nodes must have been resolved by the caller."""
    match where:
        case MatchAll():
            return True
        case MatchNone():
            return False
        case And(items):
            return all(matches(w, obj) for w in items)
        case Or(items):
            return any(matches(w, obj) for w in items)
        case Nor(items):
            return not any(matches(w, obj) for w in items)
        case Compare(path, op, value):
            return _compare(_candidates(obj, path), op, value)
        case In(path, values, negate):
            cands = _candidates(obj, path)
            return any(_eq(cands, v) for v in values) != negate
        case Exists(path, exists):
            return any(c is not MISSING for c in _candidates(obj, path)) == exists
        case All(path):
            return _all(_candidates(obj, path), where)
        case ContainedBy(path, values):
            return _contained_by(_candidates(obj, path), values)
        case Regex(path):
            return regex_matches(_candidates(obj, path), where)
        case Text(path):
            return text_matches(_candidates(obj, path), where)
        case Near(path, point, max_distance):
            return geo.near(_items(_candidates(obj, path)), point, max_distance)
        case WithinBox(path, southwest, northeast):
            return geo.within_box(_items(_candidates(obj, path)), southwest, northeast)
        case WithinPolygon(path, points):
            return geo.within_polygon(_items(_candidates(obj, path)), points)
        case WithinSphere(path, center, radius):
            return geo.within_sphere(_items(_candidates(obj, path)), center, radius)
        case GeoIntersects(path, point):
            return geo.intersects(_items(_candidates(obj, path)), point)
        case RelatedTo() | InQuery() | Select():
            raise ParseError(ErrorCode.INVALID_QUERY, "subqueries must be resolved before matching")
    raise ParseError(ErrorCode.INVALID_QUERY, f"unsupported query node: {type(where).__name__}")


def near_node(where: Where) -> Near | None:
    """The first $nearSphere in the tree: its point orders results when the query gives no order."""
    if isinstance(where, Near):
        return where
    if isinstance(where, And | Or | Nor):
        for item in where.items:
            found = near_node(item)
            if found is not None:
                return found
    return None


# ---- sorting ----

def _sort_value(obj: StoredObject, path: Path) -> tuple[Any, ...]:
    return sort_key(resolve_path(obj, path)[1])


def sort_key(value: Value) -> tuple[Any, ...]:
    """A total order over values following Mongo's type brackets:
    null < numbers < strings < objects < arrays < bytes < booleans < dates."""
    if value is None or value is MISSING:
        return (0,)
    if isinstance(value, bool):
        return (6, int(value))
    if _is_number(value):
        # NaN sorts below every number, as in Mongo, and keeps the order total.
        return (1, 0, 0) if math.isnan(value) else (1, 1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, File):
        return (2, value.name)  # Parse stores a file as its name
    if isinstance(value, Pointer | GeoPoint | Polygon | RelationRef):
        return sort_key(encode(value))
    if isinstance(value, Mapping):
        return (3, tuple((str(k), sort_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (4, tuple(sort_key(v) for v in value))
    if isinstance(value, Bytes):
        return (5, value.data)
    if isinstance(value, datetime):
        return (7, _utc(value).timestamp())
    return (9, type(value).__name__, repr(value))


def sort_objects(objs: list[StoredObject], order: tuple[SortKey, ...]) -> list[StoredObject]:
    """Stable multi-key sort; each key sorts by its own direction."""
    out = list(objs)
    # Sorting by the least significant key first lets each stable pass preserve the earlier ones.
    for key in reversed(order):
        out.sort(key=functools.partial(_sort_value, path=key.path), reverse=key.descending)
    return out
