"""Files in MongoDB's GridFS (bucket `fs`, as Parse Server's GridFSBucketAdapter), through motor, streamed.

Chunks are written as they arrive; a failed or oversized upload is aborted, which deletes its chunks, so no
partial file stays behind. The sha256 and content type live in the file document's `metadata`."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from engine.files.store import CHUNK_BYTES, StoredFile, UploadTooLarge

BUCKET = "fs"


class GridFSAdapter:
    def __init__(self, database: Any, bucket: str = BUCKET) -> None:
        from motor.motor_asyncio import AsyncIOMotorGridFSBucket

        self._db = database
        self._files = database[f"{bucket}.files"]
        self._bucket = AsyncIOMotorGridFSBucket(database, bucket_name=bucket)

    async def open(self) -> None:
        await self._files.create_index("filename")

    async def aclose(self) -> None:
        return None

    async def save(self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, max_bytes: int,
                   metadata: Mapping[str, str]) -> StoredFile:
        digest = hashlib.sha256()
        size = 0
        meta: dict[str, Any] = {"contentType": content_type, "user": dict(metadata)}
        stream = self._bucket.open_upload_stream(name, metadata=meta)
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge
                digest.update(chunk)
                await stream.write(chunk)
            await stream.set("metadata", {**meta, "etag": digest.hexdigest()})
            await stream.close()
        except BaseException:
            await stream.abort()
            raise
        return StoredFile(name, size, content_type, digest.hexdigest(), datetime.now(UTC), dict(metadata))

    async def stat(self, name: str) -> StoredFile | None:
        doc = await self._files.find_one({"filename": name}, sort=[("uploadDate", -1)])
        return None if doc is None else _stored(doc)

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        grid_out = await self._bucket.open_download_stream_by_name(name)
        grid_out.seek(start)
        remaining = end - start
        while remaining > 0:
            data: bytes = await grid_out.read(min(CHUNK_BYTES, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data

    async def delete(self, name: str) -> bool:
        found = False
        async for doc in self._files.find({"filename": name}, {"_id": 1}):
            await self._bucket.delete(doc["_id"])
            found = True
        return found

    async def list(self) -> AsyncIterator[StoredFile]:
        async for doc in self._files.find({}).sort("filename", 1):
            yield _stored(doc)


def _stored(doc: Mapping[str, Any]) -> StoredFile:
    meta = doc.get("metadata") or {}
    created = doc.get("uploadDate") or datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return StoredFile(str(doc["filename"]), int(doc.get("length", 0)), str(meta.get("contentType", "")),
                      str(meta.get("etag", doc.get("_id", ""))), created, dict(meta.get("user") or {}))


# Re-exported so a caller can size its reads the same way as the filesystem adapter.
__all__ = ["CHUNK_BYTES", "GridFSAdapter"]
