"""Regex, $text, geo and dotted Object keys run as SQL on PostgreSQL: the engine's Python matcher is never
called for them, limit/skip/count are exact over many rows, and the answers equal the memory adapter's."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import asyncpg
import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions
from engine.query.where import parse_where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject
from engine.storage.memory import MemoryAdapter
from engine.storage.postgres import PostgresAdapter
from engine.storage.postgres_regex import to_are
from engine.wire import GeoPoint, Polygon

LAB = new_class("Lab", {
    "name": FieldDef(FieldType.STRING), "tags": FieldDef(FieldType.ARRAY), "meta": FieldDef(FieldType.OBJECT),
    "loc": FieldDef(FieldType.GEOPOINT), "area": FieldDef(FieldType.POLYGON), "n": FieldDef(FieldType.NUMBER),
})
T0 = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = ["Sleep", "apnea", "café", "CAFE", "naïve", "REM", "stage", "line\nbreak", "x_y", "déjà vu"]


def _objects(count: int) -> list[StoredObject]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        fields: dict[str, Any] = {"n": i, "name": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}"}
        if i % 3:
            fields["tags"] = [rng.choice(WORDS), i]
        if i % 4:
            fields["meta"] = {"ward": rng.choice(["north", "south"]), "bed": {"no": i % 10},
                              "staff": [{"role": rng.choice(["rn", "md"])}, {"role": "tech"}],
                              "grid": [[{"role": "md"}], {"role": "rn" if i % 8 else "md"}], "codes": [[1], 2]}
        if i % 5:
            fields["loc"] = GeoPoint(rng.uniform(-60, 60), rng.uniform(-170, 170))
        if i % 7 == 0:
            fields["area"] = Polygon(((0.0, 0.0), (0.0, 20.0), (20.0, 20.0), (20.0, 0.0), (0.0, 0.0)))
        out.append(StoredObject("Lab", f"o{i:04d}", T0 + timedelta(seconds=i), T0, None, MappingProxyType(fields)))
    return out


@pytest.fixture
async def stores(pg_uri: str) -> AsyncIterator[tuple[PostgresAdapter, MemoryAdapter]]:
    pg = PostgresAdapter(pg_uri)
    mem = MemoryAdapter()
    await pg.open()
    await mem.open()
    await pg.save_schema(LAB)
    await mem.save_schema(LAB)
    for o in _objects(120):
        await pg.create(LAB, o)
        await mem.create(LAB, o)
    yield pg, mem
    await pg.aclose()


def geo(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


SQL_QUERIES: list[dict[str, Any]] = [
    {"name": {"$regex": "^caf", "$options": "i"}},
    {"name": {"$regex": "(^| )REM( |$)"}},
    {"name": {"$regex": "5$"}},
    {"name": {"$regex": "^break", "$options": "m"}},
    {"name": {"$regex": "line.break|apnea"}},
    {"name": {"$regex": "line.break", "$options": "s"}},
    {"name": {"$regex": "a p n e a", "$options": "x"}},
    {"name": {"$regex": "\\Qx_y\\E \\d+"}},
    {"name": {"$regex": "[^a-z ]{2}[A-Z]\\d?"}},
    {"name": {"$regex": "(e)\\1|éj"}},
    {"tags": {"$regex": "^S"}},
    {"name": {"$text": {"$search": {"$term": "cafe"}}}},
    {"name": {"$text": {"$search": {"$term": "cafe", "$diacriticSensitive": True}}}},
    {"name": {"$text": {"$search": {"$term": "CAFE", "$caseSensitive": True}}}},
    {"name": {"$text": {"$search": {"$term": "\"deja vu\" -rem"}}}},
    {"tags": {"$text": {"$search": {"$term": "naive stage"}}}},
    {"loc": {"$nearSphere": geo(10, 10), "$maxDistanceInKilometers": 4000}},
    {"loc": {"$within": {"$box": [geo(-20, -50), geo(30, 60)]}}},
    {"loc": {"$geoWithin": {"$polygon": [geo(-40, -40), geo(-40, 90), geo(50, 90), geo(50, -40)]}}},
    {"loc": {"$geoWithin": {"$centerSphere": [geo(0, 0), 0.6]}}},
    {"area": {"$geoIntersects": {"$point": geo(10, 10)}}},
    {"meta.ward": "north"},
    {"meta.ward": {"$ne": "north"}},
    {"meta.bed.no": {"$gte": 5}},
    {"meta.bed.no": {"$in": [1, 2, 3]}},
    {"meta.bed.no": {"$nin": [1, 2, 3]}},
    {"meta.staff.role": "md"},
    {"$or": [{"meta.grid.role": "md"}, {"meta.ward": "north"}]},  # no walking into the nested array
    {"$or": [{"meta.codes": 1}, {"meta.codes": 2, "n": {"$lt": 9}}]},
    {"meta.bed": {"$exists": True}},
    {"meta.nothing": {"$exists": False}},
    {"name.first": {"$exists": False}},
    {"$or": [{"meta.ward": "south"}, {"name": {"$regex": "REM"}}]},
    {"tags": {"$all": ["apnea"]}},
    {"tags": {"$all": [4.0, 4]}},
    {"tags": {"$all": ["REM"]}, "n": {"$lt": 60}},
    {"tags": {"$containedBy": [*WORDS, *range(40)]}},
    {"tags": {"$containedBy": ["Sleep", "apnea", *range(0, 120, 2)]}},
]


@pytest.mark.parametrize("query", SQL_QUERIES, ids=[str(q)[:60] for q in SQL_QUERIES])
async def test_sql_path_answers_as_the_memory_adapter(
        stores: tuple[PostgresAdapter, MemoryAdapter], query: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    pg, mem = stores
    calls: list[object] = []
    original = PostgresAdapter._residual

    def spy(self: PostgresAdapter, rows: list[StoredObject], residual: Any) -> list[StoredObject]:
        calls.append(residual)
        return original(self, rows, residual)

    monkeypatch.setattr(PostgresAdapter, "_residual", spy)
    where = parse_where(query, master=True)
    expected = [o.object_id for o in await mem.find(LAB, where, FindOptions(limit=None))]
    assert expected  # a query that finds nothing would prove little
    page = FindOptions(limit=7, skip=3)
    assert [o.object_id for o in await pg.find(LAB, where, FindOptions(limit=None))] == expected
    assert [o.object_id for o in await pg.find(LAB, where, page)] == [
        o.object_id for o in await mem.find(LAB, where, page)]
    assert await pg.count(LAB, where) == len(expected)
    assert calls == []  # answered by SQL alone


async def test_near_sorts_by_distance_in_sql(stores: tuple[PostgresAdapter, MemoryAdapter],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pg, mem = stores
    monkeypatch.setattr(PostgresAdapter, "_residual", lambda *a: pytest.fail("Python filter used"))
    where = parse_where({"loc": {"$nearSphere": geo(40, -3)}})
    opts = FindOptions(limit=20, skip=10)
    assert [o.object_id for o in await pg.find(LAB, where, opts)] == [
        o.object_id for o in await mem.find(LAB, where, opts)]


@pytest.mark.parametrize("pattern", ["(?<=a)b", "(?P<x>a)", "(?>a)", "a++", "[[:alpha:]]", "a{300}", "(?i)a"])
def test_untranslatable_regex_stays_with_the_matcher(pattern: str) -> None:
    assert to_are(pattern, "") is None


async def test_untranslatable_regex_still_answers_exactly(stores: tuple[PostgresAdapter, MemoryAdapter]) -> None:
    pg, mem = stores
    where = parse_where({"name": {"$regex": "(?<=a)p"}})
    expected = [o.object_id for o in await mem.find(LAB, where, FindOptions(limit=None))]
    assert expected
    assert [o.object_id for o in await pg.find(LAB, where, FindOptions(limit=None))] == expected
    assert await pg.count(LAB, where) == len(expected)


async def test_sql_grows_linearly_with_the_where() -> None:
    from engine.storage.postgres_query import Compiler

    cols = {"name": "text", "meta": "jsonb", "loc": "point"}

    def size(n: int) -> int:
        query = {"$or": [{"name": {"$regex": f"a{i}b", "$options": "i"}, "meta.x.y": {"$in": [i, str(i)]},
                          "loc": {"$geoWithin": {"$centerSphere": [geo(i % 80, 0), 0.1]}}} for i in range(n)]}
        plan = Compiler(cols, {}, icu=True).plan(parse_where(query))
        assert plan.sql != "TRUE" and len(plan.params) > 0
        return len(plan.sql) + sum(len(str(p)) for p in plan.params)

    small, large = size(10), size(100)
    assert large < 11 * small


async def test_slow_regex_ends_at_the_time_budget(pg_uri: str) -> None:
    pg = PostgresAdapter(pg_uri, max_time_ms=20)
    await pg.open()
    try:
        await pg.save_schema(LAB)
        conn = await asyncpg.connect(pg_uri)
        try:
            await conn.execute('INSERT INTO "Lab" ("objectId", "createdAt", "updatedAt", "name") '
                               "SELECT 'b' || g, now(), now(), repeat('a', 20000) FROM generate_series(1, 3000) g")
        finally:
            await conn.close()
        with pytest.raises(ParseError) as caught:
            await pg.find(LAB, parse_where({"name": {"$regex": "(a*)\\1\\1\\1b"}}), FindOptions(limit=None))
        assert caught.value.code == ErrorCode.TIMEOUT
    finally:
        await pg.aclose()


async def test_a_backtracking_bomb_is_linear_in_sql(pg_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`(a+)+$` stalls a backtracking matcher for seconds per row; in SQL (an automaton) it answers at once."""
    pg = PostgresAdapter(pg_uri, max_time_ms=2000)
    await pg.open()
    monkeypatch.setattr(PostgresAdapter, "_residual", lambda *a: pytest.fail("Python filter used"))
    try:
        await pg.save_schema(LAB)
        for i in range(50):
            fields: dict[str, Any] = {"name": "a" * 30_000 + ("!" if i else "")}
            await pg.create(LAB, StoredObject("Lab", f"e{i}", T0, T0, None, MappingProxyType(fields)))
        found = await pg.find(LAB, parse_where({"name": {"$regex": "(a+)+$"}}), FindOptions(limit=None))
        assert [o.object_id for o in found] == ["e0"]
    finally:
        await pg.aclose()
