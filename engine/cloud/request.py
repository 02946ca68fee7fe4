"""The one typed request object each hook receives: triggers, cloud functions and jobs (Parse's ``request``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.cloud.data import CloudQuery, DataApi
from engine.cloud.objects import CloudObject
from engine.cloud.triggers import TriggerType

# Hooks log through request.log (Parse's request.log); one logger name keeps hook output filterable.
HOOK_LOG = logging.getLogger("engine.cloud.hooks")


# Frozen so a hook cannot swap the object, user or master flag under the pipeline; the objects themselves
# (object, query, context, params) are deliberately mutable: editing them is how hooks talk back.
@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerRequest:
    trigger_name: TriggerType
    class_name: str
    data: DataApi
    object: CloudObject | None = None
    original: CloudObject | None = None  # the stored object, on updates and deletes
    user: CloudObject | None = None  # the caller's _User row, when a session token was sent
    master: bool = False
    installation_id: str | None = None
    ip: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # shared by before* and after* of one request
    query: CloudQuery | None = None  # beforeFind / afterFind
    is_get: bool = False
    count: bool = False
    objects: list[CloudObject] | None = None  # afterFind: the results, which the hook may edit or replace
    log: logging.Logger = HOOK_LOG


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionRequest:
    function_name: str
    data: DataApi
    params: dict[str, Any] = field(default_factory=dict)  # decoded Python values (datetime, Pointer, ...)
    user: CloudObject | None = None
    master: bool = False
    installation_id: str | None = None
    ip: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = HOOK_LOG


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRequest:
    job_name: str
    data: DataApi
    job_id: str
    message: Callable[[str], None]  # sets the job's status message (Parse's request.message)
    params: dict[str, Any] = field(default_factory=dict)
    master: bool = True  # jobs only start with the master key
    log: logging.Logger = HOOK_LOG


# One request type per trigger kind, so a hook's signature says what it receives: a before_save's ``req.object``
# is a CloudObject, never None, and registering a function that expects another kind is a type error.
@dataclass(frozen=True, slots=True, kw_only=True)
class SaveRequest(TriggerRequest):
    """beforeSave / afterSave: the object being saved (``original`` is the stored one on updates)."""

    object: CloudObject


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRequest(TriggerRequest):
    """beforeDelete / afterDelete: the stored object."""

    object: CloudObject


@dataclass(frozen=True, slots=True, kw_only=True)
class FindRequest(TriggerRequest):
    """beforeFind: the query, which the hook may change (or replace by returning another CloudQuery)."""

    query: CloudQuery


@dataclass(frozen=True, slots=True, kw_only=True)
class AfterFindRequest(TriggerRequest):
    """afterFind: the results, which the hook may edit in place or replace by returning a list."""

    objects: list[CloudObject]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginRequest(TriggerRequest):
    """beforeLogin / afterLogin (the _User logging in) and afterLogout (the _Session that ended)."""

    object: CloudObject


# ---- file triggers ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class CloudFile:
    """The file a file trigger sees. A before_save_file hook may change `name` (it is checked again and gets its
    random prefix afterwards), `metadata` and `tags`; the content streams past hooks and is never in memory."""

    name: str
    content_type: str
    size: int | None = None  # None before save when the client streams without a Content-Length
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    url: str | None = None  # after save and on delete: the stored file's (signed) URL


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRequest(TriggerRequest):
    """before/after_save_file, before/after_delete_file (``class_name`` is ``"@File"``)."""

    file: CloudFile


# ---- LiveQuery triggers ----

@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRequest(TriggerRequest):
    """beforeConnect: a LiveQuery client's `connect`; raising refuses it (the client gets the error)."""

    client_id: str
    session_token: str | None = None
    clients: int = 0  # connections open in this process, as Parse's `request.clients`
    event: str = "connect"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeRequest(TriggerRequest):
    """beforeSubscribe: raising refuses the subscription; editing (or returning) ``query`` changes what it
    matches, its ``keys`` and ``watch`` included."""

    query: CloudQuery
    client_id: str
    request_id: int
    session_token: str | None = None
    event: str = "subscribe"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveEventRequest(TriggerRequest):
    """afterEvent (Parse's afterLiveQueryEvent): one event for one subscription, before it is sent.

    Return False to drop it; edit ``object`` (or return another CloudObject) to change what is sent; raise to
    send the subscriber an error instead."""

    object: CloudObject
    event: str  # create, enter, update, leave, delete
    client_id: str
    request_id: int
    session_token: str | None = None
    clients: int = 0
    subscriptions: int = 0


_REQUEST_TYPES: dict[TriggerType, type[TriggerRequest]] = {
    TriggerType.BEFORE_SAVE: SaveRequest,
    TriggerType.AFTER_SAVE: SaveRequest,
    TriggerType.BEFORE_DELETE: DeleteRequest,
    TriggerType.AFTER_DELETE: DeleteRequest,
    TriggerType.BEFORE_FIND: FindRequest,
    TriggerType.AFTER_FIND: AfterFindRequest,
    TriggerType.BEFORE_LOGIN: LoginRequest,
    TriggerType.AFTER_LOGIN: LoginRequest,
    TriggerType.AFTER_LOGOUT: LoginRequest,
    TriggerType.BEFORE_SAVE_FILE: FileRequest,
    TriggerType.AFTER_SAVE_FILE: FileRequest,
    TriggerType.BEFORE_DELETE_FILE: FileRequest,
    TriggerType.AFTER_DELETE_FILE: FileRequest,
    TriggerType.BEFORE_CONNECT: ConnectRequest,
    TriggerType.BEFORE_SUBSCRIBE: SubscribeRequest,
    TriggerType.AFTER_EVENT: LiveEventRequest,
}


def trigger_request(kind: TriggerType, **fields: Any) -> TriggerRequest:
    """The request a trigger of ``kind`` receives; a missing required field (e.g. no object) is a TypeError."""
    return _REQUEST_TYPES[TriggerType(kind)](trigger_name=kind, **fields)


HookRequest = TriggerRequest | FunctionRequest | JobRequest
