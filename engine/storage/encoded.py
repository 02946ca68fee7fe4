"""Objects read as the Parse JSON the store already holds, for reads that only serve them (no typed decode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.query.options import FindOptions
from engine.query.where import Where
from engine.schema.model import ClassDef


@dataclass(frozen=True, slots=True)
class EncodedObject:
    """One stored object in Parse JSON: ``json`` holds objectId, createdAt and updatedAt (ISO text), ``ACL`` when
    it has one, then the user fields as the store wrote them (typed values as ``__type`` objects, a File column
    by name only). ``internal`` (server-owned ``_`` keys, also Parse JSON) is read for `_User` only.
    ``has_files`` is False when no File can be inside, so nothing needs a url."""

    json: dict[str, Any]
    internal: Mapping[str, Any]
    has_files: bool


@runtime_checkable
class EncodedReader(Protocol):
    """A store that can answer a find without decoding its rows into typed values and back: decoding and
    re-encoding is most of what serving a stored object costs, and the stored JSON already is the answer."""

    async def find_encoded(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[EncodedObject]: ...
