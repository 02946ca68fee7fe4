"""Files no object references (Parse keeps a file when its object is deleted): found, and removed on request.

Every class is scanned in objectId order, a page at a time, for File values at any depth (arrays and objects
too). Files younger than `min_age` are left alone: an upload is an orphan until the client saves the object that
holds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.files.store import FilesAdapter, StoredFile
from engine.query.options import FindOptions, SortKey
from engine.query.where import Compare, MatchAll, Where
from engine.storage.base import StorageAdapter
from engine.wire import File

PAGE = 500


@dataclass(frozen=True, slots=True)
class OrphanReport:
    orphans: tuple[StoredFile, ...]
    referenced: int
    deleted: int


def _collect(value: object, into: set[str]) -> None:
    if isinstance(value, File):
        into.add(value.name)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, into)


async def referenced_names(storage: StorageAdapter) -> set[str]:
    names: set[str] = set()
    for cls in await storage.load_schemas():
        last: str | None = None
        while True:
            where: Where = MatchAll() if last is None else Compare(("objectId",), "gt", last)
            rows = await storage.find(cls, where, FindOptions(limit=PAGE, order=(SortKey(("objectId",)),)))
            for row in rows:
                _collect(row.fields, names)
            if len(rows) < PAGE:
                break
            last = rows[-1].object_id
    return names


async def find_orphans(storage: StorageAdapter, files: FilesAdapter, *, min_age: timedelta,
                       delete: bool = False) -> OrphanReport:
    referenced = await referenced_names(storage)
    cutoff = datetime.now(UTC) - min_age
    orphans = tuple([f async for f in files.list() if f.name not in referenced and f.created_at <= cutoff])
    deleted = 0
    if delete:
        for stored in orphans:
            deleted += int(await files.delete(stored.name))
    return OrphanReport(orphans, len(referenced), deleted)
