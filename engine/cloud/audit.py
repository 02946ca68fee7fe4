"""write_audit: append one AuditLog row (who did what to which entity) with the master key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cloud.data import DataApi
from engine.cloud.objects import CloudObject
from engine.wire import ACL, Pointer

AUDIT_CLASS = "AuditLog"
MASTER_ONLY = ACL()  # no entries: only the master key may read or write the row


async def write_audit(
    data: DataApi,
    *,
    actor: Pointer | CloudObject | None,
    action: str,
    entity_type: str,
    entity_id: str,
    summary: str,
    metadata: Mapping[str, Any] | None = None,
    acl: ACL | None = MASTER_ONLY,
) -> CloudObject:
    """Create the AuditLog row and return it as stored.

    Always written with the master key: the caller usually may not write (or even read) the audit trail, and an
    audit entry must not depend on the caller's permissions. By default the row gets an empty ACL, so only the
    master key can read or change it whatever the class's CLPs say; pass ``acl`` to let e.g. an auditor role read
    it (``acl=None`` leaves the server's default ACL). ``actor=None`` (a system action) leaves the field unset;
    a schema that requires ``actor`` will then refuse the row.
    """
    for name, value in (("action", action), ("entity_type", entity_type), ("entity_id", entity_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"write_audit: {name} must be a non-empty string")
    if not isinstance(summary, str):
        raise ValueError("write_audit: summary must be a string")
    fields: dict[str, Any] = {
        "action": action,
        "entityType": entity_type,
        "entityId": entity_id,
        "summary": summary,
        "metadata": dict(metadata or {}),
    }
    if acl is not None:
        fields["ACL"] = acl
    if actor is not None:
        if not isinstance(actor, Pointer | CloudObject):
            raise ValueError("write_audit: actor must be a Pointer, a CloudObject or None")
        fields["actor"] = actor.to_pointer() if isinstance(actor, CloudObject) else actor
    return await data.create(AUDIT_CLASS, fields, use_master=True)
