"""A small clinic on the shipped schema and hooks/: an admin, two providers (one on the team), two patients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import APP_SCHEMA, ROOT, Api


@dataclass(frozen=True)
class Person:
    id: str
    token: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Clinic:
    api: Api
    admin: Person
    dr_in: Person  # on patient A's care team
    dr_out: Person  # a provider, but not on A's team
    patient_a: Person
    patient_b: Person
    profile_a: str
    profile_b: str

    def pointer(self, profile_id: str) -> dict[str, str]:
        return {"__type": "Pointer", "className": "PatientProfile", "objectId": profile_id}


def user_ptr(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


async def login(api: Api, username: str, password: str = "pw-123456") -> Person:
    r = await api.post("/login", {"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Person(r.json()["objectId"], r.json()["sessionToken"], api.as_user(r.json()["sessionToken"]))


async def call(api: Api, name: str, params: dict[str, Any], headers: dict[str, str] | None = None,
               master: bool = False) -> Any:
    return await api.post(f"/functions/{name}", params, headers=headers, master=master)


async def staff(api: Api, username: str, role: str, headers: dict[str, str] | None = None) -> Person:
    r = await call(api, "createStaffAccount", {"username": username, "password": "pw-123456", "role": role},
                   headers=headers, master=headers is None)
    assert r.status_code == 200, r.text
    return await login(api, username)


async def patient(api: Api, username: str, name: str) -> tuple[Person, str]:
    uid, token = await api.signup(username)
    person = Person(uid, token, api.as_user(token))
    r = await api.post("/classes/PatientProfile", {"displayName": name}, headers=person.headers)
    assert r.status_code == 201, r.text
    return person, r.json()["objectId"]


@pytest.fixture
async def clinic(app_factory: Any) -> Clinic:
    return await make_clinic(app_factory)


async def make_clinic(app_factory: Any) -> Clinic:
    _, api = await app_factory(cloud=str(ROOT / "hooks"), schema_path=str(APP_SCHEMA))
    admin = await staff(api, "admin", "Admin")
    dr_in = await staff(api, "dr_in", "Provider", admin.headers)
    dr_out = await staff(api, "dr_out", "Provider", admin.headers)
    patient_a, profile_a = await patient(api, "pat_a", "Patient A")
    patient_b, profile_b = await patient(api, "pat_b", "Patient B")
    r = await call(api, "addToCareTeam", {"patientId": profile_a, "providerId": dr_in.id}, admin.headers)
    assert r.status_code == 200, r.text
    r = await call(api, "addToCareTeam", {"patientId": profile_b, "providerId": dr_out.id}, admin.headers)
    assert r.status_code == 200, r.text
    return Clinic(api, admin, dr_in, dr_out, patient_a, patient_b, profile_a, profile_b)
