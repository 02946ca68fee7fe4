"""/aggregate and distinct run in the store (GROUP BY on SQLite/PostgreSQL, a native pipeline on MongoDB) and
answer exactly what the Python stages answer. Run on every store: TEST_STORE=mongo / TEST_STORE=postgres."""

from __future__ import annotations

import json
import math
import os
import random
from typing import Any
from urllib.parse import quote

import pytest

import engine.pipeline.aggregate as aggregate_pipeline
from engine.storage.base import Aggregating
from tests.conftest import Api

ROWS = (
    # name, team, score, ok, half
    ("a", "x", 10, True, 0.5),
    ("b", "x", 20, False, 1.5),
    ("c", "y", 40, True, 2.5),
    ("d", "y", 3, True, None),
    ("e", None, 7, False, 0.5),
)


@pytest.fixture
async def seeded(app_factory: Any) -> tuple[Any, Api]:
    app, api = await app_factory()
    r = await api.post("/users", {"username": "owner", "password": "pw-123456"})
    assert r.status_code == 201, r.text
    owner = r.json()["objectId"]
    for name, team, score, ok, half in ROWS:
        body: dict[str, Any] = {"name": name, "score": score, "ok": ok,
                                "owner": {"__type": "Pointer", "className": "_User", "objectId": owner}}
        if team is not None:
            body["team"] = team
        if half is not None:
            body["half"] = half
        r = await api.post("/classes/Tally", body, master=True)
        assert r.status_code == 201, r.text
    return app, api


async def _agg(api: Api, params: dict[str, Any]) -> Any:
    query = "&".join(f"{k}={quote(v if isinstance(v, str) else json.dumps(v))}" for k, v in params.items())
    r = await api.client.get(f"/parse/aggregate/Tally?{query}", headers=api.headers(master=True))
    assert r.status_code == 200, r.text
    return r.json()["results"]


