"""write_audit: one AuditLog row with the master key, Parse field names, master-only ACL by default."""

from __future__ import annotations

import pytest

from engine.cloud import CloudObject, DataApi
from engine.cloud.audit import write_audit
from engine.wire import ACL, Pointer
from tests.cloud.fakes import FakeAccess


async def test_audit_row_fields_and_master_key() -> None:
    access = FakeAccess()
    api = DataApi(access, master=False)  # a plain user's request: the audit write still uses the master key
    actor = CloudObject("_User", "u1", {"username": "ada"})
    row = await write_audit(api, actor=actor, action="update", entity_type="SleepStudy", entity_id="s1",
                            summary="changed AHI", metadata={"from": 4, "to": 6})
    assert row.object_id is not None
    (call,) = access.calls
    assert (call.op, call.class_name, call.master) == ("create", "AuditLog", True)
    assert call.args[0] == {
        "actor": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
        "action": "update",
        "entityType": "SleepStudy",
        "entityId": "s1",
        "summary": "changed AHI",
        "metadata": {"from": 4, "to": 6},
        "ACL": {},
    }


async def test_audit_actor_pointer_none_and_custom_acl() -> None:
    access = FakeAccess()
    api = DataApi(access, master=True)
    await write_audit(api, actor=Pointer("_User", "u2"), action="delete", entity_type="Night", entity_id="n1",
                      summary="", acl=ACL(frozenset({"role:Auditor"})))
    await write_audit(api, actor=None, action="purge", entity_type="Night", entity_id="*", summary="nightly job",
                      acl=None)
    first, second = (c.args[0] for c in access.calls)
    assert first["actor"]["objectId"] == "u2" and first["ACL"] == {"role:Auditor": {"read": True}}
    assert first["metadata"] == {}
    assert "actor" not in second and "ACL" not in second


async def test_audit_refuses_bad_arguments() -> None:
    api = DataApi(FakeAccess(), master=True)
    with pytest.raises(ValueError):
        await write_audit(api, actor=None, action="", entity_type="Night", entity_id="n1", summary="x")
    with pytest.raises(ValueError):
        await write_audit(api, actor="u1", action="a", entity_type="Night", entity_id="n1",  # type: ignore[arg-type]
                          summary="x")
