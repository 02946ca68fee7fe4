"""The sleep lab's own rules: every clinical write leaves an AuditLog row; study statuses are checked.

Loaded with `sleeplab serve --cloud hooks` (what `make serve` does). The README walks through this file.
"""

from __future__ import annotations

from typing import Any

from engine.cloud import (
    DeleteRequest,
    ErrorCode,
    FunctionRequest,
    ParseError,
    SaveRequest,
    after_delete,
    after_save,
    before_save,
    define,
)
from engine.cloud.audit import write_audit

AUDITED = ("PatientProfile", "SleepStudy", "TitrationLog", "Message", "Appointment")
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


async def _audit(req: SaveRequest | DeleteRequest, action: str) -> None:
    obj = req.object
    if req.user is None:
        return  # master-key maintenance has no clinical actor; the server log records it
    await write_audit(req.data, actor=req.user, action=action, entity_type=obj.class_name,
                      entity_id=obj.object_id or "", summary=f"{action} {obj.class_name}",
                      metadata={"fields": sorted(obj.dirty_keys() or obj.keys())})


def _register(class_name: str) -> None:
    @after_save(class_name)
    async def audit_save(req: SaveRequest) -> None:
        await _audit(req, "update" if req.original is not None else "create")

    @after_delete(class_name)
    async def audit_delete(req: DeleteRequest) -> None:
        await _audit(req, "delete")


for _name in AUDITED:
    _register(_name)


@define("studyHistory", validator={"requireUser": True, "fields": {"studyId": {"type": str, "required": True}}})
async def study_history(req: FunctionRequest) -> list[Any]:
    """The audit trail of one study, for a caller who may read that study."""
    study = await req.data.get("SleepStudy", req.params["studyId"])  # as the caller: ACL and CLP apply
    return await (req.data.query("AuditLog").equal_to("entityType", "SleepStudy")
                  .equal_to("entityId", study.object_id).descending("createdAt").find(use_master=True))
