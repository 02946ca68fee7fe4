"""`myAccount`: a signed-in user learns their own app roles and patient profile (clients cannot read `_Role`)."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import Clinic, call


async def result(clinic: Clinic, headers: dict[str, str]) -> Any:
    r = await call(clinic.api, "myAccount", {}, headers)
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def test_each_user_gets_their_own_roles_and_profile(clinic: Clinic) -> None:
    assert await result(clinic, clinic.patient_a.headers) == {"roles": ["Patient"], "profileId": clinic.profile_a}
    assert await result(clinic, clinic.patient_b.headers) == {"roles": ["Patient"], "profileId": clinic.profile_b}
    # A provider is on care teams (careTeam_<userId> roles) but only the app role is told: those names carry ids.
    assert await result(clinic, clinic.dr_in.headers) == {"roles": ["Provider"], "profileId": None}
    assert await result(clinic, clinic.admin.headers) == {"roles": ["Admin"], "profileId": None}


async def test_roles_stay_unreadable_and_myaccount_needs_a_session(clinic: Clinic) -> None:
    api = clinic.api
    rows = (await api.get("/classes/_Role", headers=clinic.dr_in.headers)).json()["results"]
    assert rows == []  # why the view asks myAccount instead of querying _Role
    r = await call(api, "myAccount", {}, api.headers())
    assert r.status_code >= 400 and r.json()["code"] == 142  # Parse's requireUser answer
    r = await call(api, "myAccount", {}, api.as_user("r:not-a-session"))
    assert r.json()["code"] == 209
