"""What one app hands every request's journey: settings, storage and the live schema."""

from __future__ import annotations

from dataclasses import dataclass

from engine.pipeline.schema_store import SchemaStore
from engine.settings import Settings
from engine.storage.base import StorageAdapter


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: StorageAdapter
    schemas: SchemaStore

    def file_url(self, name: str) -> str:
        return f"{self.settings.public_url()}/files/{self.settings.app_id}/{name}"
