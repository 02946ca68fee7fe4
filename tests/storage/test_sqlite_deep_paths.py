"""Deep dotted paths and deeply nested query values: the SQLite compiler answers as the memory matcher does.

The compiler reads a path one level at a time (one SQL level per key) and re-roots nested equality values; this
checks both against match.py on random documents nesting objects and arrays up to six levels deep.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.query.options import FindOptions
from engine.query.where import All, Compare, ContainedBy, Exists, In, Or, Regex, Where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject
from engine.storage.memory import MemoryAdapter
from engine.storage.sqlite import SQLiteAdapter
from engine.wire import Pointer

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DEEP = new_class("Deep", {"obj": FieldDef(FieldType.OBJECT), "arr": FieldDef(FieldType.ARRAY)})
_KEYS = ["x", "y", "0", "1"]
_SCALARS: list[Any] = [None, True, 0, 1, 2.5, "a", "b", "", Pointer("_User", "u1"), Pointer("_User", "u2")]
ALL = FindOptions(limit=None)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def value(self, depth: int) -> Any:
        k = self.r.randrange(10)
        if depth < 6 and k < 3:
            return [self.value(depth + 1) for _ in range(self.r.randrange(4))]
        if depth < 6 and k < 7:
            return {self.r.choice(_KEYS): self.value(depth + 1) for _ in range(self.r.randrange(1, 3))}
        return self.r.choice(_SCALARS)

    def row(self, i: int) -> StoredObject:
        fields = {name: self.value(0) for name in ("u", "obj", "arr") if self.r.random() < 0.9}
        if not isinstance(fields.get("obj", {}), dict):
            fields["obj"] = {"x": fields["obj"]}
        if not isinstance(fields.get("arr", []), list):
            fields["arr"] = [fields["arr"]]
        return StoredObject("Deep", f"o{i:02d}", T0, T0, None, fields, {})

    def path(self) -> tuple[str, ...]:
        return (self.r.choice(["u", "obj", "arr"]), *(self.r.choice(_KEYS) for _ in range(self.r.randrange(1, 6))))

    def leaf(self) -> Where:
        r, path = self.r, self.path()
        k = r.randrange(8)
        if k < 2:
            return Compare(path, r.choice(["eq", "ne"]), self.value(3) if r.random() < 0.3 else r.choice(_SCALARS))
        if k == 2:
            return Compare(path, r.choice(["lt", "gte"]), r.choice([0, 1, "a", None]))
        if k == 3:
            return In(path, tuple(r.choice(_SCALARS) for _ in range(r.randrange(4))), r.random() < 0.5)
        if k == 4:
            return Exists(path, r.random() < 0.5)
        if k == 5:
            return All(path, tuple(Regex(path, "^a") if r.random() < 0.3 else r.choice(_SCALARS)
                                   for _ in range(r.randrange(3))))
        if k == 6:
            return ContainedBy(path, tuple(r.choice(_SCALARS) for _ in range(r.randrange(3))))
        return Regex(path, r.choice(["^a", "b", "^$"]))


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_deep_paths_answer_like_the_memory_adapter(tmp_path: Path, seed: int) -> None:
    gen = _Gen(seed)
    memory, sqlite = MemoryAdapter(), SQLiteAdapter(str(tmp_path / "deep.db"))
    await sqlite.open()
    try:
        rows = [gen.row(i) for i in range(40)]
        for adapter in (memory, sqlite):
            await adapter.save_schema(DEEP)
            for row in rows:
                await adapter.create(DEEP, row)
        for _ in range(300):
            query: Where = gen.leaf() if gen.r.random() < 0.7 else Or((gen.leaf(), gen.leaf()))
            expected = [o.object_id for o in await memory.find(DEEP, query, ALL)]
            got = [o.object_id for o in await sqlite.find(DEEP, query, ALL)]
            assert got == expected, query
    finally:
        await sqlite.aclose()


async def test_nested_value_equality_through_every_level(tmp_path: Path) -> None:
    sqlite = SQLiteAdapter(str(tmp_path / "nest.db"))
    await sqlite.open()
    try:
        await sqlite.save_schema(DEEP)
        def nested(leaf: int) -> Any:
            value: Any = leaf
            for i in range(60):  # deeper than SQLite joins tables in one query (64)
                value = {"k": value, 'q"': [i]} if i % 2 else [value, {"i": i}]
            return value

        await sqlite.create(DEEP, StoredObject("Deep", "o1", T0, T0, None, {"u": nested(1)}, {}))
        assert [o.object_id for o in await sqlite.find(DEEP, Compare(("u",), "eq", nested(1)), ALL)] == ["o1"]
        assert await sqlite.find(DEEP, Compare(("u",), "eq", nested(2)), ALL) == []
        assert await sqlite.find(DEEP, In(("u",), (nested(2), nested(1))), ALL) != []
        wide = [{"a": [i]} for i in range(200)]  # more nested containers than one join holds
        await sqlite.create(DEEP, StoredObject("Deep", "o2", T0, T0, None, {"u": wide}, {}))
        assert [o.object_id for o in await sqlite.find(DEEP, Compare(("u",), "eq", wide), ALL)] == ["o2"]
        assert await sqlite.find(DEEP, Compare(("u",), "eq", [*wide[:-1], {"a": [0]}]), ALL) == []
    finally:
        await sqlite.aclose()
