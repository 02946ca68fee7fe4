"""GET /aggregate/{className} (master key) in every form Parse's AggregateRouter accepts: `pipeline=[...]`,
stages as parameters (`$group=...`, `group=...`, `$match`, `$sort`, ...), or `distinct` + `where`."""

from __future__ import annotations

from typing import Any

import orjson

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult
from engine.pipeline.aggregate import run_aggregate, run_distinct
from engine.schema.model import is_valid_class_name
from engine.schema.rest import invalid_class_name_message

# Options that ride along with the stages (Parse deletes them from the body before reading stages).
OPTIONS = frozenset({"hint", "explain", "readPreference", "rawValues", "rawFieldNames", "comment",
                     "includeReadPreference", "subqueryReadPreference"})
# Stage names an SDK may send without the `$` (older Parse SDKs and the REST guide's `group=` form).
BARE_STAGES = frozenset({"group", "match", "project", "sort", "limit", "skip", "unwind", "count", "sample",
                         "geoNear", "lookup", "addFields", "sortByCount", "facet", "bucket", "bucketAuto",
                         "replaceRoot", "redact", "out"})


def _from_query(value: Any) -> Any:
    """Parse's ClassesRouter.JSONFromQuery: a value that parses as JSON is JSON, anything else stays text."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _stages(params: dict[str, Any]) -> Any:
    """The pipeline: `pipeline` (array or object, JSON text in a query string), else the stage parameters."""
    if "pipeline" in params:
        raw = params["pipeline"]
        if isinstance(raw, str):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ParseError(ErrorCode.INVALID_JSON, "pipeline is not valid JSON") from exc
        return raw
    stages: list[Any] = []
    for key, value in params.items():
        if key in OPTIONS or key in ("distinct", "where"):
            continue
        name = f"${key}" if key in BARE_STAGES else key
        stages.append({name: _from_query(value)})
    return stages


async def aggregate(call: ApiCall) -> ApiResult:
    params = {**call.query, **call.body}
    class_name = call.params["class_name"]
    if not is_valid_class_name(class_name):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, invalid_class_name_message(class_name))
    cls = call.services.schemas.get(class_name)
    if "distinct" in params:
        parsed = _from_query(params["distinct"])  # `distinct="score"` (JSON) and `distinct=score` alike
        field = parsed if isinstance(parsed, str) else params["distinct"]
        where = _from_query(params.get("where"))
        return ApiResult({"results": await run_distinct(call.services, call.ctx, cls, field, where)})
    stages = _stages(params)
    if not stages:
        raise ParseError(ErrorCode.INVALID_QUERY, "pipeline or distinct is required")
    where = _from_query(params.get("where"))
    return ApiResult({"results": await run_aggregate(call.services, call.ctx, cls, stages,
                                                     where if isinstance(where, dict) and where else None)})
