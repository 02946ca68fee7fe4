"""Shared set-up for the audit-trail tests: a schema holding the shipped AuditLog class plus open PHI classes,
served with hooks/audit.py alone, so these tests depend on the audit trail and nothing else of the app."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import APP_ID, MASTER, ROOT, make_settings, start_app

AUDIT_HOOKS = str(ROOT / "hooks" / "audit.py")


def audit_class() -> dict[str, Any]:
    shipped = json.loads((ROOT / "schema" / "sleeplab.json").read_text())
    entry: dict[str, Any] = next(c for c in shipped["classes"] if c["className"] == "AuditLog")
    return entry


def write_schema(directory: Path) -> str:
    patient = {"className": "PatientProfile", "fields": {"name": {"type": "String"}}}
    appointment = {"className": "Appointment", "fields": {
        "patient": {"type": "Pointer", "targetClass": "PatientProfile"}, "note": {"type": "String"}}}
    path = directory / "audit-schema.json"
    path.write_text(json.dumps({"classes": [audit_class(), patient, appointment]}))
    return str(path)


async def create_patients(uri: str, schema: str, count: int) -> None:
    """Start an app on `uri` and create `count` patients at once (as the master key), then stop."""
    app, client = await start_app(make_settings(database_uri=uri, schema_path=schema, cloud=AUDIT_HOOKS))
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER}
    try:
        async with client:
            async def one(i: int) -> httpx.Response:
                return await client.post("/parse/classes/PatientProfile", json={"name": f"p{i}"}, headers=headers)

            answers = await asyncio.gather(*(one(i) for i in range(count)))
            assert all(r.status_code == 201 for r in answers), [r.text for r in answers if r.status_code != 201]
    finally:
        await app.state.engine.stop()


if __name__ == "__main__":  # a second process writing the same chain: python -m tests.app.audit_world uri schema n
    asyncio.run(create_patients(sys.argv[1], sys.argv[2], int(sys.argv[3])))
