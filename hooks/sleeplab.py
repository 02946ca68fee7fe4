"""The sleep lab's audit trail: every clinical write leaves an AuditLog row. (The clinical rules live in
accounts.py, studies.py, cpap.py, messages.py and appointments.py.)

Loaded with `sleeplab serve --cloud hooks` (what `make serve` does). The README walks through this file.
"""

from __future__ import annotations

from engine.cloud import (
    DeleteRequest,
    SaveRequest,
    after_delete,
    after_save,
)
from engine.cloud.audit import write_audit

AUDITED = ("PatientProfile", "SleepStudy", "TitrationLog", "Message", "Appointment")


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
