"""Update operations into arrays by index (`items.0.count`), as MongoDB runs them natively, on every store."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ParseError
from engine.query.options import FindOptions
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import AddItems, Changes, Increment, SetValue, StorageAdapter, Unset
from tests.storage.test_contract import at, obj, storage, where

__all__ = ["storage"]

CART = new_class("Cart", {"items": FieldDef(FieldType.ARRAY), "counts": FieldDef(FieldType.ARRAY)})


async def _update(store: StorageAdapter, *ops: Any) -> dict[str, Any]:
    back = await store.update(CART, where({"objectId": "c1"}), Changes(at(5), tuple(ops)))
    assert back is not None
    [again] = await store.find(CART, where({"objectId": "c1"}), FindOptions(limit=None))
    assert dict(again.fields) == dict(back.fields)
    return dict(back.fields)


async def test_ops_into_array_elements_by_index(storage: StorageAdapter) -> None:
    await storage.save_schema(CART)
    await storage.create(CART, obj("c1", 1, cls="Cart", items=[{"value": "a", "count": 5}, {"value": "b", "count": 1}],
                                   counts=[1, 2]))
    fields = await _update(storage, (("items", "0", "count"), Increment(15)), (("items", "1", "count"), Increment(4)),
                           (("counts", "1"), Increment(10)), (("items", "1", "tags"), AddItems(("x",))))
    assert fields["items"] == [{"value": "a", "count": 20}, {"value": "b", "count": 5, "tags": ["x"]}]
    assert fields["counts"] == [1, 12]
    fields = await _update(storage, (("items", "0", "value"), SetValue("z")), (("items", "1", "count"), Unset()))
    assert fields["items"] == [{"value": "z", "count": 20}, {"value": "b", "tags": ["x"]}]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_an_index_far_past_the_end_is_refused_not_allocated(kind: str, tmp_path: Any) -> None:
    from engine.storage.memory import MemoryAdapter
    from engine.storage.sqlite import SQLiteAdapter
    store: Any = MemoryAdapter() if kind == "memory" else SQLiteAdapter(str(tmp_path / "n.db"))
    await store.open()
    try:
        await store.save_schema(CART)
        await store.create(CART, obj("c1", 1, cls="Cart", counts=[1]))
        for index in ("5", "999999999", "9" * 5000, "-1", "x"):
            with pytest.raises(ParseError) as err:
                await store.update(CART, where({"objectId": "c1"}),
                                   Changes(at(5), ((("counts", index), Increment(1)),)))
            assert err.value.code == 111
        [row] = await store.find(CART, where({"objectId": "c1"}), FindOptions(limit=None))
        assert row.fields["counts"] == [1]
    finally:
        await store.aclose()