async def _both(api: Api, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The store's answer, checked equal to the answer of the Python stages alone (the path before pushdown)."""
    pushed = await _agg(api, params)
    with monkeypatch.context() as m:
        m.setattr(aggregate_pipeline, "plan_store_stages", lambda *_a: None)
        m.setattr(aggregate_pipeline, "Aggregating", type("Never", (), {}))
        m.setattr(aggregate_pipeline, "rows_window", lambda *_a: None)
        python = await _agg(api, params)
    # Groups come in no defined order (in Mongo either) unless the pipeline sorts them.
    ordered = "$sort" in json.dumps(params.get("pipeline"))
    assert _canonical(pushed, ordered) == _canonical(python, ordered), (pushed, python)
    return pushed


def _canonical(value: Any, ordered: bool) -> Any:
    """Floats to 9 digits (sums are the database's); the results as a sorted list unless ``ordered``."""
    def norm(item: Any) -> Any:
        if isinstance(item, float):
            return round(item, 9)
        if isinstance(item, dict):
            return {k: norm(v) for k, v in item.items()}
        if isinstance(item, list):
            return [norm(v) for v in item]
        return item
    rows = [norm(r) for r in value]
    return rows if ordered else sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def _by_id(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: json.dumps(r["objectId"], sort_keys=True))


def _no_row_scan(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any full-class read through find() fail the test: the work must happen in the store."""
    storage = app.state.engine.storage
    assert isinstance(storage, Aggregating)

    async def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("aggregate read the class's rows through find()")

    monkeypatch.setattr(storage, "find", refuse)


async def test_group_by_field_with_every_accumulator(seeded: tuple[Any, Api], monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = seeded
    group = {"_id": "$team", "n": {"$sum": 1}, "total": {"$sum": "$score"}, "avg": {"$avg": "$score"},
             "low": {"$min": "$score"}, "high": {"$max": "$name"}, "halves": {"$sum": "$half"},
             "c": {"$count": {}}}
    got = await _both(api, {"pipeline": [{"$group": group}, {"$sort": {"_id": 1}}]}, monkeypatch)
    assert got == [
        {"objectId": None, "n": 1, "total": 7, "avg": 7.0, "low": 7, "high": "e", "halves": 0.5, "c": 1},
        {"objectId": "x", "n": 2, "total": 30, "avg": 15.0, "low": 10, "high": "b", "halves": 2.0, "c": 2},
        {"objectId": "y", "n": 2, "total": 43, "avg": 21.5, "low": 3, "high": "d", "halves": 2.5, "c": 2},
    ]
    # Sums of integers stay integers, as Parse on MongoDB answers them.
    assert all(isinstance(r["total"], int) and isinstance(r["n"], int) for r in got)
    _no_row_scan(app, monkeypatch)
    assert await _agg(api, {"pipeline": [{"$group": group}, {"$sort": {"_id": 1}}]}) == got


async def test_group_null_over_a_match_and_over_nothing(seeded: tuple[Any, Api],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = seeded
    pipeline = [{"$match": {"ok": True}}, {"$group": {"_id": None, "total": {"$sum": "$score"},
                                                     "avg": {"$avg": "$half"}}}]
    got = await _both(api, {"pipeline": pipeline}, monkeypatch)
    assert got == [{"objectId": None, "total": 53, "avg": 1.5}]
    nothing = [{"$match": {"score": {"$gt": 1000}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
    assert await _both(api, {"pipeline": nothing}, monkeypatch) == []  # Mongo: no rows, no group
    _no_row_scan(app, monkeypatch)
    assert await _agg(api, {"pipeline": pipeline}) == got


async def test_group_by_object_key_boolean_and_pointer(seeded: tuple[Any, Api],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, api = seeded
    by_object = [{"$group": {"_id": {"t": "$team", "ok": "$ok"}, "n": {"$sum": 1}}}]
    got = _by_id(await _both(api, {"pipeline": by_object}, monkeypatch))
    # A row without `team` groups under an _id without `t`, as in Mongo.
    assert {json.dumps(r["objectId"], sort_keys=True): r["n"] for r in got} == {
        '{"ok": false}': 1, '{"ok": false, "t": "x"}': 1, '{"ok": true, "t": "x"}': 1, '{"ok": true, "t": "y"}': 2}
    by_bool = [{"$group": {"_id": "$ok", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}]
    assert await _both(api, {"pipeline": by_bool}, monkeypatch) == [
        {"objectId": True, "n": 3}, {"objectId": False, "n": 2}]
    by_owner = [{"$group": {"_id": "$owner", "total": {"$sum": "$score"}}}]
    got = await _both(api, {"pipeline": by_owner}, monkeypatch)
    assert len(got) == 1 and got[0]["total"] == 80 and isinstance(got[0]["objectId"], str)


async def test_sort_skip_limit_count_then_python_stages(seeded: tuple[Any, Api],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = seeded
    group = {"$group": {"_id": "$name", "s": {"$sum": "$score"}}}
    paged = [group, {"$sort": {"s": -1}}, {"$skip": 1}, {"$limit": 2}]
    assert await _both(api, {"pipeline": paged}, monkeypatch) == [
        {"objectId": "b", "s": 20}, {"objectId": "a", "s": 10}]
    counted = [group, {"$match": {"s": {"$gte": 10}}}, {"$count": "big"}]  # the $match after the group: Python
    assert await _both(api, {"pipeline": counted}, monkeypatch) == [{"big": 3}]
    in_store = [{"$match": {"team": "x"}}, group, {"$count": "groups"}]
    assert await _both(api, {"pipeline": in_store}, monkeypatch) == [{"groups": 2}]
    projected = [group, {"$sort": {"_id": -1}}, {"$limit": 2}, {"$project": {"s": 1, "_id": 0}}]
    assert await _both(api, {"pipeline": projected}, monkeypatch) == [{"s": 7}, {"s": 3}]
    _no_row_scan(app, monkeypatch)
    assert await _agg(api, {"pipeline": [{"$match": {"ok": False}}, {"$count": "n"}]}) == [{"n": 2}]
    assert await _agg(api, {"pipeline": [{"$match": {"score": -1}}, {"$count": "n"}]}) == []
    assert await _agg(api, {"pipeline": paged}) == [{"objectId": "b", "s": 20}, {"objectId": "a", "s": 10}]


async def test_untranslatable_stages_fall_back_with_the_same_answer(seeded: tuple[Any, Api],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, api = seeded
    for pipeline in (
        [{"$group": {"_id": {"$toUpper": "$team"}, "n": {"$sum": 1}}}, {"$sort": {"n": 1, "_id": 1}}],
        [{"$group": {"_id": "$team", "all": {"$push": "$name"}}}, {"$sort": {"_id": 1}}],
        [{"$match": {"$expr": {"$gt": ["$score", 5]}}}, {"$group": {"_id": None, "n": {"$sum": 2}}}],
        [{"$sort": {"score": 1}}, {"$limit": 2}, {"$project": {"name": 1}}],
    ):
        await _both(api, {"pipeline": pipeline}, monkeypatch)


async def test_sort_and_limit_of_raw_rows_fetch_only_those_rows(seeded: tuple[Any, Api],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = seeded
    pipeline = [{"$match": {"ok": True}}, {"$sort": {"score": -1}}, {"$skip": 1}, {"$limit": 2},
                {"$project": {"name": 1, "_id": 0}}]
    assert await _both(api, {"pipeline": pipeline}, monkeypatch) == [{"name": "a"}, {"name": "d"}]
    latest = [{"$sort": {"createdAt": -1, "name": -1}}, {"$limit": 1}, {"$project": {"name": 1, "_id": 0}}]
    assert await _both(api, {"pipeline": latest}, monkeypatch) == [{"name": "e"}]
    storage = app.state.engine.storage
    real, limits = storage.find, []

    async def spy(cls: Any, where: Any, opts: Any) -> Any:
        limits.append(opts.limit)
        return await real(cls, where, opts)

    monkeypatch.setattr(storage, "find", spy)
    assert await _agg(api, {"pipeline": pipeline}) == [{"name": "a"}, {"name": "d"}]
    assert limits == [2]  # the store's LIMIT, not the whole class


async def test_distinct_in_the_store(seeded: tuple[Any, Api], monkeypatch: pytest.MonkeyPatch) -> None:
    app, api = seeded
    teams = await _both(api, {"distinct": "team"}, monkeypatch)
    assert sorted(teams) == ["x", "y"]
    scores = await _both(api, {"distinct": "score", "where": {"ok": True}}, monkeypatch)
    assert sorted(scores) == [3, 10, 40] and all(isinstance(s, int) for s in scores)
    owners = await _both(api, {"distinct": "owner"}, monkeypatch)
    assert len(owners) == 1 and owners[0]["__type"] == "Pointer" and owners[0]["className"] == "_User"
    assert sorted(await _both(api, {"distinct": "ok"}, monkeypatch)) == [False, True]
    halves = await _both(api, {"distinct": "half"}, monkeypatch)
    assert sorted(halves) == [0.5, 1.5, 2.5] and not any(math.isnan(h) for h in halves)
    _no_row_scan(app, monkeypatch)
    assert await _agg(api, {"distinct": "team", "where": {"score": {"$lt": 5}}}) == ["y"]


async def test_still_master_only_and_bounded(seeded: tuple[Any, Api]) -> None:
    _, api = seeded
    r = await api.client.get("/parse/aggregate/Tally?distinct=team", headers=api.headers())
    assert r.status_code == 403 and r.json()["code"] == 119
    for huge in ([{"$match": {"ok": True}}, {"$limit": 10**30}], [{"$group": {"_id": "$team"}}, {"$skip": 10**30}]):
        r = await api.client.get(f"/parse/aggregate/Tally?pipeline={quote(json.dumps(huge))}",
                                 headers=api.headers(master=True))
        assert r.status_code == 200 and len(r.json()["results"]) == (3 if "$match" in huge[0] else 0), r.text
    pipeline = quote(json.dumps([{"$limit": 1}] * 101))
    r = await api.client.get(f"/parse/aggregate/Tally?pipeline={pipeline}", headers=api.headers(master=True))
    assert r.status_code == 400 and r.json()["code"] == 102


async def test_mongo_pipeline_uses_parse_layout_names_and_max_time_ms() -> None:
    """The native pipeline reads Parse Server's columns (`_p_owner`) and carries maxTimeMS, as Parse sends it."""
    from datetime import UTC, datetime

    from mongomock_motor import AsyncMongoMockClient

    from engine.query.where import Compare
    from engine.schema.model import ClassDef, FieldDef, FieldType
    from engine.storage.aggregate_plan import Accumulator, Group, StorePlan
    from engine.storage.base import StoredObject, freeze
    from engine.storage.mongo import MongoAdapter
    from engine.wire import Pointer

    adapter = MongoAdapter("mongodb://127.0.0.1/agg", client=AsyncMongoMockClient(), max_time_ms=750)
    cls = ClassDef("Tally", {"owner": FieldDef(FieldType.POINTER, "_User"), "score": FieldDef(FieldType.NUMBER)})
    await adapter.save_schema(cls)
    now = datetime.now(UTC)
    for i, (owner, score) in enumerate((("u1", 2), ("u1", 3), ("u2", 9))):
        await adapter.create(cls, StoredObject("Tally", f"o{i}", now, now,
                                               fields=freeze({"owner": Pointer("_User", owner), "score": score})))
    sent: list[tuple[Any, dict[str, Any]]] = []
    real = adapter._collection

    class Spy:
        def __init__(self, coll: Any) -> None:
            self.coll = coll

        def aggregate(self, pipeline: Any, **kw: Any) -> Any:
            sent.append((pipeline, kw))
            return self.coll.aggregate(pipeline, **kw)

    adapter._collection = lambda name: Spy(real(name))  # type: ignore[method-assign]
    plan = StorePlan(Compare(("score",), "gt", 1), Group(((None, "owner"),), (Accumulator("s", "sum", "score"),)),
                     sort=(("s", True),))
    assert await adapter.aggregate(cls, plan) == [{"_id": "_User$u2", "s": 9}, {"_id": "_User$u1", "s": 5}]
    pipeline, kw = sent[0]
    assert kw == {"maxTimeMS": 750}
    assert pipeline[0] == {"$match": {"score": {"$gt": 1}}}
    assert pipeline[1]["$group"]["_id"] == "$_p_owner" and pipeline[1]["$group"]["s"] == {"$sum": "$score"}
    assert await adapter.distinct(cls, plan.where, "owner") == [Pointer("_User", "u1"), Pointer("_User", "u2")]


_KEYS = ("$team", "$score", "$ok", "$owner", "$half", "$name")


def _random_pipeline(rng: random.Random) -> list[dict[str, Any]]:
    """A pipeline the store plan takes (in part or whole): match?, group, sort?, skip?, limit?, count?."""
    roll = rng.random()
    key: Any = None if roll < 0.2 else rng.choice(_KEYS) if roll < 0.7 else {
        n: rng.choice(_KEYS) for n in rng.sample(["a", "b", "c"], rng.randint(1, 3))}
    group: dict[str, Any] = {"_id": key}
    for i in range(rng.randint(0, 4)):
        op = rng.choice(["$sum", "$avg", "$min", "$max", "count"])
        group[f"f{i}"] = {"$sum": 1} if op == "count" else {op: rng.choice(
            ("$score", "$half") if op in ("$sum", "$avg") else ("$score", "$half", "$name", "$team"))}
    pipeline: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        pipeline.append({"$match": rng.choice([{"ok": True}, {"score": {"$gt": 1}}, {"team": {"$in": ["x", "y"]}},
                                               {"team": None}])})
    pipeline.append({"$group": group})
    outputs = ([f"_id.{k}" for k in key] if isinstance(key, dict) else ["_id"]) + [k for k in group if k != "_id"]
    if rng.random() < 0.6:
        pipeline.append({"$sort": {k: rng.choice([1, -1]) for k in outputs}})
    for stage, low in (("$skip", 0), ("$limit", 1)):
        if rng.random() < 0.3:
            pipeline.append({stage: rng.randint(low, 3)})
    if rng.random() < 0.2:
        pipeline.append({"$count": "c"})
    return pipeline


async def test_random_pipelines_answer_as_the_python_stages(app_factory: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Differential: seeded random group pipelines over rows with missing, null, mixed int/float values. On
    SQLite and PostgreSQL even the order of ties matches (groups come in find()'s order); MongoDB orders ties
    as it likes (as it does for Parse Server), so there a paged result is compared by size only."""
    _, api = await app_factory()
    rng = random.Random(20261130)
    owners = []
    for name in ("o1", "o2"):
        owners.append((await api.post("/users", {"username": name, "password": "pw-123456"})).json()["objectId"])
    for _ in range(40):
        body: dict[str, Any] = {"name": rng.choice(["a", "b", "Z", "é", "ab"]), "ok": rng.random() < 0.5,
                                "score": rng.choice([1, 2, 3, -5, 10, 2.5, 0])}
        if rng.random() < 0.8:
            body["team"] = rng.choice(["x", "y", "X", None])
        if rng.random() < 0.6:
            body["half"] = rng.choice([0.5, 1.5, -2.5, 4])
        if rng.random() < 0.7:
            body["owner"] = {"__type": "Pointer", "className": "_User", "objectId": rng.choice(owners)}
        assert (await api.post("/classes/Tally", body, master=True)).status_code == 201
    mongo = os.environ.get("TEST_STORE") == "mongo"
    for _ in range(60):
        pipeline = _random_pipeline(rng)
        params = {"pipeline": pipeline}
        if not mongo:
            pushed = await _agg(api, params)
            with monkeypatch.context() as m:
                m.setattr(aggregate_pipeline, "plan_store_stages", lambda *_a: None)
                python = await _agg(api, params)
            # Unsorted, unpaged groups come in no defined order (the store skips keeping find()'s order).
            ordered = any("$sort" in stage or "$limit" in stage or stage.get("$skip", 0) > 0 for stage in pipeline)
            assert _canonical(pushed, ordered) == _canonical(python, ordered), pipeline
        elif any("$skip" in s or "$limit" in s for s in pipeline):
            pushed = await _agg(api, params)
            with monkeypatch.context() as m:
                m.setattr(aggregate_pipeline, "plan_store_stages", lambda *_a: None)
                assert len(await _agg(api, params)) == len(pushed), pipeline
        else:
            await _both(api, {"pipeline": [s for s in pipeline if "$sort" not in s]}, monkeypatch)
