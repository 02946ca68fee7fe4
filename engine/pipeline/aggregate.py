"""`/aggregate` and `distinct`: the store runs what it can (the leading `$match`, then a `$group` with its
`$sort`/`$skip`/`$limit`/`$count`: aggregate_plan.py); the stages after those run in Python, the same on every
store. A store without the Aggregating entry points, or a pipeline it cannot take, gets the find-based path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.query.aggregate import normalize_pipeline, run_pipeline, split_leading_match, to_parse_results
from engine.query.options import FindOptions
from engine.query.where import MATCH_ALL, Where, conjoin, parse_where
from engine.schema.model import ClassDef, FieldType
from engine.storage.aggregate_plan import KEY_TYPES, StorePlan, plan_store_stages, rows_window
from engine.storage.base import Aggregating, StoredObject
from engine.wire import Pointer, encode

ALL = FindOptions(limit=None)


def _document(obj: StoredObject) -> dict[str, Any]:
    """A row as Parse's aggregation sees it: REST names, pointers as `Class$id` (also under `_p_<field>`)."""
    doc: dict[str, Any] = {"objectId": obj.object_id, "createdAt": obj.created_at, "updatedAt": obj.updated_at}
    for key, value in obj.fields.items():
        if isinstance(value, Pointer):
            doc[key] = doc[f"_p_{key}"] = f"{value.class_name}${value.object_id}"
        else:
            doc[key] = value
    return doc


_UNSAFE_TYPES = (FieldType.POINTER, FieldType.DATE, FieldType.RELATION)


def _plain_keys(cls: ClassDef, match: Mapping[str, Any]) -> bool:
    """True when every key means the same to the where language as to `$match`: pipelines accept bare ids for
    pointers, ISO strings for dates and Mongo names (`_id`, `_p_x`), which a store query would read otherwise."""
    for key, value in match.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not all(isinstance(v, Mapping) and _plain_keys(cls, v) for v in value):
                return False
            continue
        fdef = cls.field_def(key.split(".")[0])
        if key != "objectId" and (key.startswith(("_", "$")) or fdef is None or fdef.type in _UNSAFE_TYPES):
            return False
    return True


def _exact(cls: ClassDef, match: Mapping[str, Any] | None) -> Where | None:
    """The leading `$match` as a store query meaning exactly what the `$match` means, or None."""
    if match is None:
        return MATCH_ALL
    if not _plain_keys(cls, match):
        return None
    try:
        return parse_where(match, master=True)
    except ParseError:
        return None


def _pushdown(cls: ClassDef, match: Mapping[str, Any] | None) -> Where:
    """The leading `$match` as a store query, so the store filters with its indexes; on the find-based path the
    `$match` still runs in Python afterwards, so a store query only ever narrows what Python would keep anyway."""
    exact = _exact(cls, match)
    return MATCH_ALL if exact is None else exact


async def _in_store(svc: Services, cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]] | None:
    """The plan's output documents (Mongo-shaped, as run_pipeline's), or None when the store declines it."""
    if plan.group is None:
        # `$match` + `$count`: the store's count; as in Mongo, counting nothing yields no document.
        n = await svc.storage.count(cls, plan.where)
        return [{plan.count: n}] if n and plan.count else []
    if not isinstance(svc.storage, Aggregating):
        return None
    return await svc.storage.aggregate(cls, plan)


async def run_aggregate(
    svc: Services, ctx: RequestContext, cls: ClassDef | None, pipeline: object,
    where: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Master key only, whichever way in (REST, the hook data API). ``where`` (Parse where JSON, master view) narrows
    the rows in the store first. A class that does not exist aggregates to nothing, as in Parse."""
    require_master(ctx)
    if cls is None:
        normalize_pipeline(pipeline)  # a bad pipeline is still refused
        return []
    stages = normalize_pipeline(pipeline)
    match, rest = split_leading_match(stages)
    extra = parse_where(where, master=True) if where else None
    pointers = tuple(name for name, f in cls.fields.items() if f.type is FieldType.POINTER)
    exact = _exact(cls, match)
    plan = None if exact is None else plan_store_stages(cls, exact if extra is None else conjoin(exact, extra), rest)
    if plan is not None:
        docs = await _in_store(svc, cls, plan)
        if docs is not None:
            results = run_pipeline(docs, rest[plan.consumed:])
            return to_parse_results(results, stages, pointer_fields=pointers, file_url=svc.file_url)
    narrowed = _pushdown(cls, match)
    if extra is not None:
        narrowed = conjoin(narrowed, extra)
    # With the `$match` exact in the store, a `$sort`/`$skip`/`$limit` after it is the store's ORDER BY/LIMIT too.
    window = rows_window(cls, rest) if exact is not None else None
    if window is not None:
        opts, taken = window
        rows = await svc.storage.find(cls, narrowed, opts)
        results = run_pipeline([_document(r) for r in rows], rest[taken:])
        return to_parse_results(results, stages, pointer_fields=pointers, file_url=svc.file_url)
    rows = await svc.storage.find(cls, narrowed, ALL)
    results = run_pipeline([_document(r) for r in rows], stages)
    return to_parse_results(results, stages, pointer_fields=pointers, file_url=svc.file_url)


async def run_distinct(svc: Services, ctx: RequestContext, cls: ClassDef | None, field: object,
                       where_json: object) -> list[Any]:
    require_master(ctx)
    if cls is None:
        return []
    if not isinstance(field, str) or not field:
        raise ParseError(ErrorCode.INVALID_QUERY, "distinct must name a field")
    where = parse_where(where_json, master=True)
    fdef = cls.fields.get(field)
    if fdef is not None and fdef.type in KEY_TYPES and not field.startswith("_") \
            and isinstance(svc.storage, Aggregating):
        values = await svc.storage.distinct(cls, where, field)
        if values is not None:
            return [encode(v) for v in values]
    rows = await svc.storage.find(cls, where, ALL)
    seen: list[Any] = []
    for row in rows:
        value: Any = row.fields
        for part in field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        # Like MongoDB's distinct, an array contributes each of its elements.
        for item in value if isinstance(value, list) else [value]:
            if item is not None and item not in seen:
                seen.append(item)
    return [encode(v) for v in seen]
