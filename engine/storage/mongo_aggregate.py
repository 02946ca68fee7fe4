"""A StorePlan (engine.storage.aggregate_plan) as a native MongoDB pipeline over Parse Server's layout.

Field references are renamed as Parse's MongoStorageAdapter renames them (a pointer `$owner` reads `$_p_owner`,
which holds "Class$id", the group key form the Python stages use too); the where is the same filter find() sends.
"""

from __future__ import annotations

from typing import Any

from engine.query.where import Where
from engine.schema.model import ClassDef, FieldType
from engine.storage.aggregate_plan import StorePlan
from engine.storage.mongo_codec import field_key
from engine.storage.mongo_query import translate_where
from engine.wire import Pointer, Value

_ACCUMULATORS = {"sum": "$sum", "avg": "$avg", "min": "$min", "max": "$max"}


def _ref(cls: ClassDef, field: str) -> str:
    return "$" + field_key(cls, field)


def group_pipeline(cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]]:
    pipeline: list[dict[str, Any]] = [{"$match": translate_where(cls, plan.where)}]
    group = plan.group
    if group is not None:
        key: Any = None
        if group.keys and group.keys[0][0] is None:
            key = _ref(cls, group.keys[0][1])
        elif group.keys:
            key = {str(name): _ref(cls, field) for name, field in group.keys}
        rows = "_rows"  # a row count riding along each group, under a name the group's own fields do not use
        while any(acc.name == rows for acc in group.accumulators):
            rows += "_"
        spec: dict[str, Any] = {"_id": key, rows: {"$sum": 1}}
        for acc in group.accumulators:
            if acc.field is None:
                spec[acc.name] = {"$sum": 1}
            else:
                spec[acc.name] = {_ACCUMULATORS[acc.op]: _ref(cls, acc.field)}
        pipeline.append({"$group": spec})
        # MongoDB's $group of no documents is no document; mongomock answers one group of nothing: drop it.
        pipeline += [{"$match": {rows: {"$gt": 0}}}, {"$project": {rows: 0}}]
        if plan.sort:
            pipeline.append({"$sort": {path: -1 if desc else 1 for path, desc in plan.sort}})
        if plan.skip:
            pipeline.append({"$skip": plan.skip})
        if plan.limit is not None:
            pipeline.append({"$limit": plan.limit})
    if plan.count is not None:
        pipeline.append({"$count": plan.count})
    return pipeline


def distinct_pipeline(cls: ClassDef, where: Where, field: str) -> list[dict[str, Any]]:
    """Distinct non-null values by `$group`, in the order of each value's earliest document."""
    ref = _ref(cls, field)
    return [
        {"$match": translate_where(cls, where)},
        {"$group": {"_id": ref, "o": {"$min": "$_created_at"}}},
        {"$match": {"_id": {"$ne": None}}},
        {"$sort": {"o": 1}},
    ]


def distinct_value(cls: ClassDef, field: str, value: Any) -> Value:
    if cls.fields[field].type is FieldType.POINTER and isinstance(value, str):
        class_name, _, object_id = value.partition("$")
        return Pointer(class_name, object_id)
    decoded: Value = value
    return decoded
