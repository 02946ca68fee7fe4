"""The query time budget in each store: SQLite (progress handler + shared regex deadline, reader pool), MongoDB
(maxTimeMS sent with every query, MaxTimeMSExpired answered as 124), memory (checked between objects)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import ExecutionTimeout

from engine.errors import ErrorCode, ParseError
from engine.query.deadline import Deadline, deadline_after, running_until
from engine.query.match import regex_matches
from engine.query.options import FindOptions
from engine.query.where import Regex, Where, parse_where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject
from engine.storage.memory import MemoryAdapter
from engine.storage.mongo import MongoAdapter
from engine.storage.registry import open_adapter
from engine.storage.sqlite import SQLiteAdapter
from engine.storage.sqlite_readers import DEFAULT_READERS, reader_count

NOTE = new_class("Note", {"s": FieldDef(FieldType.STRING), "likes": FieldDef(FieldType.RELATION, "_User")})
OTHER = new_class("Other", {"s": FieldDef(FieldType.STRING)})
ALL = FindOptions(limit=None)
EVIL = "a" * 30_000 + "!"  # (a+)+$ backtracks exponentially on it
ROWS = 50  # with the old per-row 0.1 s cap this query took 5 s or more


def where(data: dict[str, Any]) -> Where:
    return parse_where(data, master=True)


def catastrophic() -> Where:
    return where({"s": {"$regex": "(a+)+$"}})


async def _fill(adapter: Any) -> None:
    now = datetime.now(UTC)
    await adapter.save_schema(NOTE)
    await adapter.save_schema(OTHER)
    for i in range(ROWS):
        await adapter.create(NOTE, StoredObject("Note", f"n{i}", now, now).with_fields({"s": EVIL}))
    await adapter.create(OTHER, StoredObject("Other", "o1", now, now).with_fields({"s": "plain"}))


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteAdapter]:
    adapter = SQLiteAdapter(str(tmp_path / "budget.db"), max_time_ms=300)
    await adapter.open()
    await _fill(adapter)
    yield adapter
    await adapter.aclose()


# ---- settings plumbing ----

def test_reader_pool_size_comes_from_the_uri() -> None:
    assert reader_count("sqlite:///x.db") == DEFAULT_READERS
    assert reader_count("/plain/path.db") == DEFAULT_READERS
    assert reader_count("sqlite:///x.db?readers=2&synchronous=NORMAL") == 2
    for bad in ("0", "65", "many"):
        with pytest.raises(ValueError, match="readers"):
            reader_count(f"sqlite:///x.db?readers={bad}")


def test_open_adapter_hands_the_budget_to_every_adapter(tmp_path: Path) -> None:
    sqlite = open_adapter(f"sqlite:///{tmp_path}/a.db?readers=3", max_time_ms=1234)
    assert isinstance(sqlite, SQLiteAdapter)
    assert (sqlite.max_time_ms, sqlite.readers) == (1234, 3)
    assert isinstance(open_adapter("memory://", max_time_ms=1234), MemoryAdapter)
    assert isinstance(open_adapter("mongodb://localhost/x", max_time_ms=1234), MongoAdapter)
    unbounded = open_adapter(f"sqlite:///{tmp_path}/b.db", max_time_ms=0)
    assert isinstance(unbounded, SQLiteAdapter) and unbounded.max_time_ms is None


# ---- the shared regex deadline ----

def test_one_deadline_covers_every_regex_evaluation_of_a_query() -> None:
    node = Regex(("s",), "(a+)+$", "")
    started = time.monotonic()
    with running_until(deadline_after(200)), pytest.raises(ParseError) as err:
        for _ in range(ROWS):  # as SQLite calls the function once per row
            regex_matches([EVIL], node)
    assert err.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - started < 3  # per-row caps would have added up to 5 s


def test_without_a_deadline_a_regex_keeps_its_per_match_cap() -> None:
    # LiveQuery evaluates one object at a time with no query deadline: a runaway pattern just does not match.
    assert regex_matches([EVIL], Regex(("s",), "(a+)+$", "")) is False
    assert regex_matches(["aaa"], Regex(("s",), "(a+)+$", "")) is True


def test_an_expired_deadline_fails_before_searching() -> None:
    past = Deadline(time.monotonic() - 1)
    with running_until(past), pytest.raises(ParseError) as err:
        regex_matches(["abc"], Regex(("s",), "b", ""))
    assert err.value.code == ErrorCode.TIMEOUT and past.expired


# ---- SQLite ----

async def test_sqlite_catastrophic_regex_answers_124_within_the_budget(sqlite_store: SQLiteAdapter) -> None:
    for run in (lambda: sqlite_store.find(NOTE, catastrophic(), ALL), lambda: sqlite_store.count(NOTE, catastrophic())):
        started = time.monotonic()
        with pytest.raises(ParseError) as err:
            await run()
        assert err.value.code == ErrorCode.TIMEOUT
        assert err.value.message == "Query timed out"
        assert time.monotonic() - started < 4  # budget 0.3 s; unbounded it took 5 s or more


async def test_sqlite_progress_handler_stops_a_long_statement(sqlite_store: SQLiteAdapter) -> None:
    # No Python function involved: the VM itself is interrupted at the deadline.
    pool = sqlite_store._pool
    assert pool is not None
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    started = time.monotonic()
    with pytest.raises(ParseError) as err:
        await pool.run(lambda conn: conn.execute(sql).fetchone())
    assert err.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - started < 4


async def test_sqlite_reads_after_a_timeout_work_on_every_reader(sqlite_store: SQLiteAdapter) -> None:
    for _ in range(DEFAULT_READERS):
        with pytest.raises(ParseError):
            await sqlite_store.count(NOTE, catastrophic())
    # Each reader's deadline was cleared: ordinary and regex reads still answer, on every connection.
    results = await asyncio.gather(*(sqlite_store.count(NOTE, where({"s": {"$regex": "^a+!$"}}))
                                     for _ in range(2 * DEFAULT_READERS)))
    assert results == [ROWS] * (2 * DEFAULT_READERS)
    assert [o.object_id for o in await sqlite_store.find(OTHER, where({"objectId": "o1"}), ALL)] == ["o1"]


async def test_sqlite_a_fast_read_completes_while_a_slow_one_runs(tmp_path: Path) -> None:
    adapter = SQLiteAdapter(str(tmp_path / "pool.db"), max_time_ms=4000)
    await adapter.open()
    try:
        await _fill(adapter)
        slow = asyncio.create_task(adapter.find(NOTE, catastrophic(), ALL))
        await asyncio.sleep(0.2)  # let it start on a reader (if it has not, the fast read is fast all the same)
        started = time.monotonic()
        found = await adapter.find(OTHER, where({"objectId": "o1"}), ALL)
        fast = time.monotonic() - started
        assert [o.object_id for o in found] == ["o1"]
        assert not slow.done(), "the slow read should still be running"
        assert fast < 2  # one shared reader made it wait for the whole slow read
        with pytest.raises(ParseError):
            await slow
    finally:
        await adapter.aclose()


async def test_sqlite_writes_are_not_bounded_and_not_blocked(sqlite_store: SQLiteAdapter) -> None:
    slow = asyncio.create_task(sqlite_store.count(NOTE, catastrophic()))
    await asyncio.sleep(0.05)
    now = datetime.now(UTC)
    await sqlite_store.create(OTHER, StoredObject("Other", "o2", now, now).with_fields({"s": "x"}))
    with pytest.raises(ParseError):
        await slow
    assert await sqlite_store.count(OTHER, where({})) == 2


# ---- memory ----

async def test_memory_catastrophic_regex_answers_124_within_the_budget() -> None:
    adapter = MemoryAdapter(max_time_ms=300)
    await _fill(adapter)
    started = time.monotonic()
    with pytest.raises(ParseError) as err:
        await adapter.find(NOTE, catastrophic(), ALL)
    assert err.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - started < 4
    assert await adapter.count(OTHER, where({"s": "plain"})) == 1


# ---- MongoDB ----

class _Recording:
    """A collection that records the keyword arguments of each query before handing it to mongomock."""

    def __init__(self, inner: Any, calls: list[tuple[str, dict[str, Any]]], fail: bool) -> None:
        self._inner, self._calls, self._fail = inner, calls, fail

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in ("find", "count_documents", "estimated_document_count"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, kwargs))
            if self._fail:
                raise ExecutionTimeout("operation exceeded time limit", 50)
            return target(*args, **kwargs)

        return call


def _recording_store(max_time_ms: int | None, fail: bool = False) -> tuple[MongoAdapter, list[Any]]:
    store = MongoAdapter("mongodb://localhost/budget", client=AsyncMongoMockClient(), max_time_ms=max_time_ms)
    calls: list[tuple[str, dict[str, Any]]] = []
    real = store._collection
    store._collection = lambda name: _Recording(real(name), calls, fail)  # type: ignore[method-assign]
    return store, calls


async def test_mongo_sends_max_time_ms_with_every_query() -> None:
    store, calls = _recording_store(750)
    await _fill(store)
    calls.clear()
    await store.find(NOTE, where({"s": {"$regex": "^a"}}), FindOptions(limit=5))
    await store.count(NOTE, where({"s": {"$regex": "^a"}}))
    await store.count(NOTE, where({}))
    assert [name for name, _ in calls] == ["find", "count_documents", "estimated_document_count"]
    assert calls[0][1] == {"max_time_ms": 750}
    assert calls[1][1] == {"maxTimeMS": 750} and calls[2][1] == {"maxTimeMS": 750}


async def test_mongo_relation_lookups_carry_max_time_ms_too() -> None:
    store, calls = _recording_store(750)
    await store.add_relation(NOTE, "likes", "n1", ["u1"])
    calls.clear()
    assert await store.related_ids(NOTE, "likes", ["n1"]) == ["u1"]
    assert calls == [("find", {"max_time_ms": 750})]


async def test_mongo_without_a_budget_sends_no_limit() -> None:
    store, calls = _recording_store(None)
    await _fill(store)
    calls.clear()
    await store.find(NOTE, where({}), FindOptions(limit=1))
    await store.count(NOTE, where({"s": "x"}))
    assert [kwargs for _, kwargs in calls] == [{}, {}]


async def test_mongo_max_time_expired_answers_124_without_driver_text() -> None:
    store, _ = _recording_store(100, fail=True)
    for run in (lambda: store.find(NOTE, catastrophic(), ALL), lambda: store.count(NOTE, catastrophic())):
        with pytest.raises(ParseError) as err:
            await run()
        assert (err.value.code, err.value.message) == (ErrorCode.TIMEOUT, "Query timed out")
