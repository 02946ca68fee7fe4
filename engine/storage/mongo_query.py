"""Where trees, sort orders and Changes → MongoDB filter, sort and update documents in Parse's layout."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.query.options import SortKey
from engine.query.where import (
    SUBQUERY_NODES,
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    MatchAll,
    MatchNone,
    Near,
    Nor,
    Or,
    Path,
    Regex,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
)
from engine.schema.model import ClassDef, FieldType
from engine.storage.base import AddItems, Changes, Increment, RemoveItems, SetValue, Unset
from engine.storage.mongo_codec import (
    LEGACY_ACL,
    POINTER_PREFIX,
    RPERM,
    UPDATED,
    WPERM,
    encode_acl,
    encode_column,
    encode_nested,
    field_key,
    id_value,
    path_key,
    to_bson_date,
)
from engine.wire import GeoPoint, Pointer, Value

MATCH_NOTHING: dict[str, Any] = {"_id": {"$in": []}}

Encoder = Callable[[Value], Any]


def _lnglat(point: GeoPoint) -> list[float]:
    return [point.longitude, point.latitude]


def _column(cls: ClassDef, path: Path, values: Iterable[Value]) -> tuple[str, Encoder]:
    """The document key a path addresses and how values compared against it are stored."""
    head = path[0]
    if len(path) > 1:
        return path_key(cls, path), encode_nested
    if head == "objectId":
        return "_id", lambda v: id_value(cls, v) if isinstance(v, str) else v
    fdef = cls.fields.get(head)
    sample = next((v for v in values if isinstance(v, Pointer)), None)
    key = field_key(cls, head, sample)
    if fdef is None or fdef.type is FieldType.ARRAY:
        # Array elements (and unknown columns) hold nested values: pointers as Parse JSON dicts.
        if key.startswith(POINTER_PREFIX) and fdef is None:
            return key, lambda v: encode_column(None, v)
        return key, encode_nested
    return key, lambda v: encode_column(fdef, v)


def _operators(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One document where keys allow (``{"a": {"$gt": 1, "$lt": 5}}``, the shape Parse sends), else ``$and``.
    Operators on one key combine as $and does, even over arrays, so merging never changes the meaning."""
    parts = [p for p in parts if p]
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key not in out:
                out[key] = value
            elif not key.startswith("$") and _operators(out[key]) and _operators(value) and not (
                out[key].keys() & value.keys()
            ):
                out[key] = {**out[key], **value}
            else:
                return {"$and": parts}
    return out


def _regex_clause(node: Regex) -> dict[str, Any]:
    # python_pattern() only rewrites \Q...\E into escapes, which PCRE reads the same way.
    clause: dict[str, Any] = {"$regex": node.python_pattern()}
    if node.options:
        clause["$options"] = node.options
    return clause


def translate_where(cls: ClassDef, where: Where, *, counting: bool = False) -> dict[str, Any]:
    """A Mongo filter for ``where``; ``counting`` swaps $nearSphere (refused by countDocuments) for $geoWithin."""
    return _Translator(cls, counting).node(where)


