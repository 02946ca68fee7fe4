"""Compiling a where costs linear work in its size, for every operator, on SQLite and MongoDB alike.

Each case builds a where of size n, 2n and 4n (dotted path segments, list items, branches, nesting) and measures
the work instead of the time: the SQL text and parameters of the SQLite compiler, and the size of the MongoDB
filter document. Linear growth doubles its step from n→2n to 2n→4n; quadratic growth quadruples it, and the old
3^depth path unrolling multiplied it by thousands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.where import (
    MAX_PATH_SEGMENTS,
    SUBQUERY_NODES,
    Compare,
    In,
    InQuery,
    Select,
    Where,
    parse_where,
)
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.mongo_query import translate_where
from engine.storage.sql_compile import Compiler

CLS = new_class("Cost", {"obj": FieldDef(FieldType.OBJECT), "when": FieldDef(FieldType.DATE)})
Build = Callable[[str, int], dict[str, Any]]


def gp(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def ptr(i: int) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": f"u{i}"}


def nested(n: int) -> Any:
    value: Any = 1
    for i in range(n):
        value = {"k": value, "i": i} if i % 2 else [value, i]
    return value


# Every operator of the where grammar, as (key, n) -> where; n scales the operator's own argument where it has one.
OPERATORS: dict[str, Build] = {
    "equal": lambda k, n: {k: nested(n)},
    "$eq": lambda k, n: {k: {"$eq": [f"s{i}" for i in range(n)]}},
    "$ne": lambda k, n: {k: {"$ne": {f"f{i}": i for i in range(n)}}},
    "$lt": lambda k, n: {k: {"$lt": n}},
    "$lte": lambda k, n: {k: {"$lte": "x" * n}},
    "$gt": lambda k, n: {k: {"$gt": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}},
    "$gte": lambda k, n: {k: {"$gte": ptr(n)}},
    "$relativeTime": lambda k, n: {k: {"$gt": {"$relativeTime": f"{n} days ago"}}},
    "$in": lambda k, n: {k: {"$in": [*range(n), *(f"s{i}" for i in range(n)), *(ptr(i) for i in range(n)),
                                     *({"o": i} for i in range(n))]}},
    "$nin": lambda k, n: {k: {"$nin": [*range(n), *(ptr(i) for i in range(n)), None, True]}},
    "$all": lambda k, n: {k: {"$all": [*(f"s{i}" for i in range(n)), {"$regex": "^a"}]}},
    "$containedBy": lambda k, n: {k: {"$containedBy": [*range(n), *(f"s{i}" for i in range(n))]}},
    "$exists": lambda k, n: {k: {"$exists": n % 2 == 0}},
    "$regex": lambda k, n: {k: {"$regex": "a" * n, "$options": "i"}},
    "$text": lambda k, n: {k: {"$text": {"$search": {"$term": " ".join(["word"] * n)}}}},
    "$nearSphere": lambda k, n: {k: {"$nearSphere": gp(1, 2), "$maxDistanceInKilometers": n}},
    "$within": lambda k, n: {k: {"$within": {"$box": [gp(0, 0), gp(1, 1)]}}},
    "$geoWithin $polygon": lambda k, n: {k: {"$geoWithin": {"$polygon": [gp(i % 80, i % 170) for i in range(n + 3)]}}},
    "$geoWithin $centerSphere": lambda k, n: {k: {"$geoWithin": {"$centerSphere": [[1, 2], 0.1]}}},
    "$geoIntersects": lambda k, n: {k: {"$geoIntersects": {"$point": gp(1, 2)}}},
    "$or": lambda k, n: {"$or": [{k: i} for i in range(n)]},
    "$and": lambda k, n: {"$and": [{k: {"$ne": i}} for i in range(n)]},
    "$nor": lambda k, n: {"$nor": [{k: f"s{i}"} for i in range(n)]},
    "$inQuery": lambda k, n: {k: {"$inQuery": {"className": "Other", "where": {"$or": [{"a": i} for i in range(n)]}}}},
    "$notInQuery": lambda k, n: {k: {"$notInQuery": {"className": "Other", "where": {"a": {"$in": list(range(n))}}}}},
    "$select": lambda k, n: {k: {"$select": {"key": "b", "query": {"className": "O", "where": {"a": nested(n)}}}}},
    "$dontSelect": lambda k, n: {k: {"$dontSelect": {"key": "b", "query": {"className": "O", "where": {"a": n}}}}},
    "$relatedTo": lambda k, n: {"$relatedTo": {"object": ptr(n), "key": "likes"}, k: {"$exists": True}},
}
SUBQUERY_OPERATORS = {"$inQuery", "$notInQuery", "$select", "$dontSelect", "$relatedTo"}


def _resolve(where: Where) -> Where:
    """What the read pipeline hands the store for a subquery: its inner where (that is compiled too)."""
    if isinstance(where, InQuery | Select):
        return where.where
    if isinstance(where, SUBQUERY_NODES):
        return In(("objectId",), ("o1", "o2"))
    items = getattr(where, "items", None)
    if items is not None:
        return type(where)(tuple(_resolve(w) for w in items))  # type: ignore[call-arg]
    return where


def sqlite_cost(data: dict[str, Any]) -> int:
    where = _resolve(parse_where(data, master=True))
    compiler = Compiler(CLS)
    sql = compiler.where(where)
    return len(sql) + sum(len(str(v)) for v in compiler.params.values()) + 16 * len(compiler.params)


def mongo_cost(data: dict[str, Any]) -> int:
    where = _resolve(parse_where(data, master=True))
    return len(orjson.dumps(translate_where(CLS, where), default=str))


def grows_linearly(cost: Callable[[int], int], n: int) -> None:
    """The step from 2n to 4n is at most about twice the step from n to 2n. Slack covers aliases and parameter
    names growing a digit."""
    small, double, quadruple = cost(n), cost(2 * n), cost(4 * n)
    assert quadruple - double <= 2.3 * (double - small) + 64, (small, double, quadruple)


def segments(n: int, head: str = "u") -> str:
    return ".".join([head, *(["k"] * (n - 1))])


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("cost", [sqlite_cost, mongo_cost], ids=["sqlite", "mongo"])
def test_cost_is_linear_in_path_depth(op: str, cost: Callable[[dict[str, Any]], int]) -> None:
    build = OPERATORS[op]
    for head in ("u", "obj"):  # an undeclared field, and a declared Object (its own fast path)
        grows_linearly(lambda n, head=head: cost(build(segments(n, head), 3)), 8)


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("cost", [sqlite_cost, mongo_cost], ids=["sqlite", "mongo"])
def test_cost_is_linear_in_the_operator_argument(op: str, cost: Callable[[dict[str, Any]], int]) -> None:
    build = OPERATORS[op]
    n = 8 if op in ("equal", "$select") else 40  # nested values stop at 64 levels
    for key in ("u", "u.k.k", "obj.k"):
        grows_linearly(lambda size, key=key: cost(build(key, size)), n)


@pytest.mark.parametrize("cost", [sqlite_cost, mongo_cost], ids=["sqlite", "mongo"])
def test_cost_is_linear_in_logical_nesting(cost: Callable[[dict[str, Any]], int]) -> None:
    def alternating(n: int) -> dict[str, Any]:
        where: dict[str, Any] = {"u.k.k": {"$in": [1, 2]}}
        for i in range(n):
            where = {"$or": [where, {"z": i}]} if i % 2 else {"$and": [where, {"y": {"$ne": i}}]}
        return where

    def negated(n: int) -> dict[str, Any]:
        where: dict[str, Any] = {"u.k": ptr(0)}
        for _ in range(n):
            where = {"$nor": [where]}
        return where

    grows_linearly(lambda n: cost(alternating(n)), 3)
    grows_linearly(lambda n: cost(negated(n)), 8)


def test_path_segments_are_capped_before_any_work() -> None:
    parse_where({segments(MAX_PATH_SEGMENTS): 1})
    for key in (segments(MAX_PATH_SEGMENTS + 1), segments(100), segments(10_000)):
        with pytest.raises(ParseError) as exc:
            parse_where({key: 1})
        assert exc.value.code in (ErrorCode.INVALID_QUERY, ErrorCode.INVALID_KEY_NAME)
    # The compiler keeps the cap for trees built without parse_where (server-side code).
    with pytest.raises(ParseError) as exc:
        Compiler(CLS).where(Compare(tuple(["u"] * (MAX_PATH_SEGMENTS + 1)), "eq", 1))
    assert exc.value.code == ErrorCode.INVALID_QUERY


def test_the_deepest_path_compiles_small() -> None:
    # Was 3^depth: 12 segments made 4.8 s and 542 MB of SQL, 100 grew the process to 24 GB.
    assert sqlite_cost({segments(MAX_PATH_SEGMENTS): 1}) < 100_000


@pytest.mark.parametrize("where", [
    {"$or": [{"a": i} for i in range(3000)]},
    {"a": {"$in": list(range(10_001))}},
    {"a": {"$all": [{"o": i} for i in range(20_000)]}},
    {"a": nested(70)},
    {"a": {"$text": {"$search": {"$term": "x" * 2000}}}},
    {"a": {"$regex": "a" * 2000}},
    {"a": {"$gt": {"$relativeTime": "1.5 days ago"}}},
    {"a": {"$gt": {"$relativeTime": "10000000000 years ago"}}},
    {"a": {"$lt": {"$relativeTime": "in 99999999999999999999999 seconds"}}},
    {"a": {"__type": "Date", "iso": "0001-01-01T00:00:00+01:00"}},
    {"x" * 300: 1},
])
def test_oversized_queries_are_parse_errors(where: dict[str, Any]) -> None:
    with pytest.raises(ParseError) as exc:
        sqlite_cost(where)
    # INCORRECT_TYPE: wire.decode refuses a date outside years 1-9999 as it does on writes.
    assert exc.value.code in (ErrorCode.INVALID_QUERY, ErrorCode.INVALID_JSON, ErrorCode.INVALID_KEY_NAME,
                              ErrorCode.INCORRECT_TYPE)


def test_numbers_past_64_bits_compare_as_doubles() -> None:
    where = parse_where({"a": 2**64 - 1, "b": {"$in": [-(2**63) - 1]}})
    assert isinstance(where.items[0].value, float)  # type: ignore[union-attr]
    mongo_cost({"a": 2**64 - 1})  # BSON holds no such integer; a double it does
