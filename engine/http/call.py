"""One API call, decoupled from Starlette so /batch can replay sub-requests through the same handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import RequestContext, Services, require_master
from engine.security.auth import Auth, Credentials


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    path: str  # below the mount path, e.g. "/classes/Study/abc"
    params: Mapping[str, str]  # path parameters
    query: Mapping[str, Any]  # query-string params, or a method-overridden GET's body
    body: Mapping[str, Any]
    ctx: RequestContext  # who is asking, from where: handed unchanged to the pipeline
    creds: Credentials
    services: Services

    @property
    def auth(self) -> Auth:
        return self.ctx.auth

    def require_master(self) -> None:
        require_master(self.ctx)


@dataclass(frozen=True, slots=True)
class ApiResult:
    body: Any  # JSON, or text when media_type is not JSON (the email pages)
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


def redirect(location: str) -> ApiResult:
    return ApiResult("", status=302, headers={"Location": location}, media_type="text/plain")


Handler = Callable[[ApiCall], Awaitable[ApiResult]]


def body_object(call: ApiCall) -> Mapping[str, Any]:
    if not isinstance(call.body, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "request body must be a JSON object")
    return call.body
