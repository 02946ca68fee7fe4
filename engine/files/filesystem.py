"""The default files adapter: one directory (under the data folder), a blob and a JSON sidecar per file.

Blobs are written to `tmp/` and renamed into `blobs/` once complete, so a reader never sees half a file and a
crash leaves only a temp file behind. Disk I/O runs in worker threads, a megabyte at a time, so a 1 GB upload
never holds more than one buffer and never blocks the event loop for long."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson

from engine.files.store import CHUNK_BYTES, StoredFile, UploadTooLarge


class FilesystemAdapter:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._meta = root / "meta"
        self._tmp = root / "tmp"

    async def open(self) -> None:
        for path in (self._blobs, self._meta, self._tmp):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def aclose(self) -> None:
        return None

    def _blob(self, name: str) -> Path:
        # Names are checked by engine.files.policy before they get here; this is the last line of defence.
        if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
            raise ValueError("invalid stored file name")
        return self._blobs / name

    async def save(self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, max_bytes: int,
                   metadata: Mapping[str, str]) -> StoredFile:
        target = self._blob(name)
        tmp = self._tmp / f"{secrets.token_hex(8)}.part"
        digest = hashlib.sha256()
        size = 0
        handle: BinaryIO = await asyncio.to_thread(tmp.open, "xb")
        try:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge
                buffer += chunk
                if len(buffer) >= CHUNK_BYTES:
                    data = bytes(buffer)
                    buffer.clear()
                    digest.update(data)
                    await asyncio.to_thread(handle.write, data)
            if buffer:
                digest.update(buffer)
                await asyncio.to_thread(handle.write, bytes(buffer))
            await asyncio.to_thread(_flush, handle)
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        handle.close()
        stored = StoredFile(name, size, content_type, digest.hexdigest(), datetime.now(UTC), dict(metadata))
        sidecar = orjson.dumps({"size": size, "contentType": content_type, "etag": stored.etag,
                                "createdAt": stored.created_at.isoformat(), "metadata": dict(metadata)})
        await asyncio.to_thread(_write_meta, self._meta / f"{name}.json", sidecar)
        await asyncio.to_thread(os.replace, tmp, target)
        return stored

    async def stat(self, name: str) -> StoredFile | None:
        return await asyncio.to_thread(self._stat, name)

    def _stat(self, name: str) -> StoredFile | None:
        try:
            blob = self._blob(name)
            if not blob.is_file():
                return None
            meta = orjson.loads((self._meta / f"{name}.json").read_bytes())
        except (ValueError, OSError):
            return None
        return StoredFile(name, int(meta["size"]), str(meta["contentType"]), str(meta["etag"]),
                          datetime.fromisoformat(meta["createdAt"]), dict(meta.get("metadata") or {}))

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle: BinaryIO = await asyncio.to_thread(self._blob(name).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = end - start
            while remaining > 0:
                data = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
                if not data:
                    return
                remaining -= len(data)
                yield data
        finally:
            handle.close()

    async def delete(self, name: str) -> bool:
        def remove() -> bool:
            blob = self._blob(name)
            existed = blob.is_file()
            blob.unlink(missing_ok=True)
            (self._meta / f"{name}.json").unlink(missing_ok=True)
            return existed

        return await asyncio.to_thread(remove)

    async def list(self) -> AsyncIterator[StoredFile]:
        names = await asyncio.to_thread(lambda: sorted(p.name for p in self._blobs.iterdir() if p.is_file()))
        for name in names:
            stored = await self.stat(name)
            if stored is not None:
                yield stored


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _write_meta(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
