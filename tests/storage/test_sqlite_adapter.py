"""SQLiteAdapter: the file layout, durability, concurrency, indexes, and the memory adapter's answers in SQL."""

from __future__ import annotations

import asyncio
import os
import platform
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions, SortKey
from engine.query.where import (
    MATCH_ALL,
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    Near,
    Nor,
    Or,
    Regex,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
    conjoin,
    parse_where,
)
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import Changes, Increment, SetValue, StoredObject
from engine.storage.memory import MemoryAdapter
from engine.storage.registry import is_persistent, open_adapter
from engine.storage.sql_compile import Compiler
from engine.storage.sqlite import SQLiteAdapter, _call, database_path
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_shadows import read_shadows
from engine.wire import ACL, Bytes, File, GeoPoint, Pointer, Polygon

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)
ALL = FindOptions(limit=None)
GAME = new_class(
    "Game",
    {
        "name": FieldDef(FieldType.STRING),
        "code": FieldDef(FieldType.STRING),
        "score": FieldDef(FieldType.NUMBER),
        "when": FieldDef(FieldType.DATE),
        "player": FieldDef(FieldType.POINTER, "_User"),
        "photo": FieldDef(FieldType.FILE),
    },
).with_indexes({"_id_": {"_id": 1}, "name_1": {"name": 1}, "code_1": {"code": 1, "unique": True}})
USER = new_class("_User")


def obj(oid: str, cls: str = "Game", minutes: int = 0, **fields: Any) -> StoredObject:
    t = T0 + timedelta(minutes=minutes)
    return StoredObject(cls, oid, t, t).with_fields(fields)


def where(data: dict[str, Any]) -> Where:
    return parse_where(data, master=True)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "app.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[SQLiteAdapter]:
    adapter = SQLiteAdapter(str(db_path))
    await adapter.open()
    await adapter.save_schema(GAME)
    yield adapter
    await adapter.aclose()


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection beside the adapter's, as a tool would open one (on the same driver: see sqlite_driver)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


async def test_every_connection_runs_on_the_driver(db: SQLiteAdapter) -> None:
    """The writer and each reader open through sqlite_driver: aiosqlite.connect would open the standard library's
    SQLite, whose file locks the driver's cannot see."""
    def version(conn: sqlite3.Connection) -> str:
        return str(conn.execute("SELECT sqlite_version()").fetchone()[0])

    assert db._writer is not None and db._pool is not None
    assert await _call(db._writer, version) == sqlite3.sqlite_version
    assert {await db._pool.run(version) for _ in range(4)} == {sqlite3.sqlite_version}


@pytest.mark.skipif((sys.platform, platform.machine()) != ("linux", "x86_64"),
                    reason="only where sqlean.py surely has a wheel; elsewhere Python's own SQLite may run")
def test_a_current_sqlite_where_its_wheel_exists() -> None:
    assert sqlite3.sqlite_version_info >= (3, 45), sqlite3.sqlite_version


def test_temporary_b_trees_can_spill_to_disk() -> None:
    """TEMP_STORE=3 would hold every DISTINCT and sort run of a query in memory, whatever its size."""
    with closing(sqlite3.connect(":memory:")) as conn:
        options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    assert "TEMP_STORE=3" not in options, options


def test_the_wheels_file_functions_stay_off_whatever_the_environment_says(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for SQL")
    probe = textwrap.dedent(f"""
        from engine.storage.sqlite_driver import sqlite3
        conn = sqlite3.connect(":memory:")
        for sql in ("SELECT readfile({str(secret)!r})", "SELECT writefile('x', 'y')"):
            try:
                print(conn.execute(sql).fetchone())
            except sqlite3.OperationalError as exc:
                print(exc)
    """)
    env = {**os.environ, "SQLEAN_ENABLE": "1", "SQLEAN_ENABLE_FILEIO": "1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.splitlines() == ["no such function: readfile", "no such function: writefile"], done
    assert not (tmp_path / "x").exists()


async def test_a_deleted_object_leaves_no_trace_in_the_file(db: SQLiteAdapter, db_path: Path) -> None:
    marker = "apnea-index-of-patient-" + "q" * 40
    await db.create(GAME, obj("g1", name=marker))
    await db.delete(GAME, where({"objectId": "g1"}))
    await db.aclose()  # checkpoints the WAL into the main file and removes it
    assert not _exists(db_path.with_name(db_path.name + "-wal"))
    assert marker.encode() not in _read_bytes(db_path)


def _exists(path: Path) -> bool:
    return path.exists()


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes()


# ---- the URI ----

@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:///data/app.db", "data/app.db"),
        ("sqlite:////var/lib/app.db", "/var/lib/app.db"),
        ("sqlite:/var/lib/app.db", "/var/lib/app.db"),
        ("sqlite:///my%20dir/app.db?mode=x", "my dir/app.db"),
        ("/abs/app.db", "/abs/app.db"),
        ("rel/app.db", "rel/app.db"),
    ],
)
def test_database_path(uri: str, path: str) -> None:
    assert database_path(uri) == path


