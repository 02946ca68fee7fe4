"""What one app hands every request's journey (Services) and who is asking, from where (RequestContext)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.cloud.data import DataAccess
from engine.cloud.registry import Cloud
from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.events import EventBus
from engine.files.service import FileService
from engine.logbook import LogBook
from engine.mail import LogMailAdapter, MailAdapter
from engine.pipeline.schema_store import SchemaStore
from engine.pipeline.webhook_sync import WebhookSync
from engine.security.auth import NOBODY, Auth
from engine.security.roles import RoleCache
from engine.settings import Settings
from engine.storage.base import StorageAdapter

# Headers a hook must never see: they are credentials.
SECRET_HEADERS = frozenset({"x-parse-master-key", "x-parse-session-token", "authorization", "cookie"})


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request's facts, passed explicitly from the entry point through every step to the hooks."""

    auth: Auth = NOBODY
    ip: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # without credentials (SECRET_HEADERS)
    cloud_context: dict[str, Any] = field(default_factory=dict)  # shared by the before and after hooks
    request_id: str | None = None

    @property
    def installation_id(self) -> str | None:
        return self.auth.installation_id

    def with_auth(self, auth: Auth) -> RequestContext:
        return replace(self, auth=auth)

    def as_master(self) -> RequestContext:
        """The same request acting with the master key (a hook's `use_master=True`, a job's own writes)."""
        if self.auth.is_master:
            return self
        return replace(self, auth=Auth(is_master=True, installation_id=self.auth.installation_id))


def request_context(
    auth: Auth, *, ip: str = "", headers: Mapping[str, str] | None = None,
    cloud_context: dict[str, Any] | None = None, request_id: str | None = None,
) -> RequestContext:
    safe = {k: v for k, v in (headers or {}).items() if k.lower() not in SECRET_HEADERS}
    return RequestContext(auth, ip, safe, cloud_context if cloud_context is not None else {}, request_id)


def require_master(ctx: RequestContext) -> None:
    """Master-key-only operations answer 403 (with code 119), as Parse's enforceMasterKeyAccess does."""
    if not ctx.auth.is_master:
        raise HTTPDenied(403, "unauthorized: master key is required")


def refuse_read_only(ctx: RequestContext, operation: str) -> None:
    """Parse's readOnlyMasterKey reads everything and writes nothing, whichever way the write arrives."""
    if ctx.auth.is_read_only:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"read-only masterKey isn't allowed to perform the {operation} operation.")


# Builds the data API a hook's `req.data` uses; the composition root injects the pipeline's own, so the
# pipeline's hook step never imports the modules that call it (no import cycle).
DataAccessFactory = Callable[["Services", RequestContext], DataAccess]


def _unwired(svc: Services, ctx: RequestContext) -> DataAccess:
    raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "the hook data API is not wired into this app")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: StorageAdapter
    schemas: SchemaStore
    roles: RoleCache = field(default_factory=RoleCache)
    mailer: MailAdapter = field(default_factory=LogMailAdapter)
    cloud: Cloud = field(default_factory=Cloud)
    events: EventBus = field(default_factory=EventBus)
    data_access: DataAccessFactory = _unwired
    files: FileService | None = None
    logbook: LogBook | None = None  # what /scriptlog serves; None = the server keeps no log of its own
    webhooks: WebhookSync = field(default_factory=WebhookSync)  # when `cloud`'s webhooks must be re-read

    def file_url(self, name: str) -> str:
        """A File value's URL for the caller being answered: signed and expiring unless files are public. Every
        caller of this encodes an object the read or write pipeline has already let this caller see."""
        if self.files is not None:
            return self.files.url(name)
        return f"{self.settings.public_url()}/files/{self.settings.app_id}/{name}"
