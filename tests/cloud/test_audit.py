"""write_audit: one hash-chained AuditLog row with the master key, Parse field names, master-only ACL by default."""

from __future__ import annotations

import pytest

from engine.cloud import CloudObject, DataApi
from engine.cloud.audit import GENESIS_HASH, entry_hash, verify_chain, write_audit
from engine.wire import ACL, Pointer
from tests.cloud.fakes import FakeAccess


async def test_audit_row_fields_and_master_key() -> None:
    access = FakeAccess()
    api = DataApi(access, master=False)  # a plain user's request: the audit write still uses the master key
    actor = CloudObject("_User", "u1", {"username": "ada"})
    row = await write_audit(api, actor=actor, action="update", entity_type="SleepStudy", entity_id="s1",
                            summary="changed AHI", metadata={"from": 4, "to": 6})
    assert row.object_id is not None
    head, call = access.calls  # the chain's head is read first, then the entry appended after it
    assert (head.op, head.class_name, head.master) == ("find", "AuditLog", True)
    assert (call.op, call.class_name, call.master) == ("create", "AuditLog", True)
    sent = dict(call.args[0])
    logged_at = sent.pop("loggedAt")
    assert logged_at["__type"] == "Date"
    assert sent == {
        "actor": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
        "actorKind": "user",
        "action": "update",
        "entityType": "SleepStudy",
        "entityId": "s1",
        "ids": ["s1"],
        "summary": "changed AHI",
        "metadata": {"from": 4, "to": 6},
        "ACL": {},
        "seq": 1,
        "prevHash": GENESIS_HASH,
        "hash": entry_hash(call.args[0]),
    }


async def test_audit_actor_pointer_none_and_custom_acl() -> None:
    access = FakeAccess()
    api = DataApi(access, master=True)
    await write_audit(api, actor=Pointer("_User", "u2"), action="delete", entity_type="Night", entity_id="n1",
                      summary="", acl=ACL(frozenset({"role:Auditor"})))
    await write_audit(api, actor=None, action="purge", entity_type="Night", entity_id="*", summary="nightly job",
                      acl=None)
    first, second = (c.args[0] for c in access.calls if c.op == "create")
    assert first["actor"]["objectId"] == "u2" and first["ACL"] == {"role:Auditor": {"read": True}}
    assert first["metadata"] == {}
    assert "actor" not in second and "ACL" not in second and second["actorKind"] == "system"
    assert (second["seq"], second["prevHash"]) == (2, first["hash"])
    rows = sorted(access.table("AuditLog").values(), key=lambda r: r["seq"])
    assert verify_chain(rows).describe() == "chain intact, 2 entries"


async def test_audit_refuses_bad_arguments() -> None:
    api = DataApi(FakeAccess(), master=True)
    with pytest.raises(ValueError):
        await write_audit(api, actor=None, action="", entity_type="Night", entity_id="n1", summary="x")
    with pytest.raises(ValueError):
        await write_audit(api, actor="u1", action="a", entity_type="Night", entity_id="n1",  # type: ignore[arg-type]
                          summary="x")
