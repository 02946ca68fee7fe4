"""The GraphQL multipart request spec (what graphql-upload serves for Parse): `operations` JSON, a `map` from file
parts to variable paths, then the files; and the resolvers that save an `Upload` through pipeline/files.py.

The body is read whole within `max_body_bytes` (the bound the server's protocol puts on this path), as a REST JSON
upload is; files go through the REST upload policy, size limit, hooks and naming (save_file)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from engine.pipeline.context import RequestContext, Services, refuse_read_only
from engine.pipeline.files import Upload, save_file

MAX_FILES = 10  # file parts in one request
MAX_PATHS = 20  # variable paths one request's map may name
MAX_PATH_SEGMENTS = 16
MAX_BOUNDARY = 200  # RFC 2046 allows 70; clients stay well inside
MAX_PART_HEAD = 8192  # header bytes of one part


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part, the value the `Upload` scalar hands a resolver."""

    filename: str
    content_type: str | None
    data: bytes


class BadMultipart(Exception):
    """A multipart request that does not follow the GraphQL multipart request spec."""


@dataclass(frozen=True, slots=True)
class _Part:
    name: str | None
    filename: str | None
    content_type: str | None
    body: bytes


def _boundary(content_type: str) -> bytes:
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= MAX_BOUNDARY:
        raise BadMultipart("Invalid multipart request.")
    return boundary.encode("latin-1", "replace")


def _head(raw: bytes) -> tuple[str | None, str | None, str | None]:
    head = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(raw)
    name = head.get_param("name", header="content-disposition")
    filename = head.get_filename()
    return (name if isinstance(name, str) else None, filename,
            head.get_content_type() if head.get("content-type") else None)


def split_parts(raw: bytes, content_type: str, max_parts: int) -> list[_Part]:
    """The parts of a multipart/form-data body, split on its boundary with bytes.find: linear in the body, at most
    `max_parts` parts, headers of a part within MAX_PART_HEAD bytes (a general MIME parser costs ~10x the body)."""
    delimiter = b"--" + _boundary(content_type)
    start = raw.find(delimiter)
    if start < 0:
        raise BadMultipart("Invalid multipart request.")
    pos = start + len(delimiter)
    parts: list[_Part] = []
    while not raw.startswith(b"--", pos):
        if not raw.startswith(b"\r\n", pos) or len(parts) >= max_parts:
            raise BadMultipart(f"Invalid multipart request (at most {max_parts} parts).")
        pos += 2
        end = raw.find(b"\r\n" + delimiter, pos)
        head_end = raw.find(b"\r\n\r\n", pos, min(end, pos + MAX_PART_HEAD) if end >= 0 else pos + MAX_PART_HEAD)
        if end < 0 or head_end < 0:
            raise BadMultipart("Invalid multipart request.")
        name, filename, part_type = _head(raw[pos:head_end + 2])
        parts.append(_Part(name, filename, part_type, raw[head_end + 4:end]))
        pos = end + 2 + len(delimiter)
    return parts


def _json(part: _Part, what: str) -> Any:
    try:
        return orjson.loads(part.body)
    except orjson.JSONDecodeError as exc:
        raise BadMultipart(f"Invalid JSON in the ‘{what}’ multipart field.") from exc


def _place(payload: Any, path: str, value: UploadedFile) -> None:
    """Put a file where `map` says: an existing `null` at `variables.…` (Parse accepts nothing else)."""
    segments = path.split(".")
    if len(segments) < 2 or segments[0] != "variables" or len(segments) > MAX_PATH_SEGMENTS:
        raise BadMultipart(f"Invalid object path for the ‘map’ multipart field entry: {path[:100]}")
    parent = payload
    for segment in segments[:-1]:
        parent = _step(parent, segment, path)
    last = segments[-1]
    if isinstance(parent, dict) and last in parent and parent[last] is None:
        parent[last] = value
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent) and parent[int(last)] is None:
        parent[int(last)] = value
    else:
        raise BadMultipart(f"Invalid object path for the ‘map’ multipart field entry: {path[:100]}")


def _step(node: Any, segment: str, path: str) -> Any:
    if isinstance(node, dict) and segment in node:
        return node[segment]
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    raise BadMultipart(f"Invalid object path for the ‘map’ multipart field entry: {path[:100]}")


def parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """The operations payload with every mapped file placed at its variable path."""
    parts = split_parts(raw, content_type, MAX_FILES + 2)
    if len(parts) < 2 or parts[0].name != "operations" or parts[1].name != "map":
        raise BadMultipart("Misordered multipart fields; ‘operations’ and ‘map’ come first.")
    payload = _json(parts[0], "operations")
    mapping = _json(parts[1], "map")
    if not isinstance(payload, dict):
        raise BadMultipart("Operation batching disabled." if isinstance(payload, list)
                           else "Invalid type for the ‘operations’ multipart field.")
    if not isinstance(mapping, dict) or len(mapping) > MAX_FILES:
        raise BadMultipart(f"The ‘map’ multipart field must be an object of at most {MAX_FILES} entries.")
    files = {part.name: part for part in parts[2:] if part.name is not None}
    placed = 0
    for key, paths in mapping.items():
        part = files.get(key)
        if part is None:
            raise BadMultipart(f"File missing in the request for the ‘map’ entry ‘{str(key)[:50]}’.")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BadMultipart("Invalid type for the ‘map’ multipart field entry.")
        placed += len(paths)
        if placed > MAX_PATHS:
            raise BadMultipart(f"The ‘map’ multipart field may name at most {MAX_PATHS} paths.")
        upload = UploadedFile(part.filename or "file", part.content_type, part.body)
        for path in paths:
            _place(payload, path, upload)
    return payload


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def save_upload(svc: Services, ctx: RequestContext, upload: UploadedFile) -> dict[str, Any]:
    """Saved as REST POST /files saves: who may upload, names, types, size, beforeSaveFile/afterSaveFile."""
    refuse_read_only(ctx, "create")  # as REST POST /files
    item = Upload(upload.filename, upload.content_type, _one(upload.data), len(upload.data))
    return await save_file(svc, ctx, item)
