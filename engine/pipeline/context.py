"""What one app hands every request's journey: settings, storage, the live schema, role cache and mail."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.cloud.registry import Cloud
from engine.events import EventBus
from engine.mail import LogMailAdapter, MailAdapter
from engine.pipeline.schema_store import SchemaStore
from engine.security.roles import RoleCache
from engine.settings import Settings
from engine.storage.base import StorageAdapter


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: StorageAdapter
    schemas: SchemaStore
    roles: RoleCache = field(default_factory=RoleCache)
    mailer: MailAdapter = field(default_factory=LogMailAdapter)
    cloud: Cloud = field(default_factory=Cloud)
    events: EventBus = field(default_factory=EventBus)

    def file_url(self, name: str) -> str:
        return f"{self.settings.public_url()}/files/{self.settings.app_id}/{name}"
