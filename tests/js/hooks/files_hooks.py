"""File hooks for the JS SDK suite (tests/js/files.test.mjs): one refusal and one audit-style record."""

from __future__ import annotations

from engine.cloud import ErrorCode, FileRequest, ParseError, after_save_file, before_save_file

SAVED: list[str] = []


@before_save_file
def refuse_flagged(req: FileRequest) -> None:
    if req.file.name.startswith("refused"):
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "refused by the file hook")


@after_save_file
def remember(req: FileRequest) -> None:
    SAVED.append(req.file.name)
