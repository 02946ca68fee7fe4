"""`/files`: upload (raw streamed body or the JS SDK's base64 JSON), download (signed URL, Range, ETag), delete.

Uploads bypass the JSON body limit: a raw body streams to the files adapter under SLEEPLAB_MAX_UPLOAD_BYTES (the
connection protocol applies that limit to this path). Downloads check the signature before anything touches the
store, so an unsigned, expired or forged URL gets the same 403 whether or not the file exists."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.files.policy import disposition, is_stored_name, served_type
from engine.files.store import StoredFile
from engine.http.body import read_body
from engine.http.edge import _credentials, handle
from engine.http.responses import ParseJSONResponse, error_response
from engine.pipeline.context import RequestContext, Services, request_context
from engine.pipeline.files import Upload, delete_file, file_data, files_of, save_file
from engine.pipeline.sessions import lookup_session
from engine.security.auth import Auth, check_app, resolve_auth

_RANGE_RE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
FORBIDDEN = "unauthorized"


async def _context(request: Request, services: Services, body: dict[str, Any], action: str) -> RequestContext:
    creds = _credentials(request, body)
    check_app(creds, services.settings)

    async def sessions(token: str) -> Auth | None:
        return await lookup_session(services, token, creds.installation_id)

    auth = await resolve_auth(creds, services.settings, sessions)
    if auth.is_read_only:
        raise HTTPDenied(403, f"read-only masterKey isn't allowed to {action} a file.")
    return request_context(auth, ip=creds.ip, headers=dict(request.headers),
                           request_id=request.headers.get("x-parse-request-id"))


async def _raw_chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect as exc:
        raise HTTPDenied(400, "client disconnected", code=ErrorCode.CONNECTION_FAILED) from exc


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _header_map(request: Request, name: str) -> Any:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        return orjson.loads(raw) if len(raw) <= 16384 else None
    except orjson.JSONDecodeError as exc:
        raise ParseError(ErrorCode.INVALID_JSON, f"{name} is not valid JSON") from exc


async def upload(request: Request, services: Services, name: str) -> Response:
    """POST /files/<name>. Without an X-Parse-Application-Id header the body is the JS SDK's JSON
    (`base64`, `_ContentType`, `fileData`, credentials), as Parse's handleParseHeaders reads it."""
    name = unquote(name)
    if request.headers.get("x-parse-application-id") is None:
        raw = await read_body(request, services.settings.max_body_bytes)
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            raise ParseError(ErrorCode.FILE_SAVE_ERROR, "Invalid file upload.") from exc
        if not isinstance(body, dict):
            raise HTTPDenied(403, FORBIDDEN)  # no credentials anywhere: Parse answers 403
        content_type = body.get("_ContentType")  # read before _credentials strips the SDK's `_` keys
        ctx = await _context(request, services, body, "create")
        encoded = body.get("base64")
        try:
            data = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (binascii.Error, ValueError) as exc:
            raise ParseError(ErrorCode.FILE_SAVE_ERROR, "Invalid file upload.") from exc
        found = body.get("fileData")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        item = Upload(name, content_type if isinstance(content_type, str) else None, _one(data), len(data),
                      file_data(meta.get("metadata"), "metadata"), file_data(meta.get("tags"), "tags"))
    else:
        ctx = await _context(request, services, {}, "create")
        declared = request.headers.get("content-length")
        item = Upload(name, request.headers.get("content-type"), _raw_chunks(request),
                      int(declared) if declared and declared.isdigit() else None,
                      file_data(_header_map(request, "x-parse-file-metadata"), "metadata"),
                      file_data(_header_map(request, "x-parse-file-tags"), "tags"))
    result = await save_file(services, ctx, item)
    return ParseJSONResponse(result, status_code=201, headers={"Location": result["url"]})


async def delete(request: Request, services: Services, name: str) -> Response:
    ctx = await _context(request, services, {}, "delete")
    await delete_file(services, ctx, unquote(name))
    return ParseJSONResponse({}, status_code=200)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end-exclusive) of one `Range: bytes=` range; None serves the whole file; 416 when unsatisfiable."""
    if header is None:
        return None
    m = _RANGE_RE.match(header.strip())
    if m is None:
        return None  # multiple or malformed ranges: RFC 9110 lets a server ignore Range
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0:
            raise _Unsatisfiable
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise _Unsatisfiable
    return start, end


class _Unsatisfiable(Exception):
    pass


def _may_read(request: Request, services: Services, name: str, auth: Auth) -> bool:
    files = files_of(services)
    if files.public or auth.is_master:
        return True
    params = request.query_params
    return files.signer.verify(name, params.get("exp"), params.get("sig"))


async def _download_auth(request: Request, services: Services) -> Auth:
    """Only the master key counts here (a signed URL needs no credentials); anything else is no one."""
    if request.headers.get("x-parse-master-key") is None:
        return Auth()
    try:
        return await resolve_auth(_credentials(request, {}), services.settings)
    except (ParseError, HTTPDenied):
        return Auth()


async def download(request: Request, services: Services, app_id: str, name: str) -> Response:
    name = unquote(name)
    auth = await _download_auth(request, services)
    if app_id != services.settings.app_id or not is_stored_name(name) or not _may_read(request, services, name,
                                                                                        auth):
        raise HTTPDenied(403, FORBIDDEN)
    files = files_of(services)
    stored = await files.adapter.stat(name)
    if stored is None:
        # Reached only with a valid signature: the server itself issued this URL, so saying "gone" leaks nothing.
        raise HTTPDenied(404, "File not found.", code=ErrorCode.OBJECT_NOT_FOUND)
    return _serve(request, services, stored)


def _serve(request: Request, services: Services, stored: StoredFile) -> Response:
    content_type = served_type(stored.content_type)
    etag = f'"{stored.etag[:32]}"'
    headers = {
        "ETag": etag, "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": disposition(stored.name, content_type),
        "Cache-Control": "public, max-age=31536000, immutable" if files_of(services).public else "private, no-cache",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    try:
        span = _byte_range(request.headers.get("range"), stored.size)
        if span is not None and request.headers.get("if-range") not in (None, etag):
            span = None  # the client's copy is another version: send it all
    except _Unsatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{stored.size}"})
    start, end = span if span is not None else (0, stored.size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content_type)
    body = files_of(services).adapter.read(stored.name, start, end)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=content_type)


async def endpoint(request: Request, services: Services, rest: str) -> Response:
    """Everything under `<mount>/files/`; paths the files API does not serve fall through to the usual 404."""
    parts = rest.split("/")
    method = request.method.upper()
    try:
        if method == "POST" and len(parts) == 1 and parts[0]:
            return await upload(request, services, parts[0])
        if method in ("GET", "HEAD") and len(parts) == 2 and all(parts):
            return await download(request, services, parts[0], parts[1])
        if method == "DELETE" and len(parts) == 1 and parts[0]:
            return await delete(request, services, parts[0])
    except (ParseError, HTTPDenied) as exc:
        return error_response(exc)
    except Exception as exc:
        return error_response(exc)
    return await handle(request, services, "files/" + rest)
