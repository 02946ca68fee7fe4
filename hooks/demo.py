"""`sleeplab demo` (the cloud job `demo`): a realistic demo clinic, idempotent, with the logins to try.

Everything is found by a natural key before it is created (usernames, the patient's user, a study's date, a
night's date, a message's conversation and text, an appointment's start), so a second run adds nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.cloud import CloudObject, DataApi, JobRequest, job
from engine.wire import Pointer
from hooks._clinic import ADMIN, PATIENT, PROVIDER, add_members, care_team_role

PASSWORD = "sleeplab-demo"
ADMIN_USER = ("admin", "Clinic Admin")
PROVIDERS = (("dr.okafor", "Dr. Ada Okafor"), ("dr.lindqvist", "Dr. Erik Lindqvist"))
PATIENTS = (("maria.silva", "Maria Silva"), ("james.chen", "James Chen"), ("aisha.khan", "Aisha Khan"),
            ("tom.berger", "Tom Berger"), ("lena.fischer", "Lena Fischer"), ("samuel.osei", "Samuel Osei"))
NIGHTS = 90
DAY = datetime(2026, 1, 1, tzinfo=UTC)


async def _user(data: DataApi, username: str, name: str, role: str) -> CloudObject:
    found = await data.query("_User").equal_to("username", username).first(use_master=True)
    if found is None:
        found = await data.create("_User", {"username": username, "password": PASSWORD, "displayName": name,
                                            "email": f"{username}@demo.sleeplab.test"}, use_master=True)
    assert found.object_id is not None
    await add_members(data, role, [found.object_id])
    return found


async def _first_or_create(data: DataApi, class_name: str, key: dict[str, Any], fields: dict[str, Any]) -> CloudObject:
    query = data.query(class_name)
    for name, value in key.items():
        query = query.equal_to(name, value)
    found = await query.first(use_master=True)
    return found if found is not None else await data.create(class_name, {**key, **fields}, use_master=True)


async def _study(data: DataApi, patient: Pointer, provider: Pointer, n: int) -> CloudObject:
    """A diagnostic study that went preliminary → final, and for every other patient an amendment (versions 1-3)."""
    ahi = 12.0 + 7 * n
    when = DAY + timedelta(days=-30 + n)
    found = await data.query("SleepStudy").equal_to("patient", patient).equal_to("studyDate", when).first(
        use_master=True)
    if found is not None:
        return found
    sleep_data = {"ahi": ahi, "rdi": round(ahi * 1.2, 1), "odi": round(ahi * 0.8, 1), "sleepEfficiency": 0.82,
                  "tstMinutes": 395 - 5 * n, "spo2Nadir": 86 - n}
    study = await data.create("SleepStudy", {
        "patient": patient, "provider": provider, "studyDate": when, "status": "preliminary",
        "reportType": "Diagnostic polysomnography", "sleepData": sleep_data,
        "results": f"Obstructive sleep apnea, AHI {ahi:.0f}/h (preliminary)"}, use_master=True)
    study["status"] = "final"
    study["results"] = f"Obstructive sleep apnea, AHI {ahi:.0f}/h. CPAP recommended."
    await data.save(study, use_master=True)
    if n % 2 == 0:
        study["status"] = "amended"
        study["results"] = f"Obstructive sleep apnea, AHI {ahi:.0f}/h; positional component. CPAP recommended."
        await data.save(study, use_master=True)
    return study


async def _cpap(data: DataApi, patient: Pointer, n: int) -> int:
    existing = await data.query("CPAPLog").equal_to("patient", patient).count(use_master=True)
    if existing >= NIGHTS:
        return 0
    have = {row["nightDate"] for row in await data.query("CPAPLog").equal_to("patient", patient).select(
        "nightDate").limit(NIGHTS + 10).find(use_master=True)}
    added = 0
    for night in range(NIGHTS):
        when = DAY + timedelta(days=night)
        if when in have:
            continue
        # Patients 0-2 adhere well; 3-5 struggle (some missed nights, short use), as in a real clinic.
        base = 390 - 45 * n + 40 * math.sin(night / 3 + n)
        minutes = 0 if (n >= 3 and night % (9 - n) == 0) else max(0, round(base))
        await data.create("CPAPLog", {
            "patient": patient, "nightDate": when, "usageMinutes": minutes, "ahi": round(max(1.0, 9 - night / 15), 1),
            "leak": round(14 + 6 * math.sin(night / 5), 1), "pressure": 9 + n % 3, "mask": "nasal pillows",
            "deviceSerial": f"AS11-{1000 + n}", "usageData": {"sessions": 1 if minutes else 0},
            "loggedAt": when + timedelta(hours=9)}, use_master=True)
        added += 1
    return added


@job("demo")
async def demo(req: JobRequest) -> str:
    data = req.data
    admin = await _user(data, *ADMIN_USER, ADMIN)
    providers = [await _user(data, username, name, PROVIDER) for username, name in PROVIDERS]
    logs = 0
    for n, (username, name) in enumerate(PATIENTS):
        user = await _user(data, username, name, PATIENT)
        assert user.object_id is not None
        profile = await _first_or_create(data, "PatientProfile", {"user": user.to_pointer()}, {
            "displayName": name, "medicalRecordNumber": f"MRN-DEMO-{n + 1:04d}", "isActive": True,
            "dateOfBirth": datetime(1960 + 5 * n, 1 + n, 10, tzinfo=UTC), "primaryClinic": "Northside Sleep Center"})
        provider = providers[n % 2]
        assert provider.object_id is not None
        await add_members(data, care_team_role(user.object_id), [provider.object_id])
        patient = profile.to_pointer()
        await _study(data, patient, provider.to_pointer(), n)
        logs += await _cpap(data, patient, n)
        await _first_or_create(data, "TitrationLog", {"patient": patient, "logDate": DAY + timedelta(days=14)},
                               {"pressureAdjustment": "+1 cmH2O", "note": "Residual snoring reported"})
        thread = f"demo-{n + 1}"
        for sender, recipient, text in (
                (user, provider, "My mask leaks at night, what can I do?"),
                (provider, user, "Try the medium cushion and tighten the top strap slightly."),
                (user, provider, "That helped, thank you!")):
            await _first_or_create(data, "Message", {"conversationId": thread, "body": text}, {
                "patient": patient, "from": sender.to_pointer(), "to": recipient.to_pointer(), "isRead": False})
        start = DAY + timedelta(days=100 + n // 2, hours=9 + n % 2)
        await _first_or_create(data, "Appointment", {"provider": provider.to_pointer(), "startAt": start}, {
            "patient": patient, "endAt": start + timedelta(minutes=45), "status": "scheduled",
            "location": "Room 2", "reason": "90-day CPAP follow-up"})
    logins = [(ADMIN_USER[0], ADMIN)] + [(u, PROVIDER) for u, _ in PROVIDERS] + [(u, PATIENT) for u, _ in PATIENTS]
    assert admin.object_id is not None
    lines = [f"Demo clinic ready ({logs} CPAP logs added this run). Log in with password {PASSWORD!r} as:"]
    lines += [f"  {username:<14} {role}" for username, role in logins]
    lines.append("Care teams: dr.okafor treats maria.silva, aisha.khan, lena.fischer; dr.lindqvist the others.")
    return "\n".join(lines)
