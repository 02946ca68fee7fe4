"""Pick a storage adapter from the database URI's scheme; drivers are imported only when chosen."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from engine.storage.base import StorageAdapter

# With no database URI the server keeps its data in an embedded SQLite file: nothing to install, and it survives
# restarts. `memory://` keeps everything in the process (tests, throwaway demos).
DEFAULT_URI = "sqlite:///data/sleeplab.db"
ADAPTERS = {
    "memory": "engine.storage.memory:MemoryAdapter",
    "mongodb": "engine.storage.mongo:MongoAdapter",
    "mongodb+srv": "engine.storage.mongo:MongoAdapter",
    "sqlite": "engine.storage.sqlite:SQLiteAdapter",
    "postgres": "engine.storage.postgres:PostgresAdapter",
    "postgresql": "engine.storage.postgres:PostgresAdapter",
}


class UnsupportedDatabase(ValueError):
    pass


def effective_uri(uri: str) -> str:
    return uri or DEFAULT_URI


def is_persistent(uri: str) -> bool:
    return urlsplit(effective_uri(uri)).scheme != "memory"


def open_adapter(uri: str, *, max_time_ms: int | None = None) -> StorageAdapter:
    """``max_time_ms`` bounds every query the adapter runs (124 past it); None or 0: unbounded."""
    uri = effective_uri(uri)
    scheme = urlsplit(uri).scheme
    target = ADAPTERS.get(scheme)
    if target is None:
        raise UnsupportedDatabase(
            f"unsupported database URI scheme {scheme!r}; "
            "use sqlite:///path.db, mongodb://host/db, postgres://user@host/db or memory://"
        )
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    adapter: StorageAdapter = (
        cls(max_time_ms=max_time_ms) if scheme == "memory" else cls(uri, max_time_ms=max_time_ms)
    )
    return adapter