class _Translator:
    def __init__(self, cls: ClassDef, counting: bool) -> None:
        self.cls = cls
        self.counting = counting

    def node(self, where: Where) -> dict[str, Any]:
        match where:
            case MatchAll():
                return {}
            case MatchNone():
                return dict(MATCH_NOTHING)
            case And(items):
                return _merge([self.node(w) for w in items])
            case Or(items):
                return {"$or": [self.node(w) for w in items]}
            case Nor(items):
                return {"$nor": [self.node(w) for w in items]}
            case Text():
                return {"$text": self._text(where)}
        if isinstance(where, SUBQUERY_NODES):
            raise ParseError(ErrorCode.INVALID_QUERY, "subqueries must be resolved before reaching storage")
        return self._field(where)

    def _field(self, where: Where) -> dict[str, Any]:
        match where:
            case Compare(path, op, value):
                key, enc = _column(self.cls, path, [value])
                stored = enc(value)
                if op == "eq" and not isinstance(stored, dict):
                    return {key: stored}
                return {key: {f"${op}": stored}}
            case In(path, values, negate):
                key, enc = _column(self.cls, path, values)
                return {key: {"$nin" if negate else "$in": [enc(v) for v in values]}}
            case Exists(path, exists):
                return {_column(self.cls, path, ())[0]: {"$exists": exists}}
            case All(path, values):
                return self._all(path, values)
            case ContainedBy(path, values):
                key, enc = _column(self.cls, path, values)
                return {key: {"$not": {"$elemMatch": {"$nin": [enc(v) for v in values]}}}}
            case Regex(path):
                return {_column(self.cls, path, ())[0]: _regex_clause(where)}
            case Near(path, point, max_distance):
                key = _column(self.cls, path, ())[0]
                if self.counting:
                    radius = math.pi if max_distance is None else max_distance
                    return {key: {"$geoWithin": {"$centerSphere": [_lnglat(point), radius]}}}
                # Legacy pairs with radians: what Parse sends, served by its 2d index or a 2dsphere one.
                near: dict[str, Any] = {"$nearSphere": _lnglat(point)}
                if max_distance is not None:
                    near["$maxDistance"] = max_distance
                return {key: near}
            case WithinBox(path, southwest, northeast):
                box = [_lnglat(southwest), _lnglat(northeast)]
                return {_column(self.cls, path, ())[0]: {"$geoWithin": {"$box": box}}}
            case WithinPolygon(path, points):
                polygon = [_lnglat(p) for p in points]
                return {_column(self.cls, path, ())[0]: {"$geoWithin": {"$polygon": polygon}}}
            case WithinSphere(path, center, radius):
                sphere = [_lnglat(center), radius]
                return {_column(self.cls, path, ())[0]: {"$geoWithin": {"$centerSphere": sphere}}}
            case GeoIntersects(path, point):
                geometry = {"type": "Point", "coordinates": _lnglat(point)}
                return {_column(self.cls, path, ())[0]: {"$geoIntersects": {"$geometry": geometry}}}
        raise ParseError(ErrorCode.INVALID_QUERY, f"unsupported query node: {type(where).__name__}")

    def _all(self, path: Path, values: tuple[Any, ...]) -> dict[str, Any]:
        if not values:
            return dict(MATCH_NOTHING)  # MongoDB's {$all: []} matches nothing
        plain = [v for v in values if not isinstance(v, Regex)]
        key, enc = _column(self.cls, path, plain)
        parts: list[dict[str, Any]] = []
        if plain:
            parts.append({key: {"$all": [enc(v) for v in plain]}})
        # "Some element matches" is what a regex inside $all means; a plain $regex on an array field says the
        # same and, unlike {$all: [re.compile(...)]}, mongomock executes it too.
        parts.extend({key: _regex_clause(v)} for v in values if isinstance(v, Regex))
        return parts[0] if len(parts) == 1 else {"$and": parts}

    @staticmethod
    def _text(node: Text) -> dict[str, Any]:
        search: dict[str, Any] = {"$search": node.term}
        if node.language is not None:
            search["$language"] = node.language
        search["$caseSensitive"] = node.case_sensitive
        search["$diacriticSensitive"] = node.diacritic_sensitive
        return search


def walk(where: Where) -> Iterator[Where]:
    yield where
    if isinstance(where, And | Or | Nor):
        for item in where.items:
            yield from walk(item)


def sort_spec(cls: ClassDef, order: tuple[SortKey, ...]) -> list[tuple[str, Any]]:
    spec: list[tuple[str, Any]] = []
    for key in order:
        if key.path == ("$score",):
            spec.append(("score", {"$meta": "textScore"}))
        else:
            spec.append((path_key(cls, key.path), -1 if key.descending else 1))
    return spec


def update_document(cls: ClassDef, changes: Changes) -> dict[str, dict[str, Any]]:
    """One atomic update: $set/$unset/$inc/$push/$addToSet/$pullAll plus ACL, internals and _updated_at."""
    ops: dict[str, dict[str, Any]] = {}

    def put(operator: str, key: str, value: Any) -> None:
        ops.setdefault(operator, {})[key] = value

    for path, op in changes.ops:
        top = len(path) == 1
        fdef = cls.fields.get(path[0]) if top else None
        if fdef is not None and fdef.type is FieldType.RELATION:
            continue
        if top:
            key = field_key(cls, path[0], op.value if isinstance(op, SetValue) else None)
        else:
            key = path_key(cls, path)
        match op:
            case SetValue(value):
                put("$set", key, encode_column(fdef, value) if top else encode_nested(value))
            case Unset():
                put("$unset", key, "")
                if top and fdef is None and not key.startswith("_"):
                    put("$unset", POINTER_PREFIX + key, "")  # an unknown column may hold a pointer
            case Increment(amount):
                put("$inc", key, amount)
            case AddItems(items, unique):
                put("$addToSet" if unique else "$push", key, {"$each": [encode_nested(v) for v in items]})
            case RemoveItems(items):
                put("$pullAll", key, [encode_nested(v) for v in items])
    if changes.clear_acl:
        for key in (RPERM, WPERM, LEGACY_ACL):
            put("$unset", key, "")
    elif changes.acl is not None:
        for key, value in encode_acl(changes.acl).items():
            put("$set", key, value)
    for key, value in changes.internal.items():
        if value is None:
            put("$unset", key, "")
        else:
            put("$set", key, encode_nested(value))
    put("$set", UPDATED, to_bson_date(changes.updated_at))
    return ops
