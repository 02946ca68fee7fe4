"""The files-adapter protocol: streamed writes and ranged reads of immutable, uniquely named blobs."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

CHUNK_BYTES = 1024 * 1024  # what one read or write moves; memory per transfer stays near this


@dataclass(frozen=True, slots=True)
class StoredFile:
    name: str
    size: int
    content_type: str
    etag: str  # hex digest of the content, computed while it streamed in
    created_at: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


class UploadTooLarge(Exception):
    """The stream passed the size limit; the adapter has removed what it wrote."""


class FilesAdapter(Protocol):
    async def open(self) -> None: ...

    async def aclose(self) -> None: ...

    async def save(self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, max_bytes: int,
                   metadata: Mapping[str, str]) -> StoredFile:
        """Stream `chunks` in; nothing is visible under `name` until the whole body arrived (no partial file)."""
        ...

    async def stat(self, name: str) -> StoredFile | None: ...

    def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) in chunks of at most CHUNK_BYTES."""
        ...

    async def delete(self, name: str) -> bool: ...

    def list(self) -> AsyncIterator[StoredFile]: ...
