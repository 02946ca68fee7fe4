"""The live schema: ClassDefs cached in memory, persisted through the storage adapter's `_SCHEMA`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.query.where import MATCH_ALL, Exists
from engine.schema.limits import MAX_CLASS_FIELDS, shown
from engine.schema.model import (
    IMPLICIT_CLASSES,
    RESERVED_FIELD_NAMES,
    ClassDef,
    FieldDef,
    FieldType,
    default_fields,
    is_valid_class_name,
    new_class,
)
from engine.schema.rest import (
    class_from_json,
    class_to_json,
    field_from_json,
    invalid_class_name_message,
    validate_clp,
    validate_index,
)
from engine.storage.base import SCHEMA_TOPIC, Changes, StorageAdapter, Unset, change_count
from engine.wire import now

REFRESH_SECONDS = 1.0  # after a miss: another process may have created the class
SCHEMA_TTL_SECONDS = 5.0  # otherwise: how stale another process's CLP or field change may be seen (Parse: 5 s)
MAX_FIELDS = MAX_CLASS_FIELDS


class SchemaConflict(Exception):
    """The schema file asks for something the stored data forbids (e.g. a changed field type)."""


class SchemaStore:
    def __init__(self, storage: StorageAdapter) -> None:
        self.storage = storage
        self._classes: dict[str, ClassDef] = {}
        self._lock = asyncio.Lock()
        self._loaded_at = 0.0
        self._loaded_change = -1

    def _change_count(self) -> int:
        return change_count(self.storage, SCHEMA_TOPIC)

    def _stale(self, limit: float) -> bool:
        # A store with a change feed says when another process changed the schema: no need to wait out the TTL.
        return time.monotonic() - self._loaded_at >= limit or self._change_count() != self._loaded_change

    async def load(self) -> None:
        change = self._change_count()  # before the read: a change landing during it makes the next check reload
        self._classes = {c.name: c for c in await self.storage.load_schemas()}
        self._loaded_at = time.monotonic()
        self._loaded_change = change

    async def refresh_if_stale(self, max_age: float | None = None) -> None:
        """Re-read the stored schema when the cached copy is older than ``max_age`` (default: the miss interval)
        or the store's change feed reports a schema change, so changes made by another server process show up;
        bounded, so bursts cost one read."""
        limit = REFRESH_SECONDS if max_age is None else max_age
        if not self._stale(limit):
            return
        async with self._lock:
            if self._stale(limit):
                await self.load()

    async def _fresh(self, name: str) -> ClassDef | None:
        """The class as stored now: schema writes merge into it, never into a copy another process outdated."""
        for cls in await self.storage.load_schemas():
            if cls.name == name:
                self._classes[name] = cls
                return cls
        return self._classes.get(name)

    def get(self, name: str) -> ClassDef | None:
        return self._classes.get(name)

    async def lookup(self, name: str) -> ClassDef | None:
        """Like get, but a miss re-reads the stored schema first (another process may have created the class)."""
        cls = self._classes.get(name)
        if cls is None:
            await self.refresh_if_stale()
            cls = self._classes.get(name)
        return cls

    def require(self, name: str) -> ClassDef:
        cls = self._classes.get(name)
        if cls is None:
            raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {name} does not exist.")
        return cls

    def all(self) -> list[ClassDef]:
        return sorted(self._classes.values(), key=lambda c: c.name)

    async def _save(self, cls: ClassDef) -> ClassDef:
        await self.storage.save_schema(cls)
        self._classes[cls.name] = cls
        return cls

    async def provision(self, declared: list[ClassDef]) -> list[str]:
        """Make storage hold every declared class; idempotent. Returns what changed, for the start-up log."""
        changes: list[str] = []
        conflicts: list[str] = []
        async with self._lock:
            for name in IMPLICIT_CLASSES:
                if name not in self._classes and all(c.name != name for c in declared):
                    await self._save(new_class(name))
                    changes.append(f"created class {name}")
            for cls in declared:
                current = self._classes.get(cls.name)
                if current is None:
                    base = default_fields(cls.name)
                    base.update(cls.fields)
                    await self._save(cls.with_fields(base))
                    changes.append(f"created class {cls.name}")
                    continue
                fields = dict(current.fields)
                for fname, fdef in cls.fields.items():
                    have = fields.get(fname)
                    if have is None:
                        fields[fname] = fdef
                        changes.append(f"added field {cls.name}.{fname}")
                    elif have.type != fdef.type or have.target_class != fdef.target_class:
                        conflicts.append(
                            f"{cls.name}.{fname} is stored as {have.type_label()} but the schema file says "
                            f"{fdef.type_label()}; changing a field's type is refused (data would no longer match)"
                        )
                    elif have != fdef:
                        fields[fname] = fdef
                indexes = {**current.indexes, **cls.indexes}
                updated = current.with_fields(fields).with_clp(cls.clp).with_indexes(indexes)
                if updated != current:
                    await self._save(updated)
            if conflicts:
                raise SchemaConflict("\n".join(conflicts))
        return changes

    async def ensure_class(self, name: str) -> ClassDef:
        async with self._lock:
            cls = self._classes.get(name)
            if cls is None:
                cls = await self._save(new_class(name))
            return cls

    async def add_fields(self, name: str, fields: Mapping[str, FieldDef]) -> ClassDef:
        async with self._lock:
            cls = await self._fresh(name) or self.require(name)
            merged = dict(cls.fields)
            for fname, fdef in fields.items():
                have = merged.get(fname)
                if have is not None and (have.type != fdef.type or have.target_class != fdef.target_class):
                    raise ParseError(
                        ErrorCode.INCORRECT_TYPE,
                        f"schema mismatch for {name}.{fname}; expected {have.type_label()} but got {fdef.type_label()}",
                    )
                merged.setdefault(fname, fdef)
            if len(merged) == len(cls.fields):
                return cls
            if len(merged) > MAX_FIELDS:
                raise ParseError(ErrorCode.INVALID_SCHEMA_OPERATION,
                                 f"{name} cannot have more than {MAX_FIELDS} fields")
            return await self._save(cls.with_fields(merged))

    async def create_class(self, body: Mapping[str, Any], class_name: str | None) -> ClassDef:
        cls = class_from_json(body, class_name, strict=True)
        async with self._lock:
            if cls.name in self._classes:
                raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {cls.name} already exists.")
            return await self._save(cls)

    async def update_class(self, name: str, body: Mapping[str, Any]) -> ClassDef:
        if "className" in body and body["className"] != name:
            raise ParseError(
                ErrorCode.INVALID_CLASS_NAME, f"Class name mismatch between {shown(body['className'])} and {name}."
            )
        async with self._lock:
            cls = self._classes.get(name)
            if cls is None:
                raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {name} does not exist.")
            fields = dict(cls.fields)
            raw_fields = body.get("fields") or {}
            if not isinstance(raw_fields, Mapping):
                raise ParseError(ErrorCode.INVALID_JSON, "fields must be an object")
            if len(raw_fields) > MAX_FIELDS:
                raise ParseError(ErrorCode.INVALID_SCHEMA_OPERATION,
                                 f"{name} cannot have more than {MAX_FIELDS} fields")
            for fname, spec in raw_fields.items():
                if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
                    if fname not in fields:
                        raise ParseError(
                            ErrorCode.INVALID_SCHEMA_OPERATION, f"Field {shown(fname)} does not exist, cannot delete."
                        )
                    if fname in RESERVED_FIELD_NAMES or fname in default_fields(name):
                        raise ParseError(ErrorCode.CHANGED_IMMUTABLE_FIELD, f"field {fname} cannot be changed")
                    del fields[fname]
                    continue
                if fname in fields:
                    raise ParseError(ErrorCode.INVALID_SCHEMA_OPERATION, f"Field {shown(fname)} exists, cannot update.")
                fields[fname] = field_from_json(name, fname, spec)
            indexes = dict(cls.indexes)
            raw_indexes = body.get("indexes") or {}
            if not isinstance(raw_indexes, Mapping):
                raise ParseError(ErrorCode.INVALID_QUERY, "indexes must be an object")
            for iname, spec in raw_indexes.items():
                if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
                    if iname not in indexes or iname == "_id_":
                        raise ParseError(ErrorCode.INVALID_QUERY,
                                         f"Index {shown(iname)} does not exist, cannot delete.")
                    del indexes[iname]
                    continue
                if iname in indexes:
                    raise ParseError(ErrorCode.INVALID_QUERY, f"Index {shown(iname)} exists, cannot update.")
                indexes[iname] = validate_index(fields, iname, spec)
            raw_clp = body.get("classLevelPermissions")
            # `{}` (as before) keeps the stored CLP; anything else submitted is checked against the new fields.
            keep = raw_clp is None or (isinstance(raw_clp, Mapping) and not raw_clp)
            clp = cls.clp if keep else validate_clp(raw_clp, fields)
            # Revalidate as a whole (e.g. one GeoPoint per class); new fields and a submitted CLP were checked
            # strictly above, and what was already stored stays loadable as it is.
            rebuilt = class_to_json(cls.with_fields(fields))
            rebuilt["classLevelPermissions"] = dict(clp)
            rebuilt["indexes"] = {k: v for k, v in indexes.items() if k != "_id_"}
            updated = class_from_json(rebuilt)
            dropped = [f for f in cls.fields if f not in fields]
            if dropped:
                await self._drop_columns(cls, dropped)
            return await self._save(updated)

    async def _drop_columns(self, cls: ClassDef, names: list[str]) -> None:
        """Parse unsets a deleted column on every object; relation rows live apart and need no change."""
        for fname in names:
            if cls.fields[fname].type is FieldType.RELATION:
                continue
            changes = Changes(updated_at=now(), ops=(((fname,), Unset()),))
            while await self.storage.update(cls, Exists((fname,), True), changes) is not None:
                pass

    async def delete_class(self, name: str) -> None:
        """Parse: an invalid name is 103, a class that does not exist is dropped quietly, and a system class
        never disappears: dropping it removes its data and added fields, its default shape stays."""
        if not is_valid_class_name(name):
            raise ParseError(ErrorCode.INVALID_CLASS_NAME, invalid_class_name_message(name))
        async with self._lock:
            cls = self._classes.get(name)
            if cls is None:
                return
            n = await self.storage.count(cls, MATCH_ALL)
            if n:
                raise ParseError(
                    ErrorCode.INVALID_SCHEMA_OPERATION,
                    f"Class {name} is not empty, contains {n} objects, cannot drop schema.",
                )
            await self.storage.drop_class(cls)
            del self._classes[name]
            if name in IMPLICIT_CLASSES:
                # The CLP stays: resetting it to Parse's public default would open the class to every client.
                await self._save(new_class(name).with_clp(cls.clp))

