"""The shipped hooks/ module: study status rules, the studyHistory function (audit rows: tests/app)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT

PATIENT = {"__type": "Pointer", "className": "PatientProfile", "objectId": "p000000001"}


def study(status: str = "preliminary", results: str = "AHI 12") -> dict[str, Any]:
    return {"patient": PATIENT, "studyDate": {"__type": "Date", "iso": "2026-03-01T22:00:00.000Z"},
            "results": results, "status": status}


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
    # The function's own read of the study (as the caller) is an access too, logged before the history query.
    assert [e["action"] for e in r.json()["result"]] == ["get", "create"]
    r = await api.post("/functions/studyHistory", {"studyId": sid}, headers=api.as_user(other))
    assert r.json()["code"] == 101
    assert (await api.post("/functions/studyHistory", {"studyId": sid})).json()["code"] == 142
