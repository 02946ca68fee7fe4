"""/scriptlog (master key): the server's own recent log, as Parse's LogsRouter answers it (newest first)."""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.http.call import ApiCall, ApiResult
from engine.logbook import log_query


async def scriptlog(call: ApiCall) -> ApiResult:
    call.require_master()
    book = call.services.logbook
    if book is None:
        raise ParseError(ErrorCode.PUSH_MISCONFIGURED, "Logger adapter is not available")
    q = call.query
    query = log_query(level=q.get("level"), size=q.get("size"), n=q.get("n"), order=q.get("order"),
                      since=q.get("from"), until=q.get("until"))
    return ApiResult(book.query(query))
