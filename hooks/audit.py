"""The sleep lab's access log (HIPAA-style): every create, update, delete and read of a PHI class leaves an
AuditLog entry in the hash chain (engine.cloud.audit), naming the actor, the action, the class, the object ids,
and where the request came from (ip, installation id, user agent).

Reads are logged from afterFind, which also runs for objects pulled in by `include`, so a PHI row reached through
a pointer is logged too. A failing audit write fails the read (afterFind errors reach the client): no PHI is
served unlogged. Writes are logged after they commit (afterSave/afterDelete cannot undo them); a failure there
goes to the server log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cloud import (
    AfterFindRequest,
    DeleteRequest,
    SaveRequest,
    TriggerRequest,
    after_delete,
    after_find,
    after_save,
)
from engine.cloud.audit import write_audit
from engine.wire import decode_acl

PHI_CLASSES = ("PatientProfile", "SleepStudy", "SleepStudyVersion", "CPAPLog", "TitrationLog", "Message",
               "Appointment")
# Admins read the trail (the class's CLP lets only them find/get); nobody may write it but the server.
AUDIT_ACL = decode_acl({"role:Admin": {"read": True}})
MAX_USER_AGENT = 256


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def request_metadata(req: TriggerRequest) -> dict[str, Any]:
    """Where the access came from; the user agent is cut short (a client chooses it)."""
    meta: dict[str, Any] = {"ip": req.ip}
    if req.installation_id:
        meta["installationId"] = req.installation_id
    agent = _header(req.headers, "user-agent")
    if agent:
        meta["userAgent"] = agent[:MAX_USER_AGENT]
    return meta


def _actor_kind(req: TriggerRequest) -> str:
    if req.user is not None:
        return "user"
    return "master" if req.master else "anonymous"


async def _log(req: TriggerRequest, action: str, entity_id: str, ids: list[str], summary: str,
               extra: Mapping[str, Any] | None = None) -> None:
    await write_audit(req.data, actor=req.user, actor_kind=_actor_kind(req), action=action,
                      entity_type=req.class_name, entity_id=entity_id, ids=ids, summary=summary,
                      metadata={**request_metadata(req), **(extra or {})}, acl=AUDIT_ACL)


async def audit_save(req: SaveRequest) -> None:
    obj = req.object
    action = "update" if req.original is not None else "create"
    oid = obj.object_id or "?"
    await _log(req, action, oid, [oid], f"{action} {obj.class_name}",
               {"fields": sorted(obj.dirty_keys() or obj.keys())})


async def audit_delete(req: DeleteRequest) -> None:
    oid = req.object.object_id or "?"
    await _log(req, "delete", oid, [oid], f"delete {req.class_name}")


async def audit_read(req: AfterFindRequest) -> None:
    ids = [o.object_id for o in req.objects if o.object_id]
    if req.is_get:
        entity = ids[0] if ids else "?"
        await _log(req, "get", entity, ids, f"get {req.class_name}")
    else:
        await _log(req, "find", "*", ids, f"find {req.class_name}: {len(ids)} objects")


for _name in PHI_CLASSES:
    after_save(_name)(audit_save)
    after_delete(_name)(audit_delete)
    after_find(_name)(audit_read)
