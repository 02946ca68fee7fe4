"""The shipped hooks/ module: audit rows for clinical writes, study status rules, the studyHistory function."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT

PATIENT = {"__type": "Pointer", "className": "PatientProfile", "objectId": "p000000001"}


def study(status: str = "preliminary", results: str = "AHI 12") -> dict[str, Any]:
    return {"patient": PATIENT, "studyDate": {"__type": "Date", "iso": "2026-03-01T22:00:00.000Z"},
            "results": results, "status": status}


async def test_clinical_writes_are_audited(app_factory: Any) -> None:
    _, api = await app_factory(cloud=str(ROOT / "hooks"))
    uid, token = await api.signup("dr_lee")
    h = api.as_user(token)
    r = await api.post("/classes/SleepStudy", study(), headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["objectId"]
    await api.put(f"/classes/SleepStudy/{sid}", {"status": "final"}, headers=h)
    r = await api.put(f"/classes/SleepStudy/{sid}", {"results": "AHI 14"}, headers=h)
    assert r.json()["status"] == "amended"
    await api.delete(f"/classes/SleepStudy/{sid}", headers=h)
    rows = (await api.get("/classes/AuditLog", master=True, params={"order": "createdAt"})).json()["results"]
    assert [r["action"] for r in rows] == ["create", "update", "update", "delete"]
    assert all(r["actor"]["objectId"] == uid and r["entityId"] == sid for r in rows)
    assert (await api.get("/classes/AuditLog", headers=h)).json()["results"] == []  # rows are master-only


async def test_study_status_is_checked(app_factory: Any) -> None:
    _, api = await app_factory(cloud=str(ROOT / "hooks"))
    r = await api.post("/classes/SleepStudy", study(status="whatever"))
    assert r.status_code == 400 and r.json()["code"] == 142 and "status must be one of" in r.json()["error"]


async def test_study_history_respects_the_callers_access(app_factory: Any) -> None:
    _, api = await app_factory(cloud=str(ROOT / "hooks"))
    uid, token = await api.signup("dr_lee")
    _, other = await api.signup("someone")
    body = {**study(), "ACL": {uid: {"read": True, "write": True}}}
    sid = (await api.post("/classes/SleepStudy", body, headers=api.as_user(token))).json()["objectId"]
    r = await api.post("/functions/studyHistory", {"studyId": sid}, headers=api.as_user(token))
    assert [e["action"] for e in r.json()["result"]] == ["create"]
    r = await api.post("/functions/studyHistory", {"studyId": sid}, headers=api.as_user(other))
    assert r.json()["code"] == 101
    assert (await api.post("/functions/studyHistory", {"studyId": sid})).json()["code"] == 142
