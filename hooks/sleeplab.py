"""The sleep lab's own rules: study statuses are checked (the audit trail is hooks/audit.py).

Loaded with `sleeplab serve --cloud hooks` (what `make serve` does). The README walks through this file.
"""

from __future__ import annotations

from typing import Any

from engine.cloud import ErrorCode, FunctionRequest, ParseError, SaveRequest, before_save, define

STUDY_STATUSES = ("scheduled", "in_progress", "preliminary", "final", "amended", "cancelled")


@before_save("SleepStudy")
async def check_study(req: SaveRequest) -> None:
    study = req.object
    if study.get("status") not in STUDY_STATUSES:
        raise ParseError(ErrorCode.VALIDATION_ERROR, f"status must be one of {', '.join(STUDY_STATUSES)}")
    # A final report whose results change becomes an amendment, so readers can tell it was revised.
    original = req.original
    if original is not None and original.get("status") == "final" and study.get("results") != original.get("results"):
        study["status"] = "amended"


@define("studyHistory", validator={"requireUser": True, "fields": {"studyId": {"type": str, "required": True}}})
async def study_history(req: FunctionRequest) -> list[Any]:
    """The audit trail of one study, for a caller who may read that study."""
    study = await req.data.get("SleepStudy", req.params["studyId"])  # as the caller: ACL and CLP apply
    return await (req.data.query("AuditLog").equal_to("entityType", "SleepStudy")
                  .equal_to("entityId", study.object_id).descending("createdAt").find(use_master=True))
