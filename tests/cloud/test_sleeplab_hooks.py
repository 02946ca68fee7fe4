"""The shipped hooks/ on the shipped schema: clinical writes are audited, study statuses are checked, and
`studyHistory` answers only callers who may read the study. (tests/app covers every app rule in detail.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import Clinic, call, date, make_clinic


@pytest.fixture
async def clinic(app_factory: Any) -> Clinic:
    return await make_clinic(app_factory)


def study(clinic: Clinic, status: str = "preliminary", results: str = "AHI 12") -> dict[str, Any]:
    return {"patient": clinic.pointer(clinic.profile_a), "studyDate": date("2026-03-01T22:00:00.000Z"),
            "results": results, "status": status}


async def test_clinical_writes_are_audited(clinic: Clinic) -> None:
    api = clinic.api
    r = await api.post("/classes/SleepStudy", study(clinic), headers=clinic.dr_in.headers)
    assert r.status_code == 201, r.text
    sid = r.json()["objectId"]
    rows = (await api.get("/classes/AuditLog", master=True)).json()["results"]
    assert any(row["entityId"] == sid and row["actor"]["objectId"] == clinic.dr_in.id for row in rows)


async def test_study_status_is_checked(clinic: Clinic) -> None:
    r = await clinic.api.post("/classes/SleepStudy", study(clinic, status="whatever"), headers=clinic.dr_in.headers)
    assert r.status_code == 400 and r.json()["code"] == 142 and "status must be one of" in r.json()["error"]


async def test_study_history_respects_the_callers_access(clinic: Clinic) -> None:
    api = clinic.api
    sid = (await api.post("/classes/SleepStudy", study(clinic), headers=clinic.dr_in.headers)).json()["objectId"]
    r = await call(api, "studyHistory", {"studyId": sid}, clinic.dr_in.headers)
    assert [(e["version"], e["current"]) for e in r.json()["result"]] == [(1, True)]
    r = await call(api, "studyHistory", {"studyId": sid}, clinic.dr_out.headers)
    assert r.json()["code"] == 101
    assert (await call(api, "studyHistory", {"studyId": sid})).json()["code"] == 142
