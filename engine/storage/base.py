"""The storage contract: what every adapter stores and answers, in typed values (no wire JSON)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, cast, runtime_checkable

from engine.errors import ParseError
from engine.query.options import FindOptions
from engine.query.where import Path, Where
from engine.schema.model import ClassDef
from engine.storage.aggregate_plan import StorePlan
from engine.wire import ACL, Value

# Messages every adapter answers with, so clients see the same words whatever the store.
DUPLICATE_MESSAGE = "A duplicate value for a field with unique values was provided"
INTERNAL_MESSAGE = "Internal server error."
UNIQUE_OVER_DUPLICATES = "Tried to ensure field uniqueness for a class that already has duplicates."


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object as stored. ``fields`` holds user columns (never relations, never builtins);
    ``internal`` holds server-owned ``_`` columns such as ``_hashed_password``."""

    class_name: str
    object_id: str
    created_at: datetime
    updated_at: datetime
    acl: ACL | None = None
    fields: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))
    internal: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))

    def with_fields(self, fields: Mapping[str, Value]) -> StoredObject:
        return replace(self, fields=MappingProxyType(dict(fields)))


# ---- update operations: one per changed key path; applied atomically by the adapter ----

@dataclass(frozen=True, slots=True)
class SetValue:
    value: Value


@dataclass(frozen=True, slots=True)
class Unset:
    pass


@dataclass(frozen=True, slots=True)
class Increment:
    amount: float | int


@dataclass(frozen=True, slots=True)
class AddItems:
    items: tuple[Value, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class RemoveItems:
    items: tuple[Value, ...]


FieldOp = SetValue | Unset | Increment | AddItems | RemoveItems


@dataclass(frozen=True, slots=True)
class Changes:
    """``ops`` address user fields by path (``("meta", "count")``); ``acl`` of None keeps the ACL,
    ``clear_acl`` removes it; ``internal`` sets (or, with None, removes) server-owned columns."""

    updated_at: datetime
    ops: tuple[tuple[Path, FieldOp], ...] = ()
    acl: ACL | None = None
    clear_acl: bool = False
    internal: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))


class StorageAdapter(Protocol):
    """Every adapter answers the same requests the same way; tests/storage/test_contract.py proves it.

    Where trees reaching an adapter never contain subquery nodes (RelatedTo, InQuery, Select): the read
    pipeline resolves those first. Paths ``objectId``/``createdAt``/``updatedAt`` and ``_rperm``/``_wperm``
    address the builtin columns. Unique-index violations raise ParseError(137)."""

    async def open(self) -> None: ...

    async def aclose(self) -> None: ...

    async def load_schemas(self) -> list[ClassDef]: ...

    async def save_schema(self, cls: ClassDef) -> None: ...

    async def drop_class(self, cls: ClassDef) -> None: ...

    async def create(self, cls: ClassDef, obj: StoredObject) -> None: ...

    async def create_many(self, cls: ClassDef, objs: Sequence[StoredObject]) -> list[ParseError | None]:
        """Store each object as ``create`` would: one outcome per object, in order (None, or the ParseError that
        object alone raised, e.g. a 137); the others are stored whatever one of them raised."""
        ...

    async def find(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]: ...

    async def count(self, cls: ClassDef, where: Where) -> int: ...

    async def update(self, cls: ClassDef, where: Where, changes: Changes) -> StoredObject | None: ...

    async def delete(self, cls: ClassDef, where: Where) -> int: ...

    async def add_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None: ...

    async def remove_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None: ...

    async def related_ids(self, cls: ClassDef, key: str, owning_ids: Sequence[str]) -> list[str]: ...

    async def owning_ids(self, cls: ClassDef, key: str, related_ids: Sequence[str]) -> list[str]: ...


@runtime_checkable
class Transactional(Protocol):
    """An adapter that can run several operations atomically (optional: ``/batch`` with ``transaction: true``
    is refused on stores without it rather than run non-atomically).

    Inside ``async with adapter.transaction():`` every operation the entering task makes joins one transaction,
    committed when the block exits normally and rolled back when it raises. Each operation is its own savepoint,
    so one that fails (a 137, say) leaves the transaction usable for the caller to decide. Operations from other
    tasks stay outside it."""

    def transaction(self) -> AbstractAsyncContextManager[None]: ...


@runtime_checkable
class Aggregating(Protocol):
    """An adapter that runs aggregation in its own engine (optional; the pipeline falls back to ``find``).

    ``aggregate`` returns the plan's output documents as the Python stages would (group keys under ``_id``, a
    pointer key as ``"Class$id"``, sums of integers as integers), or None to decline the plan. ``distinct``
    returns the distinct non-null values of a declared top-level field among the rows ``where`` matches (a
    pointer as a Pointer), in the order their first rows are stored, or None to decline."""

    async def aggregate(self, cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]] | None: ...

    async def distinct(self, cls: ClassDef, where: Where, field: str) -> list[Value] | None: ...


SCHEMA_TOPIC = "schema"  # a class's schema was saved or dropped
ROLES_TOPIC = "roles"  # a _Role object or one of its relations was written
HOOKS_TOPIC = "hooks"  # a _Hooks row (a webhook registration) was written
# Every topic a change feed counts. Append only: the SQLite feed keeps a topic's counter at its place here, and
# processes of an older build may share the file.
CHANGE_TOPICS = (SCHEMA_TOPIC, ROLES_TOPIC, HOOKS_TOPIC)


def topics_for_class(class_name: str) -> tuple[str, ...]:
    """Which caches a write to this class may outdate: role membership lives in `_Role`'s relations, every
    process's webhook registrations in `_Hooks`."""
    if class_name == "_Role":
        return (ROLES_TOPIC,)
    if class_name == "_Hooks":
        return (HOOKS_TOPIC,)
    return ()


@runtime_checkable
class ChangeFeed(Protocol):
    """An adapter that hears about changes other processes sharing its database made (optional).

    ``change_count(topic)`` grows whenever a change on ``topic`` may have happened, in any process; a cache
    remembers the count it was filled at and refills when it moved, instead of waiting out its TTL."""

    def change_count(self, topic: str) -> int: ...


def has_change_feed(storage: object) -> bool:
    """Whether ``storage`` has a change feed. Asked on every request: the Protocol check (tens of microseconds as
    an isinstance) is answered once per adapter type."""
    kind = type(storage)
    has_feed = _FEED_TYPES.get(kind)
    if has_feed is None:
        has_feed = _FEED_TYPES[kind] = issubclass(kind, ChangeFeed)
    return has_feed


def change_count(storage: object, topic: str) -> int:
    """``storage.change_count(topic)`` for a store with a change feed, else 0 (caches then rely on their TTL)."""
    return cast(ChangeFeed, storage).change_count(topic) if has_change_feed(storage) else 0


_FEED_TYPES: dict[type, bool] = {}


def freeze(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


async def create_each(
    create: Callable[[ClassDef, StoredObject], Awaitable[None]], cls: ClassDef, objs: Sequence[StoredObject]
) -> list[ParseError | None]:
    """``create_many`` as one ``create`` per object, all at once, each failing alone: the memory store's, and
    the fallback of the stores whose one-call insert was refused."""
    outcomes = await asyncio.gather(*(create(cls, obj) for obj in objs), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, ParseError):
            raise outcome
    return [outcome if isinstance(outcome, ParseError) else None for outcome in outcomes]
