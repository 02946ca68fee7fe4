"""Generated `where` trees and query options against find, count, get, aggregate and LiveQuery-free reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from tests.fuzz.checks import assert_parse_answer
from tests.fuzz.harness import Harness
from tests.fuzz.strategies import SCHEMA_CLASSES, VALID_STUDY, options, wheres

CLASSES = st.sampled_from(SCHEMA_CLASSES + ("_User", "_Session", "_Role", "_Installation", "NoSuchClass"))


@pytest.fixture(scope="module", autouse=True)
def _seed(traced: Harness) -> None:
    # A few rows so matchers, sorts and regexes have data to walk.
    for i in range(3):
        a = traced.request("POST", "/classes/SleepStudy", {**VALID_STUDY, "results": "a" * 30 + str(i),
                                                            "attachments": [{"x": i}]}, master=True)
        assert a.status == 201, a.text


def _encode(where: Any) -> str:
    return json.dumps(where, allow_nan=True)


@given(cls=CLASSES, where=wheres, opts=options, master=st.booleans())
def test_find_answers_parse_json(traced: Harness, cls: str, where: Any, opts: dict[str, str], master: bool) -> None:
    params = {"where": _encode(where), **opts}
    assert_parse_answer(traced.request("GET", f"/classes/{cls}", params=params, master=master))


@given(cls=CLASSES, where=wheres, opts=options)
def test_count_and_method_override(traced: Harness, cls: str, where: Any, opts: dict[str, str]) -> None:
    # The JS SDK queries with POST + `_method: GET` and the options in the body, with their JSON types.
    body: dict[str, Any] = {"_method": "GET", "where": where, "count": 1, "limit": 0, **opts}
    assert_parse_answer(traced.request("POST", f"/classes/{cls}", body, master=True))


@given(oid=st.text(max_size=30) | st.sampled_from(("a" * 5000, "%00", "..", "p000000001")), opts=options)
def test_get_by_odd_id(traced: Harness, oid: str, opts: dict[str, str]) -> None:
    assert_parse_answer(traced.request("GET", "/classes/SleepStudy/" + oid.replace("/", "_").replace("?", "_")
                                       .replace("#", "_"), params=opts, master=True))


STAGES = ("$match", "$group", "$project", "$sort", "$limit", "$skip", "$unwind", "$count", "$addFields", "$lookup",
          "$out", "$merge", "$graphLookup", "$unionWith", "$where", "$bogus")


@given(pipeline=st.lists(st.dictionaries(st.sampled_from(STAGES), wheres | st.integers() | st.text(max_size=10),
                                         min_size=1, max_size=1), max_size=4),
       distinct=st.none() | st.sampled_from(("results", "patient.objectId", "", "$x", "a.b.c.d")))
def test_aggregate(traced: Harness, pipeline: list[Any], distinct: str | None) -> None:
    params = {"pipeline": json.dumps(pipeline, allow_nan=True)}
    if distinct is not None:
        params = {"distinct": distinct, "where": "{}"}
    assert_parse_answer(traced.request("GET", "/aggregate/SleepStudy", params=params, master=True))
