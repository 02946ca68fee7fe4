"""`/aggregate`: a leading `$match` runs in the store; the other stages run in Python, the same on every store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.query.aggregate import normalize_pipeline, run_pipeline, split_leading_match, to_parse_results
from engine.query.options import FindOptions
from engine.query.where import MATCH_ALL, Where, conjoin, parse_where
from engine.schema.model import ClassDef, FieldType
from engine.storage.base import StoredObject
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


def _pushdown(cls: ClassDef, match: Mapping[str, Any] | None) -> Where:
    """The leading `$match` as a store query, so the store filters with its indexes; the `$match` still runs
    in Python afterwards, so a store query only ever narrows what Python would keep anyway."""
    if match is None or not _plain_keys(cls, match):
        return MATCH_ALL
    try:
        return parse_where(match, master=True)
    except ParseError:
        return MATCH_ALL


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
    match, _ = split_leading_match(stages)
    narrowed = _pushdown(cls, match)
    if where:
        narrowed = conjoin(narrowed, parse_where(where, master=True))
    rows = await svc.storage.find(cls, narrowed, ALL)
    pointers = tuple(name for name, f in cls.fields.items() if f.type is FieldType.POINTER)
    results = run_pipeline([_document(r) for r in rows], stages)
    return to_parse_results(results, stages, pointer_fields=pointers, file_url=svc.file_url)


async def run_distinct(svc: Services, ctx: RequestContext, cls: ClassDef | None, field: object,
                       where_json: object) -> list[Any]:
    require_master(ctx)
    if cls is None:
        return []
    if not isinstance(field, str) or not field:
        raise ParseError(ErrorCode.INVALID_QUERY, "distinct must name a field")
    rows = await svc.storage.find(cls, parse_where(where_json, master=True), ALL)
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
