"""One app's files: the adapter, the upload rules, and the URLs handed to clients (signed unless public)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.files.filesystem import FilesystemAdapter
from engine.files.policy import UploadRules
from engine.files.signing import FileSigner, derive_key
from engine.files.store import FilesAdapter
from engine.settings import Settings


@dataclass(frozen=True, slots=True)
class FileService:
    adapter: FilesAdapter
    signer: FileSigner
    rules: UploadRules
    base_url: str  # <serverURL>/files/<appId>
    public: bool = False
    scratch: Path | None = None  # a temporary root (memory:// apps), removed at stop

    def url(self, name: str) -> str:
        """The URL a reader receives. Call it only when encoding for a caller who may read the holding object."""
        plain = f"{self.base_url}/{quote(name)}"
        if self.public:
            return plain
        expires, signature = self.signer.sign(name)
        return f"{plain}?exp={expires}&sig={signature}"

    async def open(self) -> None:
        await self.adapter.open()

    async def aclose(self) -> None:
        await self.adapter.aclose()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def upload_rules(settings: Settings) -> UploadRules:
    return UploadRules(
        enable_for_public=settings.file_upload_enable_for_public,
        enable_for_anonymous_user=settings.file_upload_enable_for_anonymous_user,
        enable_for_authenticated_user=settings.file_upload_enable_for_authenticated_user,
        file_extensions=settings.file_upload_file_extensions,
        allow_active_content=settings.file_allow_active_content,
        max_bytes=settings.max_upload_bytes,
    )


def signer_for(settings: Settings) -> FileSigner:
    key = settings.file_key.encode() if settings.file_key else derive_key(settings.master_key)
    return FileSigner(key, tuple(k.encode() for k in settings.file_old_keys), settings.file_url_ttl)


def files_root(settings: Settings, database_uri: str) -> tuple[Path, bool]:
    """(root, temporary): SLEEPLAB_FILES_DIR, else `files/` beside the SQLite file, else a throwaway directory."""
    if settings.files_dir:
        return Path(settings.files_dir), False
    if database_uri.startswith("sqlite:///"):
        path = database_uri.removeprefix("sqlite:///").split("?", 1)[0]
        return Path(path).parent / "files", False
    return Path(tempfile.mkdtemp(prefix="sleeplab-files-")), True


def file_service(settings: Settings, database_uri: str, mongo_database: Any = None) -> FileService:
    """GridFS when the data lives in MongoDB (unless SLEEPLAB_FILES_DIR says otherwise), else the filesystem."""
    scratch: Path | None = None
    adapter: FilesAdapter
    if mongo_database is not None and not settings.files_dir:
        from engine.files.gridfs import GridFSAdapter

        adapter = GridFSAdapter(mongo_database)
    else:
        root, temporary = files_root(settings, database_uri)
        scratch = root if temporary else None
        adapter = FilesystemAdapter(root)
    base = f"{settings.public_url()}/files/{settings.app_id}"
    return FileService(adapter, signer_for(settings), upload_rules(settings), base, settings.public_files, scratch)
