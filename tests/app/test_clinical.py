"""Versioned studies, CPAP compliance, messaging, appointments: each rule allowed and refused, over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.app.conftest import Clinic, call, date, user_ptr


def study_body(clinic: Clinic, status: str = "draft") -> dict[str, Any]:
    return {"patient": clinic.pointer(clinic.profile_a), "studyDate": date("2026-03-01T22:00:00.000Z"),
            "results": "AHI 12", "status": status, "reportType": "diagnostic PSG",
            "sleepData": {"ahi": 12.5, "rdi": 15.1, "odi": 9.0, "sleepEfficiency": 0.84, "tstMinutes": 402}}


async def test_versioned_studies(clinic: Clinic) -> None:
    api, dr, pat = clinic.api, clinic.dr_in.headers, clinic.patient_a.headers
    r = await api.post("/classes/SleepStudy", study_body(clinic), headers=dr)
    assert r.status_code == 201, r.text
    sid = r.json()["objectId"]
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=pat)).json()["code"] == 101  # a draft is hidden
    assert (await api.put(f"/classes/SleepStudy/{sid}", {"results": "AHI 13"}, headers=dr)).status_code == 200
    r = await api.put(f"/classes/SleepStudy/{sid}", {"status": "preliminary"}, headers=dr)
    assert r.status_code == 200
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=dr)).json()["version"] == 1  # drafts: no versions
    assert (await api.get("/classes/SleepStudy", headers=pat)).json()["results"] == []
    r = await api.put(f"/classes/SleepStudy/{sid}", {"status": "final"}, headers=dr)
    assert r.status_code == 200
    got = (await api.get(f"/classes/SleepStudy/{sid}", headers=pat)).json()
    assert got["status"] == "final" and got["version"] == 2 and "reportedAt" in got
    r = await api.put(f"/classes/SleepStudy/{sid}", {"results": "AHI 14"}, headers=dr)
    assert r.json()["code"] == 142 and "amended" in r.json()["error"]  # never silently edited
    r = await api.put(f"/classes/SleepStudy/{sid}", {"results": "AHI 14", "status": "amended"}, headers=dr)
    assert r.status_code == 200
    r = await api.put(f"/classes/SleepStudy/{sid}", {"version": 9}, headers=dr)
    assert r.json()["code"] == 119
    r = await api.put(f"/classes/SleepStudy/{sid}", {"results": "x"}, headers=pat)
    assert r.json()["code"] == 119  # patients never write studies
    assert (await api.delete(f"/classes/SleepStudy/{sid}", headers=dr)).json()["code"] == 119
    r = await call(api, "studyHistory", {"studyId": sid}, pat)
    history = r.json()["result"]
    assert [(h["version"], h["status"], h["current"]) for h in history] == [
        (1, "preliminary", False), (2, "final", False), (3, "amended", True)]
    assert history[1]["results"] == "AHI 13" and history[2]["results"] == "AHI 14"
    assert history[0]["changedBy"] == clinic.dr_in.id
    assert (await call(api, "studyHistory", {"studyId": sid}, clinic.patient_b.headers)).json()["code"] == 101
    assert (await call(api, "studyHistory", {"studyId": sid}, clinic.dr_out.headers)).json()["code"] == 101
    versions = (await api.get("/classes/SleepStudyVersion", headers=pat)).json()["results"]
    assert [v["status"] for v in versions] == ["final"]  # the preliminary snapshot stays with the care team
    vid = versions[0]["objectId"]
    assert (await api.put(f"/classes/SleepStudyVersion/{vid}", {"status": "x"}, headers=dr)).json()["code"] == 119
    r = await api.put(f"/classes/SleepStudyVersion/{vid}", {"status": "x"}, master=True)
    assert r.json()["code"] == 119  # immutable, even for the master key
    assert (await api.post("/classes/SleepStudy", study_body(clinic, "bogus"), headers=dr)).json()["code"] == 142


async def test_cpap_logs_and_compliance(clinic: Clinic) -> None:
    api, pat = clinic.api, clinic.patient_a.headers
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(35):
        minutes = 300 if i % 10 < 8 else 120  # 80 % of nights over 4 h
        night = (start + timedelta(days=i)).isoformat().replace("+00:00", "Z")
        body = {"patient": clinic.pointer(clinic.profile_a), "nightDate": date(night), "usageMinutes": minutes,
                "ahi": 10 - i * 0.2, "leak": 12, "pressure": 9, "mask": "nasal", "deviceSerial": "AS11-1"}
        r = await api.post("/classes/CPAPLog", body, headers=pat)
        assert r.status_code == 201, r.text
    other = {"patient": clinic.pointer(clinic.profile_a), "nightDate": date("2026-03-01T00:00:00.000Z"),
             "usageMinutes": 400}
    assert (await api.post("/classes/CPAPLog", other, headers=clinic.patient_b.headers)).json()["code"] == 119
    assert (await api.post("/classes/CPAPLog", {**other, "usageMinutes": 5000}, headers=pat)).json()["code"] == 142
    params = {"patientId": clinic.profile_a, "from": "2026-01-01", "to": "2026-02-04"}
    r = await call(api, "cpapCompliance", params, clinic.dr_in.headers)
    result = r.json()["result"]
    assert result["nights"] == 35 and result["nightsLogged"] == 35 and result["adherent"] is True
    assert result["bestWindow"]["nightsOver4h"] == 24 and result["ahiTrend"]["direction"] == "improving"
    assert result["nightly"][0] == {"date": "2026-01-01", "minutes": 300.0, "hours": 5.0, "ahi": 10.0,
                                    "logged": True}
    assert (await call(api, "cpapCompliance", params, pat)).json()["result"]["adherent"] is True
    assert (await call(api, "cpapCompliance", params, clinic.patient_b.headers)).json()["code"] == 101
    assert (await call(api, "cpapCompliance", params, clinic.dr_out.headers)).json()["code"] == 101
    r = await call(api, "cpapCompliance", {**params, "from": "2025-01-01"}, pat)
    assert r.json()["code"] == 142  # ranges are bounded
    r = await call(api, "cpapCompliance", {**params, "to": "2026-01-20"}, pat)
    assert r.json()["result"]["adherent"] is False and r.json()["result"]["bestWindow"] is None


async def test_messages(clinic: Clinic) -> None:
    api, pat, dr = clinic.api, clinic.patient_a.headers, clinic.dr_in.headers
    body = {"patient": clinic.pointer(clinic.profile_a), "to": user_ptr(clinic.dr_in.id), "body": "Mask leaks",
            "conversationId": "c1", "isRead": True}
    r = await api.post("/classes/Message", {**body, "from": user_ptr(clinic.dr_in.id)}, headers=pat)
    assert r.json()["code"] == 119  # from is always the caller
    r = await api.post("/classes/Message", {**body, "to": user_ptr(clinic.dr_out.id)}, headers=pat)
    assert r.json()["code"] == 142  # not on the care team
    r = await api.post("/classes/Message", body, headers=clinic.patient_b.headers)
    assert r.json()["code"] == 119  # not their patient record
    r = await api.post("/classes/Message", body, headers=pat)
    assert r.status_code == 201, r.text
    mid = r.json()["objectId"]
    got = (await api.get(f"/classes/Message/{mid}", headers=dr)).json()
    assert got["from"]["objectId"] == clinic.patient_a.id and got["isRead"] is False and "readAt" not in got
    for who in (clinic.patient_b, clinic.dr_out, clinic.admin):
        r = await api.get(f"/classes/Message/{mid}", headers=who.headers)
        assert r.json().get("code") in (101, 119), who
    assert (await api.put(f"/classes/Message/{mid}", {"isRead": True}, headers=pat)).json()["code"] == 101
    assert (await api.put(f"/classes/Message/{mid}", {"body": "edited"}, headers=dr)).json()["code"] == 119
    r = await api.put(f"/classes/Message/{mid}", {"isRead": True}, headers=dr)
    assert r.status_code == 200, r.text
    got = (await api.get(f"/classes/Message/{mid}", headers=pat)).json()
    assert got["isRead"] is True and "readAt" in got
    reply = {"patient": clinic.pointer(clinic.profile_a), "to": user_ptr(clinic.patient_a.id), "body": "Try a size M",
             "conversationId": "c1"}
    assert (await api.post("/classes/Message", reply, headers=dr)).status_code == 201
    thread = (await api.get("/classes/Message", params={"where": '{"conversationId":"c1"}', "order": "createdAt"},
                            headers=pat)).json()["results"]
    assert [m["body"] for m in thread] == ["Mask leaks", "Try a size M"]


async def test_appointments(clinic: Clinic) -> None:
    api, dr = clinic.api, clinic.dr_in.headers

    def appt(start: str, end: str) -> dict[str, Any]:
        return {"patient": clinic.pointer(clinic.profile_a), "startAt": date(start), "endAt": date(end),
                "status": "scheduled", "reason": "CPAP follow-up"}

    r = await api.post("/classes/Appointment", appt("2026-04-01T09:00:00.000Z", "2026-04-01T09:00:00.000Z"),
                       headers=dr)
    assert r.json()["code"] == 142 and "endAt" in r.json()["error"]
    r = await api.post("/classes/Appointment", appt("2026-04-01T09:00:00.000Z", "2026-04-01T10:00:00.000Z"),
                       headers=dr)
    assert r.status_code == 201, r.text
    r = await api.post("/classes/Appointment", appt("2026-04-01T09:30:00.000Z", "2026-04-01T10:30:00.000Z"),
                       headers=dr)
    assert r.json()["code"] == 142
    r = await api.post("/classes/Appointment", appt("2026-04-01T10:00:00.000Z", "2026-04-01T10:30:00.000Z"),
                       headers=dr)
    assert r.status_code == 201  # back to back is fine
    r = await api.post("/classes/Appointment", appt("2026-04-02T10:00:00.000Z", "2026-04-02T10:30:00.000Z"),
                       headers=clinic.dr_out.headers)
    assert r.json()["code"] == 119
    mine = (await api.get("/classes/Appointment", headers=clinic.patient_a.headers)).json()["results"]
    assert len(mine) == 2
    assert (await api.get("/classes/Appointment", headers=clinic.patient_b.headers)).json()["results"] == []


async def test_double_booking_under_concurrency(clinic: Clinic) -> None:
    api = clinic.api
    body = {"patient": clinic.pointer(clinic.profile_a), "startAt": date("2026-05-01T09:00:00.000Z"),
            "endAt": date("2026-05-01T10:00:00.000Z"), "status": "scheduled"}
    # Ten overlapping bookings at once (shifted by minutes): exactly one wins.
    bodies = [{**body, "startAt": date(f"2026-05-01T09:{i:02d}:00.000Z")} for i in range(10)]
    results = await asyncio.gather(*(api.post("/classes/Appointment", b, headers=clinic.dr_in.headers)
                                     for b in bodies))
    assert sorted(r.status_code for r in results) == [201] + [400] * 9
    assert all(r.json()["code"] == 142 for r in results if r.status_code == 400)


async def test_message_attachments_are_files_only_sender_and_recipient_can_fetch(clinic: Clinic) -> None:
    api, pat, dr = clinic.api, clinic.patient_a.headers, clinic.dr_in.headers
    up = await api.client.post("/parse/files/mask.pdf", content=b"%PDF-1.4 mask photo",
                               headers={**pat, "Content-Type": "application/pdf"})
    assert up.status_code == 201, up.text
    name = up.json()["name"]
    body = {"patient": clinic.pointer(clinic.profile_a), "to": user_ptr(clinic.dr_in.id), "body": "See the mask"}
    r = await api.post("/classes/Message", {**body, "attachments": ["not a file"]}, headers=pat)
    assert r.json()["code"] == 142, r.text
    # Someone else's upload cannot be attached, even knowing its name.
    theirs = await api.client.post("/parse/files/other.pdf", content=b"%PDF-1.4 other",
                                   headers={**dr, "Content-Type": "application/pdf"})
    r = await api.post("/classes/Message", {**body, "attachments": [{"__type": "File", "name": theirs.json()["name"]}]},
                       headers=pat)
    assert r.json()["code"] == 119, r.text
    r = await api.post("/classes/Message", {**body, "attachments": [{"__type": "File", "name": name}]}, headers=pat)
    assert r.status_code == 201, r.text
    mid = r.json()["objectId"]
    got = (await api.get(f"/classes/Message/{mid}", headers=dr)).json()
    url = got["attachments"][0]["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert (await api.client.get(path)).content == b"%PDF-1.4 mask photo"
    for outsider in (clinic.dr_out, clinic.patient_b):
        r = await api.get(f"/classes/Message/{mid}", headers=outsider.headers)
        assert r.status_code == 404, r.text
    # Without the signature the download reveals nothing.
    assert (await api.client.get(path.split("?", 1)[0])).status_code == 403
