"""Which files a client may attach to an object: its own uploads, or files the object already holds.

A File value is a name, and a reader of the object receives a signed URL for it. Without this rule anyone who
once learned a file's name (a former care-team member, a leaked log line) could attach it to an object of their
own and read it through that object forever. Parse Server has no such rule; the master key bypasses it.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import ErrorCode, ParseError
from engine.pipeline.context import Services
from engine.security.auth import Auth
from engine.storage.base import AddItems, FieldOp, SetValue, StoredObject
from engine.wire import File, Value

MAX_CHECKED = 1000  # distinct new file references one write may carry; each costs one stat of the file store


def _files(value: Value) -> Iterator[str]:
    if isinstance(value, File):
        yield value.name
    elif isinstance(value, list):
        for item in value:
            yield from _files(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _files(item)


def _written(ops: tuple[tuple[tuple[str, ...], FieldOp], ...]) -> set[str]:
    names: set[str] = set()
    for _path, op in ops:
        if isinstance(op, SetValue):
            names.update(_files(op.value))
        elif isinstance(op, AddItems):
            for item in op.items:
                names.update(_files(item))
    return names


def references_files(svc: Services, auth: Auth, ops: tuple[tuple[tuple[str, ...], FieldOp], ...]) -> bool:
    """Whether check_file_references has anything to look at (so an update loads its object only then)."""
    return not auth.is_master and svc.files is not None and bool(_written(ops))


async def check_file_references(
    svc: Services, auth: Auth, ops: tuple[tuple[tuple[str, ...], FieldOp], ...], original: StoredObject | None,
) -> None:
    """119 when a non-master write references a stored file the caller neither uploaded nor already holds here."""
    if auth.is_master or svc.files is None:
        return
    names = _written(ops)
    if original is not None and names:
        names -= set(_files(dict(original.fields)))
    if not names:
        return
    if len(names) > MAX_CHECKED:
        raise ParseError(ErrorCode.INVALID_JSON, f"a write may reference at most {MAX_CHECKED} new files")
    uploader = auth.user_id or ""
    for name in sorted(names):
        stored = await svc.files.adapter.stat(name)
        # A name that is not in the file store exposes nothing (its URL answers 403); legacy references stay valid.
        if stored is not None and stored.metadata.get("uploadedBy", "") != uploader:
            raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                             "A file can only be attached by the user who uploaded it.")
