"""Pick a storage adapter from the database URI's scheme; drivers are imported only when chosen."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from engine.storage.base import StorageAdapter

ADAPTERS = {
    "": "engine.storage.memory:MemoryAdapter",
    "memory": "engine.storage.memory:MemoryAdapter",
    "mongodb": "engine.storage.mongo:MongoAdapter",
    "mongodb+srv": "engine.storage.mongo:MongoAdapter",
    "sqlite": "engine.storage.sqlite:SQLiteAdapter",
}


class UnsupportedDatabase(ValueError):
    pass


def is_persistent(uri: str) -> bool:
    return urlsplit(uri).scheme not in ("", "memory")


def open_adapter(uri: str) -> StorageAdapter:
    scheme = urlsplit(uri).scheme if uri else ""
    target = ADAPTERS.get(scheme)
    if target is None:
        raise UnsupportedDatabase(f"unsupported database URI scheme {scheme!r}; use one of: mongodb://, sqlite:///path.db")
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    adapter: StorageAdapter = cls(uri) if scheme not in ("", "memory") else cls()
    return adapter
