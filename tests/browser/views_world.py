"""A small clinic behind a real `sleeplab serve` (schema/sleeplab.json + hooks/, SQLite in a temp dir), built
through the app's own rules: staff by `createStaffAccount` and care teams by `addToCareTeam` (the master key, as
the very first Admin does), patients by signing up and creating their own profile, CPAP nights uploaded by the
patient's own session. The browser tests then drive the starter views at /app/ against it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

PASSWORD = "views-pw-123456"
NIGHTS = 90
OTHER_SECRET = "Confidential finding of the other patient"


@dataclass(frozen=True)
class Patient:
    username: str
    name: str
    user_id: str
    token: str
    profile_id: str


@dataclass(frozen=True)
class Clinic:
    base: str  # http://127.0.0.1:port
    app_id: str
    master_key: str
    provider: str
    provider_id: str
    patient: Patient
    other: Patient

    def view(self, page: str) -> str:
        return f"{self.base}/app/{page}"


class Rest:
    def __init__(self, url: str, app_id: str, master_key: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30.0)
        self.app_id = app_id
        self.master_key = master_key

    def post(self, path: str, body: Any, *, token: str | None = None, master: bool = False) -> Any:
        headers = {"X-Parse-Application-Id": self.app_id}
        if token:
            headers["X-Parse-Session-Token"] = token
        if master:
            headers["X-Parse-Master-Key"] = self.master_key
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
        return response.json()


def _patient(rest: Rest, username: str, name: str) -> Patient:
    user = rest.post("/users", {"username": username, "password": PASSWORD})
    profile = rest.post("/classes/PatientProfile", {"displayName": name}, token=user["sessionToken"])
    return Patient(username, name, user["objectId"], user["sessionToken"], profile["objectId"])


def _pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def _date(value: datetime) -> dict[str, str]:
    return {"__type": "Date", "iso": value.isoformat().replace("+00:00", "Z")}


def upload_cpap_nights(rest: Rest, patient: Patient) -> None:
    """90 nights ending today (cpapCompliance's default range): 6 h a night, 2 h every fifth night, so any 30-night
    window has 24 nights of 4 h or more, which meets the 70 % rule. Uploaded by the patient, as their device does."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    requests = []
    for i in range(NIGHTS):
        night = today - timedelta(days=NIGHTS - 1 - i)
        body = {"patient": _pointer("PatientProfile", patient.profile_id), "nightDate": _date(night),
                "usageMinutes": 120 if i % 5 == 0 else 360, "ahi": 4.0}
        requests.append({"method": "POST", "path": "/parse/classes/CPAPLog", "body": body})
    for start in range(0, NIGHTS, 45):  # under the server's 50-request batch limit
        results = rest.post("/batch", {"requests": requests[start:start + 45]}, token=patient.token)
        assert all("success" in r for r in results), results


def build_clinic(url: str, base: str, app_id: str, master_key: str) -> Clinic:
    rest = Rest(url, app_id, master_key)
    provider = "dr.views"
    staff = rest.post("/functions/createStaffAccount", {"username": provider, "password": PASSWORD,
                                                        "role": "Provider", "displayName": "Dr. View"}, master=True)
    provider_id = staff["result"]["objectId"]
    patient = _patient(rest, "pat.one", "Pat One")
    other = _patient(rest, "pat.two", "Pat Two")
    for p in (patient, other):
        rest.post("/functions/addToCareTeam", {"patientId": p.profile_id, "providerId": provider_id}, master=True)
    doctor = rest.post("/login", {"username": provider, "password": PASSWORD})["sessionToken"]
    # The other patient has a published report the first patient must never see.
    rest.post("/classes/SleepStudy", {"patient": _pointer("PatientProfile", other.profile_id), "status": "final",
                                      "studyDate": _date(datetime(2026, 1, 5, tzinfo=UTC)),
                                      "results": OTHER_SECRET}, token=doctor)
    upload_cpap_nights(rest, patient)
    rest.client.close()
    return Clinic(base, app_id, master_key, provider, provider_id, patient, other)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    tmp: Path = tmp_path_factory.mktemp("views")
    app_id = f"views-{secrets.token_hex(4)}"
    master_key = secrets.token_hex(24)
    server = ServerProcess(
        ["--master-key", master_key, "--app-id", app_id, "--database-uri", f"sqlite:///{tmp / 'views.db'}",
         "--schema", str(ROOT / "schema" / "sleeplab.json"), "--cloud", str(ROOT / "hooks")],
        {}, ROOT, tmp / "server.log", free_port())
    server.start()
    try:
        yield build_clinic(server.url, f"http://127.0.0.1:{server.port}", app_id, master_key)
    finally:
        server.stop()
