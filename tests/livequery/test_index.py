"""The subscription index: a write asks only the subscriptions its values can match (work measured, not time)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from engine.query.match import matches
from engine.query.where import parse_where
from engine.storage.base import StoredObject, freeze
from engine.wire import Pointer
from livequery.subscriptions import Subscription, SubscriptionIndex

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sub(rid: int, where: dict[str, Any], cls: str = "Msg") -> Subscription:
    return Subscription(rid, cls, parse_where(where, master=True))


def obj(object_id: str = "o1", **fields: Any) -> StoredObject:
    return StoredObject("Msg", object_id, T0, T0, None, freeze(fields))


def test_a_write_costs_what_it_matches_not_who_listens() -> None:
    index = SubscriptionIndex()
    for i in range(10_000):
        index.add(f"c{i}", sub(1, {"room": f"r{i}"}))
    index.add("loose", sub(1, {"n": {"$gt": 3}}))
    assert [c for c, _ in index.candidates("Msg", obj(room="elsewhere"))] == ["loose"]
    assert sorted(c for c, _ in index.candidates("Msg", obj(room="r7"), obj(room="r9"))) == ["c7", "c9", "loose"]
    assert index.candidates("Other", obj(room="r7")) == []


def test_index_keys_follow_the_matchers_equality() -> None:
    index = SubscriptionIndex()
    index.add("num", sub(1, {"n": 1}))
    index.add("bool", sub(1, {"flag": True}))
    index.add("ptr", sub(1, {"owner": {"__type": "Pointer", "className": "_User", "objectId": "u1"}}))
    index.add("id", sub(1, {"objectId": "o9"}))
    index.add("and", sub(1, {"$and": [{"tag": "a"}, {"n": {"$lt": 5}}]}))
    index.add("in", sub(1, {"k": {"$in": ["x", "y"]}}))
    assert [c for c, _ in index.candidates("Msg", obj(k="y"))] == ["in"]
    assert [c for c, _ in index.candidates("Msg", obj(n=1.0))] == ["num"]  # 1 == 1.0, as in Mongo
    assert [c for c, _ in index.candidates("Msg", obj(flag=1))] == []  # True != 1
    assert [c for c, _ in index.candidates("Msg", obj(owner=Pointer("_User", "u1")))] == ["ptr"]
    assert [c for c, _ in index.candidates("Msg", obj("o9"))] == ["id"]
    assert [c for c, _ in index.candidates("Msg", obj(tag=["x", "a"]))] == ["and"]  # array contains


def test_index_never_loses_a_match_the_matcher_would_find() -> None:
    rng = random.Random(7)
    wheres = [{"n": 1}, {"n": 2}, {"s": "a"}, {"n": {"$in": [1, 2]}}, {"s": {"$ne": "a"}}, {"n": 1, "s": "b"},
              {"$or": [{"n": 1}, {"s": "a"}]}, {"t": {"$exists": True}}, {"n": None}, {}]
    index = SubscriptionIndex()
    subs = {}
    for i, where in enumerate(wheres):
        s = sub(i, where)
        subs[f"c{i}"] = s
        index.add(f"c{i}", s)
    for _ in range(300):
        fields = {k: rng.choice(v) for k, v in {"n": [1, 2, 3, 1.0, [1, 5]], "s": ["a", "b"], "t": [0]}.items()
                  if rng.random() < 0.7}
        o = obj(**fields)
        found = {c for c, _ in index.candidates("Msg", o)}
        assert {c for c, s in subs.items() if matches(s.where, o)} <= found


def test_remove_and_replace() -> None:
    index = SubscriptionIndex()
    index.add("c", sub(1, {"room": "a"}))
    index.add("c", sub(1, {"room": "b"}))  # `update`: replaces
    assert index.candidates("Msg", obj(room="a")) == []
    assert len(index.candidates("Msg", obj(room="b"))) == 1
    index.add("c", sub(2, {}, cls="Other"))
    index.remove_client("c")
    assert len(index) == 0 and not index.has_class("Msg") and not index.has_class("Other")
