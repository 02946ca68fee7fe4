"""Parse compatibility: GET /aggregate in every form Parse's AggregateRouter accepts (issue 14, item 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api


@pytest.fixture
async def scored(app_factory: Any) -> Api:
    _, api = await app_factory()
    for name, score, team, tags in (("a", 10, "x", ["p", "q"]), ("b", 20, "x", ["q"]), ("c", 40, "y", [])):
        r = await api.post("/classes/Score", {"name": name, "score": score, "team": team, "tags": tags}, master=True)
        assert r.status_code == 201, r.text
    return api


async def _agg(api: Api, query: str) -> Any:
    r = await api.client.get(f"/parse/aggregate/Score?{query}", headers=api.headers(master=True))
    assert r.status_code == 200, r.text
    return r.json()["results"]


def q(value: Any) -> str:
    from urllib.parse import quote

    return quote(json.dumps(value))


async def test_stages_as_parameters_with_and_without_dollar(scored: Api) -> None:
    group = {"_id": "$team", "total": {"$sum": "$score"}}
    for name in ("$group", "group"):
        got = await _agg(scored, f"{name}={q(group)}&$sort={q({'total': 1})}")
        assert got == [{"objectId": "x", "total": 30}, {"objectId": "y", "total": 40}], name


async def test_match_project_sort_limit_skip_unwind_count_parameters(scored: Api) -> None:
    got = await _agg(scored, f"$match={q({'score': {'$gte': 20}})}&$project={q({'name': 1})}"
                             f"&$sort={q({'name': -1})}&$skip=0&$limit=1")
    assert [r["name"] for r in got] == ["c"]
    got = await _agg(scored, "$unwind=$tags&$count=n")
    assert got == [{"n": 3}]


async def test_pipeline_parameter_and_distinct_given_as_json(scored: Api) -> None:
    got = await _agg(scored, f"pipeline={q([{'$match': {'team': 'y'}}, {'$project': {'score': 1}}])}")
    assert [r["score"] for r in got] == [40]
    assert sorted(await _agg(scored, f"distinct={q('team')}")) == ["x", "y"]
    assert sorted(await _agg(scored, "distinct=team")) == ["x", "y"]
    got = await _agg(scored, f"distinct=score&where={q({'team': 'x'})}")
    assert sorted(got) == [10, 20]


async def test_hint_and_explain_ride_along_and_bad_stages_are_102(scored: Api) -> None:
    got = await _agg(scored, f"$match={q({'team': 'x'})}&hint={q({'team': 1})}")
    assert len(got) == 2
    r = await scored.client.get(f"/parse/aggregate/Score?bogus={q({'a': 1})}", headers=scored.headers(master=True))
    assert r.status_code == 400 and r.json() == {"code": 102, "error": "Invalid aggregate stage 'bogus'."}


async def test_a_class_that_does_not_exist_aggregates_to_nothing(scored: Api) -> None:
    r = await scored.client.get(f"/parse/aggregate/NoSuchClass?$group={q({'_id': None})}",
                                headers=scored.headers(master=True))
    assert r.status_code == 200 and r.json() == {"results": []}
    r = await scored.client.get("/parse/aggregate/NoSuchClass?distinct=x", headers=scored.headers(master=True))
    assert r.json() == {"results": []}