@pytest.mark.parametrize("uri", ["sqlite://", "sqlite:///", "sqlite://host/app.db", ":memory:", ""])
def test_database_path_needs_a_file(uri: str) -> None:
    with pytest.raises(ValueError):
        database_path(uri)


async def test_registry_opens_sqlite_uris(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/sub/reg.db"
    adapter = open_adapter(uri)
    assert isinstance(adapter, SQLiteAdapter) and is_persistent(uri)
    await adapter.open()
    await adapter.aclose()
    assert _exists(tmp_path / "sub" / "reg.db")


# ---- durability and layout ----

async def test_wal_mode_and_parent_directories(db: SQLiteAdapter, db_path: Path) -> None:
    assert _exists(db_path)
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [r[1] for r in conn.execute('PRAGMA table_info("Game")')]
    assert columns[:8] == ["objectId", "createdAt", "updatedAt", "_rperm", "_wperm", "acl", "data", "internal"]
    assert all(name.startswith("$json_") for name in columns[8:])  # shadow columns (sqlite_shadows.py)


async def test_row_layout(db: SQLiteAdapter, db_path: Path) -> None:
    acl = ACL(frozenset({"*", "u1"}), frozenset({"u1"}))
    stored = StoredObject("Game", "g1", T0, T0, acl, {"when": T0, "photo": File("a.png", "http://x/a.png")},
                          {"_hashed_password": "h"})
    await db.create(GAME, stored)
    with raw(db_path) as conn:
        row = conn.execute('SELECT createdAt, _rperm, _wperm, data, internal FROM "Game"').fetchone()
    assert row == (
        "2024-05-01T10:20:30.123Z",
        '["*","u1"]',
        '["u1"]',
        '{"when":{"__type":"Date","iso":"2024-05-01T10:20:30.123Z"},"photo":{"__type":"File","name":"a.png"}}',
        '{"_hashed_password":"h"}',
    )


async def test_reopening_keeps_objects_schemas_and_relations(db_path: Path) -> None:
    first = SQLiteAdapter(f"sqlite:///{db_path}")
    await first.open()
    await first.save_schema(GAME)
    await first.save_schema(USER)
    original = obj("g1", name="Alice", score=1.5, player=Pointer("_User", "u1"), raw=Bytes(b"\x00\xff"),
                   loc=GeoPoint(1.0, 2.0), area=Polygon(((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0))))
    await first.create(GAME, original)
    await first.add_relation(GAME, "likes", "g1", ["u1", "u2"])
    await first.aclose()

    again = SQLiteAdapter(str(db_path))
    await again.open()
    try:
        assert {c.name: c for c in await again.load_schemas()} == {"Game": GAME, "_User": USER}
        assert await again.find(GAME, MATCH_ALL, ALL) == [original]
        assert await again.related_ids(GAME, "likes", ["g1"]) == ["u1", "u2"]
    finally:
        await again.aclose()


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from datetime import UTC, datetime
    from engine.schema.model import new_class
    from engine.storage.base import StoredObject
    from engine.storage.sqlite import SQLiteAdapter

    async def main():
        db = SQLiteAdapter(sys.argv[1])
        await db.open()
        cls = new_class("Crash")
        await db.save_schema(cls)
        i = 0
        while True:
            oid = f"k{i:06d}"
            t = datetime.now(UTC)
            await db.create(cls, StoredObject("Crash", oid, t, t).with_fields({"n": i}))
            print(oid, flush=True)  # acknowledged: create() returned
            i += 1

    asyncio.run(main())
""")


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, cwd=ROOT, env=env,
                            text=True)
    assert proc.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < 25:
            line = proc.stdout.readline()
            assert line, "the writer died before acknowledging enough writes"
            acknowledged.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        acknowledged += [line.strip() for line in proc.stdout if line.strip()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    async def stored_ids() -> set[str]:
        db = SQLiteAdapter(str(path))
        await db.open()
        try:
            return {o.object_id for o in await db.find(new_class("Crash"), MATCH_ALL, ALL)}
        finally:
            await db.aclose()

    assert set(acknowledged) <= asyncio.run(stored_ids())


# ---- concurrency ----

async def test_concurrent_creates_and_increments(db: SQLiteAdapter) -> None:
    await asyncio.gather(*(db.create(GAME, obj(f"c{i:02d}", score=i)) for i in range(50)))
    assert await db.count(GAME, MATCH_ALL) == 50
    await db.create(GAME, obj("counter", score=0))
    bump = Changes(T0, ((("score",), Increment(1)), (("hits",), Increment(2))))
    results = await asyncio.gather(*(db.update(GAME, where({"objectId": "counter"}), bump) for _ in range(50)))
    assert sorted(r.fields["score"] for r in results if r is not None) == list(range(1, 51))
    [counter] = await db.find(GAME, where({"objectId": "counter"}), ALL)
    assert (counter.fields["score"], counter.fields["hits"]) == (50, 100)


async def test_two_adapters_on_one_file_wait_for_each_other(db: SQLiteAdapter, db_path: Path) -> None:
    other = SQLiteAdapter(str(db_path))
    await other.open()
    try:
        await asyncio.gather(*(
            (db if i % 2 else other).create(GAME, obj(f"x{i:02d}", score=i)) for i in range(50)
        ))
        assert await other.count(GAME, MATCH_ALL) == await db.count(GAME, MATCH_ALL) == 50
    finally:
        await other.aclose()


# ---- unique values, indexes ----

async def test_unique_values_are_137(db: SQLiteAdapter) -> None:
    await db.create(GAME, obj("g1", code="A"))
    await db.create(GAME, obj("g2"))
    await db.create(GAME, obj("g3"))
    with pytest.raises(ParseError) as err:
        await db.create(GAME, obj("g4", code="A"))
    assert (err.value.code, err.value.message) == (137, "A duplicate value for a field with unique values was provided")
    with pytest.raises(ParseError) as err:
        await db.update(GAME, where({"objectId": "g2"}), Changes(T0, ((("code",), SetValue("A")),)))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE
    await db.save_schema(USER)
    await db.create(USER, obj("u1", "_User", username="ann", email="a@x.io"))
    await db.create(USER, obj("u2", "_User", username="bob"))
    await db.create(USER, obj("u3", "_User"))
    await db.create(USER, obj("u4", "_User"))
    with pytest.raises(ParseError) as err:
        await db.create(USER, obj("u5", "_User", username="eve", email="a@x.io"))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE


async def test_failed_update_changes_nothing(db: SQLiteAdapter) -> None:
    await db.create(GAME, obj("g1", name="x", score=1))
    bad = Changes(T0 + timedelta(hours=1), ((("score",), Increment(1)), (("name",), Increment(1))))
    with pytest.raises(ParseError) as err:
        await db.update(GAME, where({"objectId": "g1"}), bad)
    assert (err.value.code, err.value.message) == (ErrorCode.INCORRECT_TYPE, "Cannot increment a non-number")
    [stored] = await db.find(GAME, MATCH_ALL, ALL)
    assert stored.fields == {"name": "x", "score": 1} and stored.updated_at == T0


async def test_schema_indexes_are_shadow_column_indexes_the_planner_uses(db: SQLiteAdapter, db_path: Path) -> None:
    for i in range(200):
        await db.create(GAME, obj(f"g{i:03d}", name=f"n{i}", code=f"c{i}"))
    with raw(db_path) as conn:
        indexes = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Game'"))
        # The value, then its type, which the compiler tests beside it: SQLite reads both from the index, where
        # shadow columns hold them (sqlite_shadows.py).
        expected = ("""CREATE INDEX "idx:Game:name_1" ON "Game" """
                    """(`$json_extract(data, '$."name"')`, `$json_type(data, '$."name"')`)""")
        assert indexes["idx:Game:name_1"] == expected
        assert indexes["idx:Game:code_1"].startswith("CREATE UNIQUE INDEX")
        # Each shadow column holds exactly what the expression it is named for reads from the row.
        assert conn.execute("""SELECT count(*) FROM "Game" WHERE `$json_extract(data, '$."name"')` """
                            """IS NOT json_extract(data, '$."name"')""").fetchone()[0] == 0
        shadows = read_shadows(conn, "Game")
        acl = Or((Exists(("_rperm",), False), In(("_rperm",), (None, "*", "u1"))))
        for query, index in [({"name": "n7"}, "idx:Game:name_1"), ({"code": {"$in": ["c1", "c2"]}}, "idx:Game:code_1")]:
            compiler = Compiler(GAME)
            condition = compiler.where(conjoin(where(query), acl))
            plan = conn.execute(f'EXPLAIN QUERY PLAN SELECT objectId FROM "Game" WHERE {shadows.apply(condition)}',
                                compiler.params).fetchall()
            assert any(f"USING INDEX {index}" in row[-1] for row in plan), plan
    assert [o.object_id for o in await db.find(GAME, where({"name": "n7"}), ALL)] == ["g007"]


async def test_index_changes_follow_the_schema(db: SQLiteAdapter, db_path: Path) -> None:
    def names() -> set[str]:
        with raw(db_path) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")}

    # Declared pointers are indexed whatever the schema's indexes say (pointer equality is the commonest query).
    assert names() == {"idx:Game:name_1", "idx:Game:code_1", "pointer:Game:player"}
    changed = GAME.with_indexes({"_id_": {"_id": 1}, "code_1": {"code": 1}, "when_-1": {"when": -1},
                                 "made": {"createdAt": 1}, "words": {"name": "text"}})
    await db.save_schema(changed)
    assert names() == {"idx:Game:code_1", "idx:Game:when_-1", "idx:Game:made", "pointer:Game:player"}
    with raw(db_path) as conn:
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    assert sql["idx:Game:code_1"].startswith("CREATE INDEX")  # no longer unique
    assert """(`$json_extract(data, '$."when"."iso"')` DESC, `$json_extract(data, '$."when"."__type"')`)""" \
        in sql["idx:Game:when_-1"]
    assert sql["idx:Game:made"].endswith('("createdAt")')


async def test_unique_index_over_duplicates_is_refused(db: SQLiteAdapter) -> None:
    await db.create(GAME, obj("g1", name="same"))
    await db.create(GAME, obj("g2", name="same"))
    unique = GAME.with_indexes({**GAME.indexes, "name_1": {"name": 1, "unique": True}})
    with pytest.raises(ParseError) as err:
        await db.save_schema(unique)
    assert err.value.code == ErrorCode.DUPLICATE_VALUE
    assert [c for c in await db.load_schemas() if c.name == "Game"] == [GAME]


async def test_sqlite_errors_never_reach_the_message(db: SQLiteAdapter, db_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with raw(db_path) as conn:
        conn.execute('CREATE TABLE "Broken" (objectId TEXT PRIMARY KEY)')
    with pytest.raises(ParseError) as err:
        await db.find(new_class("Broken"), MATCH_ALL, ALL)
    assert (err.value.code, err.value.message) == (ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.")
    assert "SQLite find failed" in caplog.text


async def test_acl_constraint_is_a_test_on_the_column() -> None:
    compiler = Compiler(GAME)
    sql = compiler.where(Or((Exists(("_rperm",), False), In(("_rperm",), ("*", "u1")))))
    assert sql.startswith("(_rperm IS NULL OR ") and "json_each(_rperm" in sql and "data" not in sql


async def test_dropped_class_reads_as_empty(db: SQLiteAdapter, db_path: Path) -> None:
    await db.create(GAME, obj("g1"))
    assert await db.count(GAME, MATCH_ALL) == 1
    with raw(db_path) as conn:  # dropped behind the adapter's back, as another process could
        conn.execute('DROP TABLE "Game"')
    assert await db.find(GAME, MATCH_ALL, ALL) == []
    assert await db.count(GAME, MATCH_ALL) == 0


# ---- the same answers as the memory adapter, on generated data and queries ----

FUZZ = new_class(
    "Fz",
    {
        "s": FieldDef(FieldType.STRING), "num": FieldDef(FieldType.NUMBER), "obj": FieldDef(FieldType.OBJECT),
        "arr": FieldDef(FieldType.ARRAY), "when": FieldDef(FieldType.DATE), "ptr": FieldDef(FieldType.POINTER, "_User"),
        "loc": FieldDef(FieldType.GEOPOINT), "flag": FieldDef(FieldType.BOOLEAN),
    },
)
_STRINGS = ["a", "b", "B", "ab", "", "é", "e", "a.b", "x y", "\U0001f600"]
_PATHS = [
    ("s",), ("num",), ("obj",), ("arr",), ("when",), ("ptr",), ("loc",), ("flag",), ("u",), ("v",), ("u", "x"),
    ("u", "0"), ("u", "x", "y"), ("u", "0", "x"), ("u", "x", "0"), ("obj", "x"), ("obj", "x", "y"), ("arr", "x"),
    ("arr", "0"), ("arr", "0", "x"), ("objectId",), ("createdAt",), ("_rperm",), ("_tok",), ("_tok", "x"),
    ("s", "x"), ("nope",),
]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def scalar(self) -> Any:
        r = self.r
        return r.choice([
            None, True, False, -2, 0, 1, 3, 0.5, 2.0, -1.5, *_STRINGS, T0, T0 + timedelta(minutes=1),
            Pointer("_User", "u1"), Pointer("_User", "u2"), Pointer("Other", "u1"), GeoPoint(0.0, 0.0),
            GeoPoint(1.0, 10.0), GeoPoint(10.0, 1.0), File("f1"), Bytes(b"x"), Bytes(b"\x00"),
            Polygon(((0.0, 0.0), (0.0, 5.0), (5.0, 5.0), (0.0, 0.0))),
        ])

    def value(self, depth: int = 0) -> Any:
        k = self.r.randrange(10)
        if depth < 2 and k < 2:
            return [self.value(depth + 1) for _ in range(self.r.randrange(4))]
        if depth < 2 and k < 4:
            return {self.r.choice(["x", "y", "0", 'q"k']): self.value(depth + 1) for _ in range(self.r.randrange(3))}
        return self.scalar()

    def declared(self, kind: FieldType) -> Any:
        r = self.r
        if r.random() < 0.15:
            return None
        return {
            FieldType.STRING: lambda: r.choice(_STRINGS),
            FieldType.NUMBER: lambda: r.choice([-2, 0, 1, 2.5, 3]),
            FieldType.OBJECT: lambda: {r.choice(["x", "y"]): self.value(1) for _ in range(r.randrange(3))},
            FieldType.ARRAY: lambda: [self.value(1) for _ in range(r.randrange(4))],
            FieldType.DATE: lambda: T0 + timedelta(minutes=r.randrange(4)),
            FieldType.POINTER: lambda: r.choice([Pointer("_User", "u1"), Pointer("_User", "u2")]),
            FieldType.GEOPOINT: lambda: GeoPoint(r.choice([0.0, 1.0, 10.0]), r.choice([0.0, 1.0, 10.0])),
            FieldType.BOOLEAN: lambda: r.choice([True, False]),
        }[kind]()

    def row(self, i: int) -> StoredObject:
        r = self.r
        fields = {name: self.declared(f.type) for name, f in FUZZ.fields.items()
                  if name not in ("objectId", "createdAt", "updatedAt", "ACL") and r.random() < 0.7}
        fields.update({name: self.value() for name in ("u", "v") if r.random() < 0.8})
        acl = None if r.random() < 0.3 else ACL(frozenset(r.sample(["*", "u1", "role:A"], r.randrange(3))),
                                                frozenset(r.sample(["u1", "u2"], r.randrange(2))))
        internal = {"_tok": self.value()} if r.random() < 0.5 else {}
        created = T0 + timedelta(minutes=r.randrange(5))
        return StoredObject("Fz", f"o{i:02d}", created, T0 + timedelta(minutes=i), acl, fields, internal)

    def query_value(self) -> Any:
        k = self.r.randrange(6)
        if k == 0:
            return [self.scalar() for _ in range(self.r.randrange(3))]
        if k == 1:
            return {self.r.choice(["x", "y", 'q"k']): self.scalar() for _ in range(self.r.randrange(2))}
        return self.r.choice(["o01", "u1", "*"]) if k == 2 else self.scalar()

    def leaf(self) -> Where:
        r = self.r
        path = r.choice(_PATHS)
        k = r.randrange(14)
        if k < 3:
            return Compare(path, r.choice(["eq", "ne"]), self.query_value())
        if k < 6:
            bound = r.choice([self.scalar(), T0 + timedelta(minutes=r.randrange(3), microseconds=500), None])
            return Compare(path, r.choice(["lt", "lte", "gt", "gte"]), bound)
        if k < 8:
            return In(path, tuple(self.query_value() for _ in range(r.randrange(4))), r.random() < 0.5)
        if k == 8:
            return Exists(path, r.random() < 0.5)
        if k == 9:
            return All(path, tuple(Regex(path, "^a", "i") if r.random() < 0.3 else self.query_value()
                                   for _ in range(r.randrange(3))))
        if k == 10:
            return ContainedBy(path, tuple(self.scalar() for _ in range(r.randrange(4))))
        if k == 11:
            return Regex(path, r.choice(["^a", "b", "^\\Qa.\\E", "É", "^$"]), r.choice(["", "i"]))
        if k == 12:
            return Text(path, r.choice(["a", "ab", '"x y"', "-a b", "E"]), None, r.random() < 0.3, r.random() < 0.3)
        return r.choice([
            Near(path, GeoPoint(0.0, 0.0), r.choice([None, 0.1, 0.3])),
            WithinBox(path, GeoPoint(-1.0, -1.0), GeoPoint(5.0, 5.0)),
            WithinPolygon(path, (GeoPoint(-1.0, -1.0), GeoPoint(-1.0, 5.0), GeoPoint(5.0, 5.0), GeoPoint(5.0, -1.0))),
            WithinSphere(path, GeoPoint(1.0, 1.0), 0.05),
            GeoIntersects(path, GeoPoint(1.0, 1.0)),
        ])

    def tree(self, depth: int = 0) -> Where:
        k = self.r.randrange(6)
        if depth < 2 and k < 3:
            items = tuple(self.tree(depth + 1) for _ in range(self.r.randrange(1, 3)))
            return (And, Or, Nor)[k](items)
        return self.leaf()

    def options(self) -> FindOptions:
        r = self.r
        order: tuple[SortKey, ...] = ()
        if r.random() < 0.4:
            order = tuple(SortKey(r.choice(_PATHS), r.random() < 0.5) for _ in range(r.randrange(1, 3)))
        return FindOptions(limit=r.choice([None, 5]), skip=r.choice([0, 0, 2]), order=order)


@pytest.mark.parametrize("seed", [1, 2])
async def test_answers_like_the_memory_adapter(tmp_path: Path, seed: int) -> None:
    gen = _Gen(seed)
    memory, sqlite = MemoryAdapter(), SQLiteAdapter(str(tmp_path / "fuzz.db"))
    await sqlite.open()
    try:
        rows = [gen.row(i) for i in range(40)]
        for adapter in (memory, sqlite):
            await adapter.save_schema(FUZZ)
            for row in rows:
                await adapter.create(FUZZ, row)
        assert await sqlite.find(FUZZ, MATCH_ALL, ALL) == rows
        for _ in range(400):
            query, opts = gen.tree(), gen.options()
            expected = [o.object_id for o in await memory.find(FUZZ, query, opts)]
            got = [o.object_id for o in await sqlite.find(FUZZ, query, opts)]
            assert got == expected, (query, opts)
            assert await sqlite.count(FUZZ, query) == await memory.count(FUZZ, query), query
    finally:
        await sqlite.aclose()


async def test_synchronous_mode_comes_from_the_uri(tmp_path: Path) -> None:
    from engine.storage.sqlite import synchronous_mode

    assert synchronous_mode(f"sqlite:///{tmp_path}/a.db") == "FULL"
    assert synchronous_mode(f"sqlite:///{tmp_path}/a.db?synchronous=normal") == "NORMAL"
    with pytest.raises(ValueError):
        synchronous_mode(f"sqlite:///{tmp_path}/a.db?synchronous=OFF")
    cases = ((f"sqlite:///{tmp_path}/full.db", 2), (f"sqlite:///{tmp_path}/normal.db?synchronous=NORMAL", 1))
    for uri, expected in cases:
        adapter = SQLiteAdapter(uri)
        await adapter.open()
        assert adapter._writer is not None
        async with adapter._writer.execute("PRAGMA synchronous") as cursor:
            assert (await cursor.fetchone())[0] == expected
        await adapter.aclose()


async def test_group_commit_isolates_a_failing_write(db: SQLiteAdapter) -> None:
    """Concurrent writes share a transaction, but one write's failure undoes only that write."""
    await db.save_schema(GAME)
    await db.create(GAME, obj("taken00001", code="dup"))
    writes = [db.create(GAME, obj(f"g{i:09d}", code=f"c{i}")) for i in range(20)]
    writes.insert(7, db.create(GAME, obj("clash00001", code="dup")))
    writes.insert(12, db.update(GAME, where({"objectId": "taken00001"}), Changes(
        updated_at=T0, ops=((("code",), Increment(1)),))))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 2
    assert {f.code for f in failures if isinstance(f, ParseError)} == {137, 111}
    assert await db.count(GAME, where({})) == 21
    assert await db.find(GAME, where({"objectId": "clash00001"}), ALL) == []
    assert (await db.find(GAME, where({"objectId": "taken00001"}), ALL))[0].fields["code"] == "dup"
