"""The ACL read constraint in SQLite: a caller's principals are bound as one JSON parameter however many roles
they hold, and the compiled form cached for a principal list never answers for another list."""

from __future__ import annotations

from pathlib import Path

from engine.query.options import FindOptions
from engine.query.where import In, conjoin
from engine.schema.model import new_class
from engine.security.acl import read_constraint
from engine.security.auth import Auth
from engine.storage.base import StoredObject
from engine.storage.sql_compile import Compiler
from engine.storage.sqlite import SQLiteAdapter
from engine.wire import ACL, now


def test_a_thousand_roles_compile_to_one_bound_parameter() -> None:
    auth = Auth(user_id="u1", role_names=frozenset(f"r{i}" for i in range(1000)))
    compiler = Compiler(new_class("Chart"))
    sql = compiler.where(read_constraint(auth))
    assert list(compiler.params.values()) == [
        '["*","u1",' + ",".join(f'"role:r{i}"' for i in sorted(str(i) for i in range(1000))) + "]"]
    assert sql.count("json_each(:p0)") == 1  # uncorrelated: SQLite builds its lookup once per statement
    # The same caller's next query binds the very same serialized text: nothing rebuilt per query.
    again = Compiler(new_class("Chart"))
    again.where(read_constraint(auth))
    assert again.params["p0"] is compiler.params["p0"]


def test_a_few_principals_stay_separate_parameters() -> None:
    compiler = Compiler(new_class("Chart"))
    compiler.where(read_constraint(Auth(user_id="u1", role_names=frozenset({"Tech"}))))
    assert sorted(compiler.params.values()) == ["*", "role:Tech", "u1"]


async def test_finds_by_principals_answer_for_the_list_given_each_time(tmp_path: Path) -> None:
    store = SQLiteAdapter(str(tmp_path / "acl.db"))
    await store.open()
    try:
        cls = new_class("Chart")
        await store.save_schema(cls)
        stamp = now()
        for i in range(60):
            acl = ACL(frozenset({f"role:r{i}"}), frozenset())
            await store.create(cls, StoredObject("Chart", f"c{i:02d}", stamp, stamp, acl).with_fields({"n": i}))
        await store.create(cls, StoredObject("Chart", "public", stamp, stamp).with_fields({"n": 99}))

        async def readable(auth: Auth) -> list[str]:
            rows = await store.find(cls, read_constraint(auth), FindOptions(limit=None))
            return sorted(r.object_id for r in rows)

        holder = Auth(user_id="u1", role_names=frozenset(f"r{i}" for i in range(0, 60, 2)))
        assert await readable(holder) == sorted([f"c{i:02d}" for i in range(0, 60, 2)] + ["public"])
        assert await readable(holder) == sorted([f"c{i:02d}" for i in range(0, 60, 2)] + ["public"])
        other = Auth(user_id="u1", role_names=frozenset(f"r{i}" for i in range(1, 60, 2)))
        assert await readable(other) == sorted([f"c{i:02d}" for i in range(1, 60, 2)] + ["public"])
        # A list (mutable) is never answered from the cache, even when it is the same object changed since.
        ids = [f"c{i:02d}" for i in range(40)]
        first = await store.find(cls, In(("objectId",), ids), FindOptions(limit=None))
        ids[:] = [f"c{i:02d}" for i in range(20, 60)]
        second = await store.find(cls, In(("objectId",), ids), FindOptions(limit=None))
        assert {r.object_id for r in first} == {f"c{i:02d}" for i in range(40)}
        assert {r.object_id for r in second} == {f"c{i:02d}" for i in range(20, 60)}
        both = conjoin(In(("objectId",), tuple(f"c{i:02d}" for i in range(50))), read_constraint(holder))
        assert len(await store.find(cls, both, FindOptions(limit=None))) == 25
    finally:
        await store.aclose()


def test_only_lists_of_bounded_size_are_kept_serialized() -> None:
    # About 200 KiB of JSON: a client's huge $in is compiled afresh each time rather than held in memory.
    huge = Auth(user_id="u1", role_names=frozenset(f"{i:0>40}" for i in range(5000)))
    first, second = Compiler(new_class("Chart")), Compiler(new_class("Chart"))
    first.where(read_constraint(huge))
    second.where(read_constraint(huge))
    assert first.params["p0"] == second.params["p0"] and first.params["p0"] is not second.params["p0"]
