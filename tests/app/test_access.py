"""Secure by default, care teams, accounts: each rule allowed and refused, over HTTP."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import Clinic, call, date, user_ptr
from tests.conftest import APP_SCHEMA, ROOT

CLINICAL = ("PatientProfile", "SleepStudy", "SleepStudyVersion", "CPAPLog", "TitrationLog", "Message", "Appointment")


async def test_app_id_alone_gets_a_parse_error_from_every_clinical_class(app_factory: Any) -> None:
    _, api = await app_factory(cloud=str(ROOT / "hooks"), schema_path=str(APP_SCHEMA))
    for name in CLINICAL:
        r = await api.get(f"/classes/{name}")
        assert r.status_code >= 400 and r.json()["code"] == 119, (name, r.text)
        r = await api.post(f"/classes/{name}", {"x": 1})
        assert r.json()["code"] in (101, 119) and "ermission denied" in r.json()["error"], (name, r.text)
    roles = (await api.get("/classes/_Role", master=True)).json()["results"]
    assert {"Patient", "Provider", "Admin"} <= {r["name"] for r in roles}


async def test_patients_see_only_their_own_profile(clinic: Clinic) -> None:
    api = clinic.api
    mine = (await api.get("/classes/PatientProfile", headers=clinic.patient_a.headers)).json()["results"]
    assert [p["objectId"] for p in mine] == [clinic.profile_a]
    assert mine[0]["medicalRecordNumber"].startswith("MRN-")
    r = await api.get(f"/classes/PatientProfile/{clinic.profile_a}", headers=clinic.patient_b.headers)
    assert r.json()["code"] == 101
    team = (await api.get("/classes/PatientProfile", headers=clinic.dr_in.headers)).json()["results"]
    assert [p["objectId"] for p in team] == [clinic.profile_a]
    out = (await api.get("/classes/PatientProfile", headers=clinic.dr_out.headers)).json()["results"]
    assert [p["objectId"] for p in out] == [clinic.profile_b]
    # The admin manages profiles but does not see the MRN or date of birth.
    admin_view = (await api.get("/classes/PatientProfile", headers=clinic.admin.headers)).json()["results"]
    assert len(admin_view) == 2 and all("medicalRecordNumber" not in p for p in admin_view)


async def test_profile_rules(clinic: Clinic) -> None:
    api = clinic.api
    r = await api.post("/classes/PatientProfile", {"displayName": "Again"}, headers=clinic.patient_a.headers)
    assert r.json()["code"] == 142  # one profile per user
    r = await api.post("/classes/PatientProfile", {"displayName": "Doc"}, headers=clinic.dr_in.headers)
    assert r.json()["code"] == 119  # staff are not patients
    r = await api.put(f"/classes/PatientProfile/{clinic.profile_a}", {"ACL": {"*": {"read": True}}},
                      headers=clinic.dr_in.headers)
    assert r.json()["code"] == 119
    r = await api.put(f"/classes/PatientProfile/{clinic.profile_a}", {"isActive": False},
                      headers=clinic.patient_a.headers)
    assert r.json()["code"] == 119  # patients read their profile; staff change it


async def test_staff_accounts_and_care_teams_are_admin_only(clinic: Clinic) -> None:
    api = clinic.api
    for who in (clinic.patient_a, clinic.dr_in):
        r = await call(api, "createStaffAccount", {"username": "x", "password": "pw-123456", "role": "Admin"},
                       who.headers)
        assert r.json()["code"] == 119
        r = await call(api, "addToCareTeam", {"patientId": clinic.profile_a, "providerId": clinic.dr_out.id},
                       who.headers)
        assert r.json()["code"] == 119
    r = await api.post("/classes/_Role", {"name": "careTeam_x", "ACL": {}}, headers=clinic.patient_a.headers)
    assert r.json()["code"] == 119
    r = await api.put("/classes/_User/" + clinic.patient_a.id, {"username": "pat_a2"}, headers=clinic.patient_a.headers)
    assert r.status_code == 200


async def test_care_team_changes_take_effect_at_once(clinic: Clinic) -> None:
    api = clinic.api
    study = {"patient": clinic.pointer(clinic.profile_a), "studyDate": date("2026-03-01T22:00:00.000Z"),
             "results": "AHI 12", "status": "final"}
    r = await api.post("/classes/SleepStudy", study, headers=clinic.dr_out.headers)
    assert r.json()["code"] == 119  # not on A's team
    r = await api.post("/classes/SleepStudy", study, headers=clinic.dr_in.headers)
    assert r.status_code == 201, r.text
    sid = r.json()["objectId"]
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=clinic.dr_out.headers)).json()["code"] == 101
    await call(api, "addToCareTeam", {"patientId": clinic.profile_a, "providerId": clinic.dr_out.id},
               clinic.admin.headers)
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=clinic.dr_out.headers)).status_code == 200
    r = await call(api, "removeFromCareTeam", {"patientId": clinic.profile_a, "providerId": clinic.dr_out.id},
                   clinic.admin.headers)
    assert r.json()["result"] == [clinic.dr_in.id]
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=clinic.dr_out.headers)).json()["code"] == 101
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=clinic.patient_a.headers)).status_code == 200
    assert (await api.get(f"/classes/SleepStudy/{sid}", headers=clinic.patient_b.headers)).json()["code"] == 101
    r = await call(api, "careTeam", {"patientId": clinic.profile_a}, clinic.patient_a.headers)
    assert [m["username"] for m in r.json()["result"]] == ["dr_in"]
    r = await call(api, "careTeam", {"patientId": clinic.profile_a}, clinic.patient_b.headers)
    assert r.json()["code"] == 101


async def test_the_server_sets_every_clinical_acl(clinic: Clinic) -> None:
    api = clinic.api
    body = {"patient": clinic.pointer(clinic.profile_a), "logDate": date("2026-03-02T00:00:00.000Z"),
            "pressureAdjustment": "+1", "note": "ok", "ACL": {"*": {"read": True}}}
    r = await api.post("/classes/TitrationLog", body, headers=clinic.dr_in.headers)
    assert r.status_code == 119 or r.json()["code"] == 119
    del body["ACL"]
    r = await api.post("/classes/TitrationLog", body, headers=clinic.dr_in.headers)
    assert r.status_code == 201, r.text
    row = (await api.get(f"/classes/TitrationLog/{r.json()['objectId']}", master=True)).json()
    assert row["ACL"] == {clinic.patient_a.id: {"read": True},
                          f"role:careTeam_{clinic.patient_a.id}": {"read": True, "write": True}}
    r = await api.post("/classes/TitrationLog", body, headers=clinic.patient_a.headers)
    assert r.json()["code"] == 119  # patients do not add titration entries
    assert user_ptr(clinic.dr_in.id)["objectId"] == clinic.dr_in.id
