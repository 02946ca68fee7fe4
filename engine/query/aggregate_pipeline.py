"""A pipeline's shape, checked as Parse's AggregateRouter checks it: array or object form → single-key stages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from engine.query.aggregate_expr import refuse

MAX_STAGES: Final = 100
# Parse's router drops these keys when the request body itself is the pipeline.
_NOT_STAGES: Final = frozenset({"distinct", "where"})


def normalize_pipeline(pipeline: object) -> list[dict[str, Any]]:
    """Array or object form → a list of single-key stage dicts, checked the way Parse's AggregateRouter checks."""
    if isinstance(pipeline, str | bytes):
        try:
            pipeline = json.loads(pipeline)  # a GET query string carries the pipeline as JSON text
        except (ValueError, RecursionError) as exc:
            raise refuse("pipeline is not valid JSON") from exc
    if isinstance(pipeline, Mapping):
        stages: list[Any] = [{key: value} for key, value in pipeline.items()]
    elif isinstance(pipeline, list):
        stages = pipeline
    else:
        raise refuse("pipeline must be an array of stages or an object of stages")
    out: list[dict[str, Any]] = []
    for stage in stages:
        if not isinstance(stage, Mapping):
            raise refuse("Pipeline stages should be objects.")
        keys = list(stage)
        if len(keys) != 1:
            raise refuse(f"Pipeline stages should only have one key but found {', '.join(map(str, keys))}.")
        name = keys[0]
        if name in _NOT_STAGES:
            continue
        if not isinstance(name, str) or not name.startswith("$"):
            raise refuse(f"Invalid aggregate stage '{name}'.")
        body = stage[name]
        if name == "$group" and isinstance(body, Mapping):
            check_group_keys(body)
        out.append({name: body})
    if len(out) > MAX_STAGES:
        raise refuse(f"pipeline has more than {MAX_STAGES} stages")
    return out


def check_group_keys(spec: Mapping[str, Any]) -> None:
    # Parse's own messages, from AggregateRouter.transformStage.
    if "objectId" in spec:
        raise refuse("Cannot use 'objectId' in aggregation stage $group.")
    if "_id" not in spec:
        raise refuse("Invalid parameter for query: group. Missing key _id")
