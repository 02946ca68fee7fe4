"""Which stages a store takes (engine/storage/aggregate_plan.py): exactly those whose store answer is the Python
stages' answer, in the order a store applies them, stopping at the first one it cannot take."""

from __future__ import annotations

from typing import Any

from engine.query.where import MATCH_ALL
from engine.schema.model import ClassDef, FieldDef, FieldType
from engine.storage.aggregate_plan import Accumulator, plan_store_stages

CLS = ClassDef("Tally", {
    "team": FieldDef(FieldType.STRING), "score": FieldDef(FieldType.NUMBER), "ok": FieldDef(FieldType.BOOLEAN),
    "owner": FieldDef(FieldType.POINTER, "_User"), "when": FieldDef(FieldType.DATE),
    "tags": FieldDef(FieldType.ARRAY), "meta": FieldDef(FieldType.OBJECT),
})
GROUP = {"$group": {"_id": "$team", "n": {"$sum": 1}, "s": {"$sum": "$score"}}}


def plan(*stages: dict[str, Any]) -> Any:
    return plan_store_stages(CLS, MATCH_ALL, list(stages))


def test_group_sort_skip_limit_count_are_taken_in_order() -> None:
    got = plan(GROUP, {"$sort": {"s": -1, "_id": 1}}, {"$skip": 2}, {"$limit": 3}, {"$count": "c"}, {"$limit": 1})
    assert got is not None and got.consumed == 5
    assert got.group.keys == ((None, "team"),)
    assert got.group.accumulators == (Accumulator("n", "count", None), Accumulator("s", "sum", "score"))
    assert (got.sort, got.skip, got.limit, got.count) == ((("s", True), ("_id", False)), 2, 3, "c")


def test_the_plan_stops_at_the_first_stage_out_of_order_or_shape() -> None:
    assert plan(GROUP, {"$limit": 3}, {"$skip": 1}).consumed == 2  # $skip after $limit: Python
    assert plan(GROUP, {"$sort": {"missing": 1}}).consumed == 1  # not an output field: Python's stable sort
    assert plan(GROUP, {"$project": {"n": 1}}, {"$sort": {"n": 1}}).consumed == 1
    assert plan(GROUP, {"$sort": {"n": 1}}, {"$sort": {"s": 1}}).consumed == 2


def test_group_keys_and_accumulators_only_of_types_a_store_answers_alike() -> None:
    assert plan({"$group": {"_id": {"t": "$team", "o": "$owner", "b": "$ok"}, "m": {"$max": "$team"}}}) is not None
    assert plan({"$group": {"_id": None, "a": {"$avg": "$score"}, "lo": {"$min": "$score"}}}) is not None
    for spec in (
        {"_id": "$when"},  # dates: Python keeps datetimes
        {"_id": "$tags"},  # arrays group by whole value
        {"_id": "$meta"},
        {"_id": "$undeclared"},
        {"_id": "$team.x"},
        {"_id": "$objectId"},
        {"_id": {}},
        {"_id": {"$toUpper": "$team"}},
        {"_id": "$team", "x": {"$sum": "$team"}},  # a sum of strings
        {"_id": "$team", "x": {"$sum": 2}},
        {"_id": "$team", "x": {"$push": "$score"}},
        {"_id": "$team", "x": {"$min": "$ok"}},
        {"_id": "$team", "x": {"$first": "$score"}},
    ):
        assert plan({"$group": spec}) is None, spec


def test_without_a_group_only_a_count_is_taken() -> None:
    got = plan({"$count": "n"})
    assert got is not None and got.group is None and got.count == "n" and got.consumed == 1
    assert plan({"$sort": {"score": 1}}, {"$count": "n"}) is None
    assert plan({"$limit": 2}) is None
    assert plan() is None


def test_a_raw_row_window_needs_a_limit_and_sortable_keys() -> None:
    from engine.query.options import SortKey
    from engine.storage.aggregate_plan import rows_window

    opts, taken = rows_window(CLS, [{"$sort": {"score": -1, "createdAt": 1}}, {"$skip": 3}, {"$limit": 2},
                                    {"$project": {"team": 1}}])
    assert taken == 3 and (opts.limit, opts.skip) == (2, 3)
    assert opts.order == (SortKey(("score",), True), SortKey(("createdAt",), False))
    assert rows_window(CLS, [{"$limit": 5}])[0].limit == 5
    assert rows_window(CLS, [{"$sort": {"score": 1}}]) is None  # unbounded: nothing saved
    assert rows_window(CLS, [{"$sort": {"owner": 1}}, {"$limit": 1}]) is None  # a pointer sorts as text in Python
    assert rows_window(CLS, [{"$sort": {"_p_owner": 1}}, {"$limit": 1}]) is None
    assert rows_window(CLS, [{"$limit": 2}, {"$skip": 1}]) is not None  # $limit alone; the $skip stays in Python


def test_a_group_wider_than_a_statement_should_carry_runs_in_python() -> None:
    from engine.storage.aggregate_plan import MAX_GROUP_TERMS

    wide = {f"s{i}": {"$sum": "$score"} for i in range(MAX_GROUP_TERMS)}
    assert plan({"$group": {"_id": "$team", **wide}}) is None
    assert plan({"$group": {"_id": None, **wide}}) is not None


def test_a_skip_or_limit_past_what_stores_bind_stays_in_python() -> None:
    from engine.storage.aggregate_plan import rows_window

    huge = 10**30
    assert rows_window(CLS, [{"$limit": huge}]) is None
    assert rows_window(CLS, [{"$skip": huge}, {"$limit": 1}]) is None
    assert plan(GROUP, {"$limit": huge}).consumed == 1
    assert plan(GROUP, {"$skip": float(huge)}).consumed == 1
