"""Saving and deleting files: who may, which names and types, the file hooks, then the files adapter.

Order as Parse Server's FilesRouter: uploader rules, name, extension and type, beforeSaveFile (which may refuse
or rename; the new name is checked again), the streamed write under `<random>_<name>`, afterSaveFile."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.cloud.objects import CloudObject
from engine.cloud.request import CloudFile, FileRequest, trigger_request
from engine.cloud.runner import run_after_trigger, run_trigger
from engine.cloud.triggers import FILE_CLASS, TriggerType
from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.files.policy import check_content, check_name, check_uploader, content_type_for, stored_name
from engine.files.service import FileService
from engine.files.store import UploadTooLarge
from engine.pipeline.context import RequestContext, Services, require_master
from engine.pipeline.hooks import data_api, user_object

MAX_FILE_DATA_KEYS = 32
MAX_FILE_DATA_VALUE = 1024


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content_type: str | None
    chunks: AsyncIterable[bytes]
    size: int | None = None  # the declared length, when the client sent one
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


def file_data(value: object, what: str) -> dict[str, str]:
    """`fileData.metadata` / `.tags` (or the X-Parse-File-* headers): a small flat map of strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_FILE_DATA_KEYS:
        raise ParseError(ErrorCode.INVALID_JSON, f"file {what} must be an object of at most 32 keys")
    out: dict[str, str] = {}
    for key, item in value.items():
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        if not isinstance(key, str) or len(key) > 128 or len(text) > MAX_FILE_DATA_VALUE:
            raise ParseError(ErrorCode.INVALID_JSON, f"file {what} keys and values are limited in size")
        out[key] = text
    return out


def files_of(svc: Services) -> FileService:
    if svc.files is None:
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "files are not configured")
    return svc.files


async def _file_request(svc: Services, ctx: RequestContext, kind: TriggerType, user: CloudObject | None,
                        file: CloudFile) -> FileRequest:
    auth = ctx.auth
    req = trigger_request(kind, class_name=FILE_CLASS, data=data_api(svc, ctx), user=user, master=auth.is_master,
                          installation_id=auth.installation_id, ip=ctx.ip, headers=ctx.headers,
                          context=ctx.cloud_context, file=file)
    assert isinstance(req, FileRequest)
    return req


def _anonymous(user: CloudObject | None) -> bool:
    auth_data = user.get("authData") if user is not None else None
    return isinstance(auth_data, Mapping) and "anonymous" in auth_data


async def save_file(svc: Services, ctx: RequestContext, upload: Upload) -> dict[str, Any]:
    files = files_of(svc)
    rules = files.rules
    user = await user_object(svc, ctx.auth) if ctx.auth.user_id else None
    check_uploader(rules, master=ctx.auth.is_master, user_id=ctx.auth.user_id, anonymous=_anonymous(user))
    name = check_name(upload.name)
    content_type = content_type_for(name, upload.content_type)
    check_content(rules, name, content_type)
    if upload.size is not None and upload.size > rules.max_bytes:
        raise HTTPDenied(413, "request entity too large", code=ErrorCode.OBJECT_TOO_LARGE)
    cloud_file = CloudFile(name, content_type, upload.size, dict(upload.metadata), dict(upload.tags))
    hook = svc.cloud.trigger(TriggerType.BEFORE_SAVE_FILE, FILE_CLASS)
    if hook is not None:
        req = await _file_request(svc, ctx, TriggerType.BEFORE_SAVE_FILE, user, cloud_file)
        returned = await run_trigger(hook, req, timeout=svc.settings.hook_timeout, user_roles=ctx.auth.role_names)
        if isinstance(returned, CloudFile):
            cloud_file = returned
        # What a hook hands back is checked like a client's input.
        name = check_name(cloud_file.name)
        content_type = content_type_for(name, cloud_file.content_type)
        check_content(rules, name, content_type)
        file_data(cloud_file.metadata, "metadata")
        file_data(cloud_file.tags, "tags")
    stored_as = stored_name(name)
    record = {"uploadedBy": ctx.auth.user_id or "", "metadata": orjson.dumps(cloud_file.metadata).decode(),
              "tags": orjson.dumps(cloud_file.tags).decode()}
    try:
        stored = await files.adapter.save(stored_as, upload.chunks, content_type=content_type,
                                          max_bytes=rules.max_bytes, metadata=record)
    except UploadTooLarge as exc:
        raise HTTPDenied(413, "request entity too large", code=ErrorCode.OBJECT_TOO_LARGE) from exc
    if stored.size == 0:
        await files.adapter.delete(stored_as)
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "Invalid file upload.")
    url = files.url(stored_as)
    after = svc.cloud.trigger(TriggerType.AFTER_SAVE_FILE, FILE_CLASS)
    if after is not None:
        saved = CloudFile(stored_as, content_type, stored.size, dict(cloud_file.metadata), dict(cloud_file.tags),
                          url)
        req = await _file_request(svc, ctx, TriggerType.AFTER_SAVE_FILE, user, saved)
        await run_after_trigger(after, req, timeout=svc.settings.hook_timeout, user_roles=ctx.auth.role_names)
    return {"name": stored_as, "url": url}


async def delete_file(svc: Services, ctx: RequestContext, name: str) -> None:
    """DELETE /files/<name> (master key): Parse's 153 when the store has no such file."""
    require_master(ctx)
    files = files_of(svc)
    stored = await files.adapter.stat(name) if name else None
    if stored is None:
        raise ParseError(ErrorCode.FILE_DELETE_ERROR, "Could not delete file.")
    cloud_file = CloudFile(name, stored.content_type, stored.size, url=files.url(name))
    user = await user_object(svc, ctx.auth) if ctx.auth.user_id else None
    hook = svc.cloud.trigger(TriggerType.BEFORE_DELETE_FILE, FILE_CLASS)
    if hook is not None:
        req = await _file_request(svc, ctx, TriggerType.BEFORE_DELETE_FILE, user, cloud_file)
        await run_trigger(hook, req, timeout=svc.settings.hook_timeout, user_roles=ctx.auth.role_names)
    if not await files.adapter.delete(name):
        raise ParseError(ErrorCode.FILE_DELETE_ERROR, "Could not delete file.")
    after = svc.cloud.trigger(TriggerType.AFTER_DELETE_FILE, FILE_CLASS)
    if after is not None:
        req = await _file_request(svc, ctx, TriggerType.AFTER_DELETE_FILE, user, cloud_file)
        await run_after_trigger(after, req, timeout=svc.settings.hook_timeout, user_roles=ctx.auth.role_names)
