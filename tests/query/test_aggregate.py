"""The in-memory aggregate pipeline answers like Parse Server on MongoDB, stage by stage, and refuses with 102."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.aggregate import (
    MAX_ITEMS,
    normalize_pipeline,
    run_pipeline,
    split_leading_match,
    to_parse_results,
)
from engine.wire import Bytes, File, GeoPoint


def d(y: int, m: int, day: int, h: int = 0, mi: int = 0, s: int = 0, ms: int = 0) -> datetime:
    return datetime(y, m, day, h, mi, s, ms * 1000, tzinfo=UTC)


def iso(text: str) -> dict[str, str]:
    return {"__type": "Date", "iso": text}


def study(oid: str, created: datetime, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"objectId": oid, "createdAt": created, "updatedAt": created}
    for key, value in fields.items():
        row[key] = value
        if isinstance(value, str) and value.startswith("_User$"):
            row[f"_p_{key}"] = value  # the caller's pointer convention
    return row


ROWS: list[dict[str, Any]] = [
    study("s1", d(2024, 1, 5, 10), kind="psg", score=10, tags=["a", "b"], owner="_User$u1", meta={"room": 1}),
    study("s2", d(2024, 1, 20, 23, 30), kind="psg", score=20.5, tags=[], owner="_User$u2", meta={"room": 2}),
    study("s3", d(2024, 2, 3, 8), kind="hst", score=5, tags=["b"], owner="_User$u1"),
    study("s4", d(2024, 3, 1, 12), kind="hst", tags=None, meta={"room": 1}),
    study("s5", d(2024, 3, 9, 0, 0, 1), kind="mslt", score=None, tags=["c", "a", "c"]),
]


def run(pipeline: Any, rows: list[dict[str, Any]] | None = None, **kw: Any) -> list[dict[str, Any]]:
    return run_pipeline(copy.deepcopy(ROWS) if rows is None else rows, pipeline, **kw)


def ids(docs: list[dict[str, Any]]) -> list[Any]:
    return [doc.get("objectId", doc.get("_id")) for doc in docs]


def refused(pipeline: Any, fragment: str = "", rows: list[dict[str, Any]] | None = None) -> ParseError:
    with pytest.raises(ParseError) as info:
        run(pipeline, rows)
    assert info.value.code == ErrorCode.INVALID_QUERY == 102
    assert fragment in info.value.message
    return info.value


# ---- pipeline forms ----

def test_array_and_object_forms_are_the_same_pipeline() -> None:
    as_array = [{"$match": {"kind": "psg"}}, {"$sort": {"score": -1}}, {"$limit": 1}]
    as_object = {"$match": {"kind": "psg"}, "$sort": {"score": -1}, "$limit": 1}
    assert normalize_pipeline(as_object) == as_array
    assert run(as_array) == run(as_object)
    assert ids(run(as_object)) == ["s2"]


def test_json_text_pipeline_and_empty_pipeline() -> None:
    assert normalize_pipeline('[{"$limit": 2}]') == [{"$limit": 2}]
    assert run([]) == ROWS


def test_where_and_distinct_keys_are_not_stages() -> None:
    # Parse's router skips them when the body itself is the pipeline.
    assert normalize_pipeline({"where": {"a": 1}, "distinct": "x", "$limit": 1}) == [{"$limit": 1}]


@pytest.mark.parametrize(("pipeline", "message"), [
    (5, "pipeline must be an array"),
    ("not json", "not valid JSON"),
    ([["$limit", 1]], "Pipeline stages should be objects."),
    ([{"$limit": 1, "$skip": 1}], "Pipeline stages should only have one key but found $limit, $skip."),
    ([{}], "Pipeline stages should only have one key but found ."),
    ([{"group": {"_id": None}}], "Invalid aggregate stage 'group'."),
    ([{"$group": {"objectId": "$kind"}}], "Cannot use 'objectId' in aggregation stage $group."),
    ([{"$group": {"count": {"$sum": 1}}}], "Invalid parameter for query: group. Missing key _id"),
    ([{"$limit": 1}] * 101, "more than 100 stages"),
])
def test_normalize_refusals_use_parse_messages(pipeline: Any, message: str) -> None:
    with pytest.raises(ParseError) as info:
        normalize_pipeline(pipeline)
    assert info.value.code == 102
    assert info.value.message == message or message in info.value.message


def test_object_id_group_key_is_refused_by_run_too() -> None:
    err = refused([{"$group": {"objectId": "$kind", "n": {"$sum": 1}}}])
    assert err.message == "Cannot use 'objectId' in aggregation stage $group."


# ---- split_leading_match ----

def test_split_leading_match() -> None:
    match, rest = split_leading_match({"$match": {"kind": "psg"}, "$group": {"_id": "$owner"}})
    assert match == {"kind": "psg"}
    assert rest == [{"$group": {"_id": "$owner"}}]
    # The caller fetches the matching rows and runs only the rest.
    rows = [r for r in copy.deepcopy(ROWS) if r["kind"] == "psg"]
    assert run(rest, rows) == run([{"$match": match}, *rest])


def test_split_without_leading_match() -> None:
    assert split_leading_match([{"$sort": {"a": 1}}, {"$match": {"a": 1}}]) == (
        None, [{"$sort": {"a": 1}}, {"$match": {"a": 1}}])
    assert split_leading_match([]) == (None, [])


def test_split_validates_every_stage_before_any_storage_access() -> None:
    with pytest.raises(ParseError) as info:
        split_leading_match([{"$match": {"a": 1}}, {"$lookup": {"from": "_User"}}])
    assert info.value.code == 102


# ---- $match ----

@pytest.mark.parametrize(("where", "expected"), [
    ({}, ["s1", "s2", "s3", "s4", "s5"]),
    ({"kind": "psg"}, ["s1", "s2"]),
    ({"kind": {"$eq": "hst"}}, ["s3", "s4"]),
    ({"kind": {"$ne": "hst"}}, ["s1", "s2", "s5"]),
    ({"score": {"$gt": 5}}, ["s1", "s2"]),
    ({"score": {"$gte": 5, "$lt": 20.5}}, ["s1", "s3"]),
    ({"score": {"$lte": 10}}, ["s1", "s3"]),
    ({"score": {"$gt": "5"}}, []),  # comparisons stay within one type
    ({"score": None}, ["s4", "s5"]),  # null matches null and missing
    ({"score": {"$gte": None}}, ["s4", "s5"]),
    ({"score": {"$lt": None}}, []),
    ({"kind": {"$in": ["psg", "mslt"]}}, ["s1", "s2", "s5"]),
    ({"kind": {"$nin": ["psg", "mslt"]}}, ["s3", "s4"]),
    ({"score": {"$exists": True}}, ["s1", "s2", "s3", "s5"]),
    ({"score": {"$exists": False}}, ["s4"]),
    ({"tags": "b"}, ["s1", "s3"]),  # array contains
    ({"tags": ["b"]}, ["s3"]),  # whole-array equality
    ({"tags": {"$in": ["c"]}}, ["s5"]),
    ({"tags": {"$gt": "b"}}, ["s5"]),
    ({"meta.room": 1}, ["s1", "s4"]),
    ({"meta.room": {"$exists": False}}, ["s3", "s5"]),
    ({"meta": {"room": 2}}, ["s2"]),
    ({"$or": [{"kind": "mslt"}, {"score": 20.5}]}, ["s2", "s5"]),
    ({"$and": [{"kind": "hst"}, {"score": {"$exists": True}}]}, ["s3"]),
    ({"$nor": [{"kind": "psg"}, {"kind": "hst"}]}, ["s5"]),
    ({"$expr": {"$gt": ["$score", 9]}}, ["s1", "s2"]),
])
def test_match_operators(where: dict[str, Any], expected: list[str]) -> None:
    assert ids(run([{"$match": where}])) == expected


def test_match_dates_compare_as_datetimes() -> None:
    feb = iso("2024-02-01T00:00:00.000Z")
    assert ids(run([{"$match": {"createdAt": {"$gte": feb}}}])) == ["s3", "s4", "s5"]
    assert ids(run([{"$match": {"createdAt": {"$lt": feb}}}])) == ["s1", "s2"]
    assert ids(run([{"$match": {"createdAt": iso("2024-03-01T12:00:00.000Z")}}])) == ["s4"]
    # Parse converts plain strings to Dates for Date columns; so do we, document by document.
    assert ids(run([{"$match": {"createdAt": {"$gte": "2024-03-01T00:00:00Z"}}}])) == ["s4", "s5"]
    assert ids(run([{"$match": {"_created_at": {"$lt": feb}}}])) == ["s1", "s2"]


def test_match_object_id_under_both_names() -> None:
    assert ids(run([{"$match": {"objectId": "s2"}}])) == ["s2"]
    assert ids(run([{"$match": {"_id": {"$in": ["s1", "s3"]}}}])) == ["s1", "s3"]


def test_match_pointer_by_bare_id_full_string_or_pointer_json() -> None:
    assert ids(run([{"$match": {"owner": "u1"}}])) == ["s1", "s3"]
    assert ids(run([{"$match": {"owner": "_User$u2"}}])) == ["s2"]
    assert ids(run([{"$match": {"_p_owner": "_User$u2"}}])) == ["s2"]
    pointer = {"__type": "Pointer", "className": "_User", "objectId": "u1"}
    assert ids(run([{"$match": {"owner": pointer}}])) == ["s1", "s3"]
    assert ids(run([{"$match": {"owner": {"$in": ["u2", pointer]}}}])) == ["s1", "s2", "s3"]
    assert ids(run([{"$match": {"owner": {"$exists": False}}}])) == ["s4", "s5"]


@pytest.mark.parametrize(("where", "fragment"), [
    ({"$where": "this.score > 1"}, "$where"),
    ({"score": {"$where": "1"}}, "$where"),
    ({"$text": {"$search": "x"}}, "$text"),
    ({"score": {"$regex": "^1"}}, "$regex"),
    ({"score": {"$gt": 1, "plain": 2}}, "mixes operators"),
    ({"kind": {"$in": "psg"}}, "$in needs an array"),
    ({"$or": []}, "$or must be a nonempty array"),
    ({"$and": [1]}, "$match expects an object"),
    ({"createdAt": iso("yesterday")}, "invalid value"),
    ({"a..b": 1}, "invalid $match field"),
])
def test_match_refusals(where: dict[str, Any], fragment: str) -> None:
    refused([{"$match": where}], fragment)


def test_match_must_be_an_object() -> None:
    refused([{"$match": [1]}], "$match expects an object")


# ---- $group ----

def test_group_every_accumulator() -> None:
    out = run([{"$group": {
        "_id": "$kind",
        "n": {"$sum": 1},
        "total": {"$sum": "$score"},
        "avg": {"$avg": "$score"},
        "low": {"$min": "$score"},
        "high": {"$max": "$score"},
        "first": {"$first": "$objectId"},
        "last": {"$last": "$objectId"},
        "scores": {"$push": "$score"},
        "owners": {"$addToSet": "$owner"},
        "count": {"$count": {}},
    }}])
    by_kind = {doc["_id"]: doc for doc in out}
    assert list(by_kind) == ["psg", "hst", "mslt"]  # groups come out in first-seen order
    assert by_kind["psg"] == {"_id": "psg", "n": 2, "total": 30.5, "avg": 15.25, "low": 10, "high": 20.5,
                              "first": "s1", "last": "s2", "scores": [10, 20.5],
                              "owners": ["_User$u1", "_User$u2"], "count": 2}
    # Missing values: $sum skips them, $avg/$min/$max of nothing is null, $push/$addToSet skip missing.
    assert by_kind["hst"] == {"_id": "hst", "n": 2, "total": 5, "avg": 5.0, "low": 5, "high": 5,
                              "first": "s3", "last": "s4", "scores": [5], "owners": ["_User$u1"], "count": 2}
    assert by_kind["mslt"] == {"_id": "mslt", "n": 1, "total": 0, "avg": None, "low": None, "high": None,
                               "first": "s5", "last": "s5", "scores": [None], "owners": [], "count": 1}


def test_group_null_constant_and_object_keys() -> None:
    assert run([{"$group": {"_id": None, "n": {"$sum": 1}}}]) == [{"_id": None, "n": 5}]
    assert run([{"$group": {"_id": "all", "n": {"$sum": 2}}}]) == [{"_id": "all", "n": 10}]
    out = run([{"$group": {"_id": {"kind": "$kind", "room": "$meta.room"}, "n": {"$sum": 1}}}])
    assert out == [
        {"_id": {"kind": "psg", "room": 1}, "n": 1},
        {"_id": {"kind": "psg", "room": 2}, "n": 1},
        {"_id": {"kind": "hst"}, "n": 1},  # a missing part is left out of the key, as in Mongo
        {"_id": {"kind": "hst", "room": 1}, "n": 1},
        {"_id": {"kind": "mslt"}, "n": 1},
    ]
    # A missing key groups with null.
    assert run([{"$group": {"_id": "$meta.room", "n": {"$sum": 1}}}]) == [
        {"_id": 1, "n": 2}, {"_id": 2, "n": 1}, {"_id": None, "n": 2}]


def test_group_equal_numbers_share_a_group_and_dates_group_by_instant() -> None:
    rows = [{"v": 1}, {"v": 1.0}, {"v": True}, {"v": "1"}]
    assert run([{"$group": {"_id": "$v", "n": {"$sum": 1}}}], rows) == [
        {"_id": 1, "n": 2}, {"_id": True, "n": 1}, {"_id": "1", "n": 1}]
    utc, berlin = d(2024, 1, 1, 12), datetime.fromisoformat("2024-01-01T13:00:00+01:00")
    assert run([{"$group": {"_id": "$t", "n": {"$sum": 1}}}], [{"t": utc}, {"t": berlin}]) == [{"_id": utc, "n": 2}]


def test_group_sum_ignores_non_numbers_and_min_max_use_bson_order() -> None:
    rows = [{"v": 3}, {"v": "text"}, {"v": True}, {"v": [1, 2]}, {"v": 2.5}, {"v": d(2020, 1, 1)}, {"v": None}]
    out = run([{"$group": {"_id": None, "s": {"$sum": "$v"}, "lo": {"$min": "$v"}, "hi": {"$max": "$v"},
                           "set": {"$addToSet": "$v"}}}], rows)
    assert out[0]["s"] == 5.5
    assert out[0]["lo"] == 2.5  # null is ignored by $min
    assert out[0]["hi"] == d(2020, 1, 1)  # dates sort above every other type
    assert len(out[0]["set"]) == 7


def test_group_add_to_set_dedupes_deep_values() -> None:
    rows = [{"v": {"a": [1, 2]}}, {"v": {"a": [1, 2.0]}}, {"v": {"a": [2, 1]}}, {"v": 1}, {"v": 1.0}]
    out = run([{"$group": {"_id": None, "set": {"$addToSet": "$v"}}}], rows)
    assert out == [{"_id": None, "set": [{"a": [1, 2]}, {"a": [2, 1]}, 1]}]


def test_group_empty_input_yields_nothing() -> None:
    assert run([{"$group": {"_id": None, "n": {"$sum": 1}}}], []) == []


def test_group_over_pointer_spellings() -> None:
    for key in ("$owner", "$_p_owner"):
        out = run([{"$group": {"_id": key, "n": {"$sum": 1}}}])
        assert out == [{"_id": "_User$u1", "n": 2}, {"_id": "_User$u2", "n": 1}, {"_id": None, "n": 2}]


@pytest.mark.parametrize(("group", "fragment"), [
    ({"_id": None, "n": 1}, "must be an accumulator object"),
    ({"_id": None, "n": {"$sum": 1, "$avg": 1}}, "must be an accumulator object"),
    ({"_id": None, "n": {"$median": "$score"}}, "Unsupported $group accumulator '$median'"),
    ({"_id": None, "n": {"$accumulator": {}}}, "'$accumulator'"),
    ({"_id": None, "a.b": {"$sum": 1}}, "invalid $group field name"),
    ({"_id": None, "n": {"$sum": ["$a", "$b"]}}, "unary operator"),
    ({"_id": None, "n": {"$count": 1}}, "$count accumulator"),
    ({"_id": {"$function": {"body": "x"}}}, "'$function'"),
    ("kind", "must be specified in an object"),
])
def test_group_refusals(group: Any, fragment: str) -> None:
    refused([{"$group": group}], fragment)


# ---- $project and $addFields ----

def test_project_inclusion_keeps_object_id_by_default() -> None:
    out = run([{"$project": {"kind": 1, "meta.room": True}}, {"$limit": 3}])
    assert out == [{"objectId": "s1", "kind": "psg", "meta": {"room": 1}},
                   {"objectId": "s2", "kind": "psg", "meta": {"room": 2}},
                   {"objectId": "s3", "kind": "hst"}]


def test_project_without_id_and_with_computed_fields() -> None:
    out = run([{"$project": {"_id": 0, "kind": 1, "k": "$kind", "room": "$meta.room", "label": "fixed",
                             "five": {"$literal": 5}, "nested": {"x": "$score"}}}, {"$limit": 4}])
    assert out[0] == {"kind": "psg", "k": "psg", "room": 1, "label": "fixed", "five": 5, "nested": {"x": 10}}
    assert out[3] == {"kind": "hst", "k": "hst", "room": 1, "label": "fixed", "five": 5, "nested": {}}
    assert run([{"$project": {"objectId": 0, "kind": 1}}, {"$limit": 1}]) == [{"kind": "psg"}]


def test_project_exclusion() -> None:
    out = run([{"$project": {"tags": 0, "meta.room": 0, "updatedAt": False, "owner": 0}}, {"$limit": 1}])
    assert out == [{"objectId": "s1", "createdAt": d(2024, 1, 5, 10), "kind": "psg", "score": 10, "meta": {}}]
    assert run([{"$project": {"_id": 0}}, {"$limit": 1}])[0].keys() == ROWS[0].keys() - {"objectId"}


def test_project_computed_id_replaces_the_identity() -> None:
    assert run([{"$project": {"_id": "$kind"}}, {"$limit": 1}]) == [{"_id": "psg"}]
    assert run([{"$project": {"objectId": "$kind", "score": 1}}, {"$limit": 1}]) == [{"_id": "psg", "score": 10}]


def test_project_pointer_keeps_both_spellings_so_parse_can_render_it() -> None:
    out = run([{"$project": {"owner": 1}}, {"$limit": 1}])
    assert out == [{"objectId": "s1", "owner": "_User$u1", "_p_owner": "_User$u1"}]
    assert to_parse_results(out)[0]["owner"] == {"__type": "Pointer", "className": "_User", "objectId": "u1"}


def test_project_over_arrays_of_documents() -> None:
    rows = [{"objectId": "x", "items": [{"a": 1, "b": 2}, {"b": 3}, 7]}]
    assert run([{"$project": {"items.a": 1}}], rows) == [{"objectId": "x", "items": [{"a": 1}, {}]}]
    assert run([{"$project": {"items.b": 0}}], rows) == [{"objectId": "x", "items": [{"a": 1}, {}, 7]}]


@pytest.mark.parametrize(("spec", "fragment"), [
    ({}, "at least one field"),
    ([], "at least one field"),
    ({"kind": 1, "score": 0}, "Cannot do exclusion on field score in inclusion projection"),
    ({"kind": 0, "k": "$kind"}, "Cannot do inclusion on field k in exclusion projection"),
    ({"kind": 0, "_id": "$kind"}, "computed _id in exclusion"),
    ({"meta": 1, "meta.room": 1}, "Path collision"),
    ({"meta": {}}, "empty sub-projection"),
    ({"$kind": 1}, "invalid $project field"),
    ({"k": {"$toLower": "$kind", "$toUpper": "$kind"}}, "exactly one operator"),
])
def test_project_refusals(spec: Any, fragment: str) -> None:
    refused([{"$project": spec}], fragment)


def test_add_fields() -> None:
    out = run([{"$addFields": {"month": {"$month": "$createdAt"}, "meta.seen": True, "score": "$nothing"}},
               {"$limit": 2}])
    assert out[0]["month"] == 1 and out[0]["meta"] == {"room": 1, "seen": True}
    assert "score" not in out[0]  # a missing value removes the field, as in Mongo
    assert run([{"$set": {"x": 1}}, {"$limit": 1}])[0]["x"] == 1


# ---- $sort, $limit, $skip, $count ----

def test_sort_multi_key_and_direction() -> None:
    assert ids(run([{"$sort": {"kind": 1, "score": -1}}])) == ["s3", "s4", "s5", "s2", "s1"]
    assert ids(run([{"$sort": {"createdAt": -1}}])) == ["s5", "s4", "s3", "s2", "s1"]
    assert ids(run([{"$sort": {"objectId": -1}}, {"$limit": 2}])) == ["s5", "s4"]


def test_sort_mixed_types_follow_bson_order() -> None:
    values = [d(2020, 1, 1), True, [1], {"a": 1}, "b", "a", 2.5, 1, None]
    rows = [{"objectId": str(i), "v": v} for i, v in enumerate(values)]
    rows.append({"objectId": "missing"})
    out = [r.get("v", "<missing>") for r in run([{"$sort": {"v": 1}}], rows)]
    assert out == [None, "<missing>", 1, 2.5, "a", "b", {"a": 1}, [1], True, d(2020, 1, 1)]
    out = [r.get("v", "<missing>") for r in run([{"$sort": {"v": -1}}], rows)]
    assert out == [d(2020, 1, 1), True, [1], {"a": 1}, "b", "a", 2.5, 1, None, "<missing>"]  # stable ties


def test_sort_after_group_by_id() -> None:
    out = run([{"$group": {"_id": "$kind", "n": {"$sum": 1}}}, {"$sort": {"n": -1, "_id": 1}}])
    assert out == [{"_id": "hst", "n": 2}, {"_id": "psg", "n": 2}, {"_id": "mslt", "n": 1}]


def test_limit_skip_count() -> None:
    assert ids(run([{"$skip": 1}, {"$limit": 2}])) == ["s2", "s3"]
    assert ids(run([{"$limit": 2.0}])) == ["s1", "s2"]
    assert run([{"$skip": 10}]) == []
    assert run([{"$skip": 0}, {"$limit": 10**12}]) == run([])
    assert run([{"$match": {"kind": "hst"}}, {"$count": "studies"}]) == [{"studies": 2}]
    assert run([{"$match": {"kind": "nope"}}, {"$count": "studies"}]) == []  # Mongo emits no document


@pytest.mark.parametrize("stage", [
    {"$limit": 0}, {"$limit": -1}, {"$limit": 1.5}, {"$limit": "3"}, {"$limit": True}, {"$limit": None},
    {"$limit": float("nan")}, {"$skip": -1}, {"$skip": "1"}, {"$skip": False},
    {"$count": ""}, {"$count": "$n"}, {"$count": "a.b"}, {"$count": 1},
    {"$sort": {}}, {"$sort": {"a": 2}}, {"$sort": {"a": "asc"}}, {"$sort": {"a": True}},
    {"$sort": {"score": {"$meta": "textScore"}}}, {"$sort": 1},
])
def test_bad_limit_skip_count_sort(stage: dict[str, Any]) -> None:
    refused([stage])


# ---- $unwind ----

def test_unwind_string_form() -> None:
    out = run([{"$unwind": "$tags"}, {"$project": {"tags": 1}}])
    assert out == [{"objectId": "s1", "tags": "a"}, {"objectId": "s1", "tags": "b"}, {"objectId": "s3", "tags": "b"},
                   {"objectId": "s5", "tags": "c"}, {"objectId": "s5", "tags": "a"}, {"objectId": "s5", "tags": "c"}]


def test_unwind_options() -> None:
    out = run([{"$unwind": {"path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": True}},
               {"$project": {"tags": 1, "i": 1}}])
    assert out == [
        {"objectId": "s1", "tags": "a", "i": 0}, {"objectId": "s1", "tags": "b", "i": 1},
        {"objectId": "s2", "i": None},  # an empty array is dropped from the preserved document
        {"objectId": "s3", "tags": "b", "i": 0},
        {"objectId": "s4", "tags": None, "i": None},
        {"objectId": "s5", "tags": "c", "i": 0}, {"objectId": "s5", "tags": "a", "i": 1},
        {"objectId": "s5", "tags": "c", "i": 2},
    ]


def test_unwind_scalars_nested_paths_and_tag_counts() -> None:
    rows = [{"objectId": "x", "v": 5, "m": {"list": [1, 2]}}, {"objectId": "y"}]
    assert run([{"$unwind": "$v"}], rows) == [rows[0]]
    assert run([{"$unwind": "$m.list"}], rows) == [
        {"objectId": "x", "v": 5, "m": {"list": 1}}, {"objectId": "x", "v": 5, "m": {"list": 2}}]
    assert rows[0]["m"] == {"list": [1, 2]}  # input rows are never mutated
    out = run([{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}, {"$sort": {"n": -1, "_id": 1}}])
    assert out == [{"_id": "a", "n": 2}, {"_id": "b", "n": 2}, {"_id": "c", "n": 2}]


@pytest.mark.parametrize("spec", [
    "tags", "$", "$$ROOT", 5, {"includeArrayIndex": "i"}, {"path": "$tags", "extra": 1},
    {"path": "$tags", "includeArrayIndex": "$i"}, {"path": "$tags", "preserveNullAndEmptyArrays": "yes"},
])
def test_unwind_refusals(spec: Any) -> None:
    refused([{"$unwind": spec}])


# ---- expressions ----

def expr(expression: Any, doc: dict[str, Any] | None = None) -> Any:
    rows = [doc if doc is not None else {"objectId": "x"}]
    return run([{"$project": {"_id": 0, "v": expression}}], rows)[0].get("v", "<missing>")


T = d(2024, 3, 9, 23, 45, 30, 250)  # a Saturday


@pytest.mark.parametrize(("expression", "expected"), [
    ({"$add": [1, 2, 3.5]}, 6.5),
    ({"$add": ["$n", 1]}, 11),
    ({"$add": ["$t", 1000]}, d(2024, 3, 9, 23, 45, 31, 250)),
    ({"$add": ["$n", None]}, None),
    ({"$add": ["$n", "$nothing"]}, None),
    ({"$subtract": ["$n", 4]}, 6),
    ({"$subtract": ["$t", d(2024, 3, 9, 23, 45, 30)]}, 250),
    ({"$subtract": ["$t", 250]}, d(2024, 3, 9, 23, 45, 30)),
    ({"$multiply": ["$n", 2, 1.5]}, 30.0),
    ({"$divide": ["$n", 4]}, 2.5),
    ({"$concat": ["$s", "-", "x"]}, "Ab-x"),
    ({"$concat": ["$s", "$nothing"]}, None),
    ({"$toLower": "$s"}, "ab"),
    ({"$toUpper": ["$s"]}, "AB"),
    ({"$toLower": "$nothing"}, ""),
    ({"$toUpper": "$n"}, "10"),
    ({"$year": "$t"}, 2024),
    ({"$month": "$t"}, 3),
    ({"$dayOfMonth": "$t"}, 9),
    ({"$hour": "$t"}, 23),
    ({"$minute": "$t"}, 45),
    ({"$second": "$t"}, 30),
    ({"$millisecond": "$t"}, 250),
    ({"$dayOfWeek": "$t"}, 7),
    ({"$dayOfWeek": d(2024, 3, 10)}, 1),
    ({"$dayOfYear": "$t"}, 69),
    ({"$month": {"date": "$t", "timezone": "Europe/Berlin"}}, 3),
    ({"$dayOfMonth": {"date": "$t", "timezone": "Europe/Berlin"}}, 10),
    ({"$hour": {"date": "$t", "timezone": "-05:00"}}, 18),
    ({"$hour": {"date": "$t", "timezone": "+0530"}}, 5),
    ({"$year": "$nothing"}, None),
    ({"$dateToString": {"format": "%Y-%m", "date": "$t"}}, "2024-03"),
    ({"$dateToString": {"date": "$t"}}, "2024-03-09T23:45:30.250Z"),
    ({"$dateToString": {"format": "%d/%m %H:%M:%S.%L %j %w %u %%", "date": "$t"}}, "09/03 23:45:30.250 069 7 6 %"),
    ({"$dateToString": {"format": "%Y-%m-%d %z", "date": "$t", "timezone": "America/New_York"}},
     "2024-03-09 -0500"),
    ({"$dateToString": {"date": "$nothing", "onNull": "none"}}, "none"),
    ({"$cond": [{"$gte": ["$n", 10]}, "big", "small"]}, "big"),
    ({"$cond": {"if": {"$lt": ["$n", 10]}, "then": "big", "else": "small"}}, "small"),
    ({"$ifNull": ["$nothing", None, "fallback"]}, "fallback"),
    ({"$ifNull": ["$s", "fallback"]}, "Ab"),
    ({"$eq": ["$n", 10.0]}, True),
    ({"$ne": ["$n", "10"]}, True),
    ({"$gt": ["$s", 10]}, True),  # strings sort above numbers
    ({"$and": [True, {"$gt": ["$n", 1]}]}, True),
    ({"$and": [False, {"$divide": [1, 0]}]}, False),  # short-circuits like Mongo
    ({"$or": [0, None, "$nothing"]}, False),
    ({"$not": [""]}, False),
    ({"$literal": "$n"}, "$n"),
    ({"$toString": "$n"}, "10"),
    ("$$ROOT.s", "Ab"),
    ("$list.k", [1, 3]),
    (["$n", "$nothing"], [10, None]),
    ({"when": iso("2024-01-01T00:00:00.000Z")}, {"when": d(2024, 1, 1)}),
    ("$nothing", "<missing>"),
])
def test_expressions(expression: Any, expected: Any) -> None:
    doc = {"objectId": "x", "n": 10, "s": "Ab", "t": T, "list": [{"k": 1}, {"j": 2}, {"k": 3}]}
    assert expr(expression, doc) == expected


def test_integers_leaving_int64_widen_to_doubles_as_in_mongo() -> None:
    assert expr({"$multiply": [2**62, 4]}) == float(2**64)
    assert expr({"$add": [2**63 - 1, 1]}) == float(2**63)
    assert expr({"$subtract": [-(2**63), 1]}) == -float(2**63)
    rows = [{"v": 2**62}, {"v": 2**62}]
    assert run([{"$group": {"_id": None, "s": {"$sum": "$v"}, "a": {"$avg": "$v"}}}], rows) == [
        {"_id": None, "s": float(2**63), "a": float(2**62)}]


def test_root_variable_pushes_whole_documents() -> None:
    out = run([{"$match": {"kind": "hst"}}, {"$group": {"_id": "$kind", "docs": {"$push": "$$ROOT"}}}])
    assert [doc["objectId"] for doc in out[0]["docs"]] == ["s3", "s4"]


def test_studies_per_month_report() -> None:
    out = run([
        {"$group": {"_id": {"year": {"$year": "$createdAt"}, "month": {"$month": "$createdAt"}},
                    "studies": {"$sum": 1}, "avgScore": {"$avg": "$score"}}},
        {"$sort": {"_id.year": 1, "_id.month": 1}},
    ])
    assert out == [
        {"_id": {"year": 2024, "month": 1}, "studies": 2, "avgScore": 15.25},
        {"_id": {"year": 2024, "month": 2}, "studies": 1, "avgScore": 5.0},
        {"_id": {"year": 2024, "month": 3}, "studies": 2, "avgScore": None},
    ]


@pytest.mark.parametrize(("expression", "fragment"), [
    ({"$function": {"body": "function() {}", "args": [], "lang": "js"}}, "'$function'"),
    ({"$where": "1"}, "'$where'"),
    ({"$sqrt": 4}, "'$sqrt'"),
    ({"$add": ["$s", 1]}, "$add only supports numeric or date types, not string"),
    ({"$add": ["$t", "$t"]}, "only one date"),
    ({"$subtract": [1, "$t"]}, "can't $subtract a date"),
    ({"$subtract": [1]}, "exactly 2"),
    ({"$divide": ["$n", 0]}, "can't $divide by zero"),
    ({"$concat": ["$s", 1]}, "$concat only supports strings"),
    ({"$year": "$s"}, "$year requires a date"),
    ({"$year": {"date": "$t", "timezone": "Mars/Olympus"}}, "unrecognized time zone"),
    ({"$year": {"date": "$t", "timezone": "../../etc/passwd"}}, "unrecognized time zone"),
    ({"$year": {"date": "$t", "zone": "UTC"}}, "unrecognized option"),
    ({"$dateToString": {"format": "%Q", "date": "$t"}}, "invalid format character"),
    ({"$dateToString": {"format": "100%", "date": "$t"}}, "invalid format character"),
    ({"$dateToString": "$t"}, "needs an object"),
    ({"$cond": [1, 2]}, "exactly 3"),
    ({"$cond": {"if": 1, "then": 2}}, "'if', 'then' and 'else'"),
    ("$$NOW", "unsupported aggregation variable"),
    ("$a..b", "invalid field path"),
    ({"a.b": 1, "$x": 2}, "exactly one operator"),
    ({"when": {"__type": "Nope"}}, "invalid value"),
])
def test_expression_refusals(expression: Any, fragment: str) -> None:
    doc = {"objectId": "x", "n": 10, "s": "Ab", "t": T}
    refused([{"$project": {"v": expression}}], fragment, [doc])


def test_deeply_nested_expression_is_refused() -> None:
    nested: Any = "$n"
    for _ in range(100):
        nested = {"$add": [nested, 1]}
    refused([{"$project": {"v": nested}}], "nested too deeply", [{"n": 1}])
    deep_match: Any = {"n": 1}
    for _ in range(100):
        deep_match = {"$and": [deep_match]}
    refused([{"$match": deep_match}], "nested too deeply", [{"n": 1}])


# ---- refused stages ----

@pytest.mark.parametrize(("stage", "fragment"), [
    ({"$lookup": {"from": "_User", "localField": "owner", "foreignField": "_id", "as": "u"}},
     "Aggregation stage '$lookup' is not allowed"),
    ({"$graphLookup": {}}, "'$graphLookup' is not allowed"),
    ({"$unionWith": "_Session"}, "'$unionWith' is not allowed"),
    ({"$out": "Copy"}, "Aggregation stage '$out' is not allowed: it writes."),
    ({"$merge": {"into": "Copy"}}, "'$merge' is not allowed"),
    ({"$where": "1"}, "Unsupported aggregation stage '$where'."),
    ({"$function": {}}, "Unsupported aggregation stage '$function'."),
    ({"$facet": {}}, "Unsupported aggregation stage '$facet'."),
    ({"$bogus": 1}, "Unsupported aggregation stage '$bogus'."),
])
def test_unknown_and_dangerous_stages_are_refused(stage: dict[str, Any], fragment: str) -> None:
    refused([stage], fragment)
    refused([stage], fragment, [])  # refused even when there is nothing to aggregate


@pytest.mark.parametrize("pipeline", [
    [{"$match": None}], [{"$group": None}], [{"$group": []}], [{"$project": None}], [{"$unwind": None}],
    [{"$addFields": []}], [{"$group": {"_id": {"$add": {"x": 1}}}}], [{"$project": {"v": {"$month": []}}}],
    [{"$match": {"n": {"$in": [{"__type": "Pointer"}]}}}], [{"$sort": {"": 1}}], [{"$project": {"": 1}}],
    [{"$match": {"$and": None}}], [{"$group": {"_id": None, "": {"$sum": 1}}}],
])
def test_malformed_stages_only_raise_parse_error_102(pipeline: list[Any]) -> None:
    refused(pipeline, rows=[{"n": 1}])


# ---- caps ----

def test_unwind_output_is_capped() -> None:
    rows = [{"objectId": str(i), "v": list(range(10))} for i in range(3)]
    assert len(run([{"$unwind": "$v"}], rows, max_items=30)) == 30
    with pytest.raises(ParseError) as info:
        run([{"$unwind": "$v"}, {"$unwind": "$v"}], rows, max_items=29)
    assert info.value.code == 102 and "$unwind would produce more than 29" in info.value.message


def test_push_and_add_to_set_are_capped() -> None:
    rows = [{"v": i % 3} for i in range(50)]
    assert len(run([{"$group": {"_id": None, "all": {"$push": "$v"}}}], rows, max_items=50)[0]["all"]) == 50
    for acc in ("$push", "$addToSet"):
        with pytest.raises(ParseError) as info:
            run([{"$group": {"_id": "$v", "all": {acc: "$v"}}}], rows, max_items=49)
        assert info.value.code == 102 and "more than 49 items" in info.value.message


def test_default_cap_is_one_hundred_thousand() -> None:
    assert MAX_ITEMS == 100_000
    rows = [{"v": list(range(1000))} for _ in range(101)]
    with pytest.raises(ParseError):
        run([{"$unwind": "$v"}], rows)


# ---- Parse rendering ----

def test_to_parse_results_renames_id_and_encodes_dates() -> None:
    docs = run([{"$group": {"_id": "$kind", "last": {"$max": "$createdAt"}, "createdAt": {"$min": "$createdAt"},
                            "all": {"$push": {"at": "$createdAt"}}}}, {"$limit": 1}])
    assert to_parse_results(docs) == [{
        "objectId": "psg",
        "last": {"__type": "Date", "iso": "2024-01-20T23:30:00.000Z"},
        "createdAt": "2024-01-05T10:00:00.000Z",  # Parse renders createdAt/updatedAt as ISO strings
        "all": [{"at": {"__type": "Date", "iso": "2024-01-05T10:00:00.000Z"}},
                {"at": {"__type": "Date", "iso": "2024-01-20T23:30:00.000Z"}}],
    }]


@pytest.mark.parametrize(("key", "rendered"), [
    (None, None), ("", None), ({}, None), ([], None), (0, 0), (False, False), ("x", "x"), ([1], [1]),
    ({"y": 2024}, {"y": 2024}), (d(2024, 1, 1), {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}),
])
def test_to_parse_results_group_key_values(key: Any, rendered: Any) -> None:
    assert to_parse_results([{"_id": key, "n": 1}]) == [{"objectId": rendered, "n": 1}]


def test_to_parse_results_pointer_group_keys_are_cut_to_the_object_id() -> None:
    pipeline = [{"$group": {"_id": "$_p_owner", "n": {"$sum": 1}}}]
    docs = run(pipeline)
    assert to_parse_results(docs, pipeline) == [
        {"objectId": "u1", "n": 2}, {"objectId": "u2", "n": 1}, {"objectId": None, "n": 2}]
    pipeline = [{"$group": {"_id": "$owner", "n": {"$sum": 1}}}]
    assert to_parse_results(run(pipeline), pipeline)[0] == {"objectId": "_User$u1", "n": 2}
    assert to_parse_results(run(pipeline), pipeline, pointer_fields={"owner"})[0] == {"objectId": "u1", "n": 2}


def test_to_parse_results_passes_rows_through_like_parse() -> None:
    out = to_parse_results(run([{"$match": {"objectId": "s1"}}]))
    assert out == [{
        "objectId": "s1", "createdAt": "2024-01-05T10:00:00.000Z", "updatedAt": "2024-01-05T10:00:00.000Z",
        "kind": "psg", "score": 10, "tags": ["a", "b"],
        "owner": {"__type": "Pointer", "className": "_User", "objectId": "u1"}, "meta": {"room": 1},
    }]
    # A pointer computed under another name is a plain string unless the caller names it as a pointer.
    docs = run([{"$project": {"_id": 0, "who": "$owner"}}, {"$limit": 1}])
    assert to_parse_results(docs) == [{"who": "_User$u1"}]
    assert to_parse_results(docs, pointer_fields=["who"]) == [
        {"who": {"__type": "Pointer", "className": "_User", "objectId": "u1"}}]
    assert to_parse_results([{"_p_gone": None, "x": 1}]) == [{"x": 1}]
    assert to_parse_results([{"objectId": "a", "_id": "b"}]) == [{"objectId": "b"}]


def test_parse_typed_values_group_sort_and_render() -> None:
    rows = [{"objectId": "a", "at": GeoPoint(1, 2), "scan": File("x.edf"), "raw": Bytes(b"hi")},
            {"objectId": "b", "at": GeoPoint(1, 2), "scan": File("y.edf")},
            {"objectId": "c", "at": GeoPoint(3, 4)}]
    point = {"__type": "GeoPoint", "latitude": 1, "longitude": 2}
    pipeline = [{"$match": {"at": point}},
                {"$group": {"_id": "$at", "scans": {"$addToSet": "$scan"}, "raw": {"$push": "$raw"}}}]
    out = to_parse_results(run(pipeline, rows), file_url=lambda name: f"https://files/{name}")
    assert out == [{"objectId": point,
                    "scans": [{"__type": "File", "name": "x.edf", "url": "https://files/x.edf"},
                              {"__type": "File", "name": "y.edf", "url": "https://files/y.edf"}],
                    "raw": [{"__type": "Bytes", "base64": "aGk="}]}]
    assert ids(run([{"$sort": {"scan": -1}}], rows)) == ["b", "a", "c"]


def test_input_rows_are_not_mutated() -> None:
    rows = copy.deepcopy(ROWS)
    pipeline = [{"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": True, "includeArrayIndex": "meta.i"}},
                {"$addFields": {"meta.x": 1}}, {"$project": {"meta.room": 0}}, {"$sort": {"score": 1}},
                {"$group": {"_id": "$kind", "docs": {"$push": "$$ROOT"}}}]
    run_pipeline(rows, pipeline)
    assert rows == ROWS
