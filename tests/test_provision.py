"""Schema import at start-up: both file formats, idempotent re-provisioning, refusals with JSON paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.app import Engine
from engine.cli import main
from engine.pipeline.schema_store import SchemaConflict
from engine.schema.loader import SchemaFileError, load_schema_file, parse_schema_document
from engine.storage.memory import MemoryAdapter
from tests.conftest import ROOT, make_settings, start_app

SEED = ROOT / "tests" / "fixtures" / "sleeplab-seed-schema.json"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "sleeplab-seed-schema.json"


def test_vendored_seed_is_the_template_verbatim() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("the shared template is not beside this checkout")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_schema_loads_unchanged() -> None:
    classes = {c.name: c for c in load_schema_file(SEED)}
    assert set(classes) == {"PatientProfile", "SleepStudy", "TitrationLog", "Message", "Appointment", "AuditLog"}
    study = classes["SleepStudy"]
    assert study.fields["patient"].target_class == "PatientProfile" and study.fields["patient"].required
    assert study.fields["attachments"].type.value == "Array" and not study.fields["attachments"].required


def test_parse_schemas_format_is_accepted() -> None:
    doc = {"results": [{"className": "Night", "fields": {"minutes": {"type": "Number", "required": True}},
                        "classLevelPermissions": {"find": {"*": True}, "get": {"requiresAuthentication": True}},
                        "indexes": {"minutes_1": {"minutes": 1}}}]}
    (night,) = parse_schema_document(doc)
    assert night.clp["get"] == {"requiresAuthentication": True} and night.indexes["minutes_1"] == {"minutes": 1}
    assert [c.name for c in parse_schema_document(doc["results"])] == ["Night"]


def test_every_problem_is_reported_with_its_json_path() -> None:
    doc: dict[str, Any] = {"classes": [
        {"className": "Ok", "fields": {"a": {"type": "Strin"}}},
        {"fields": {}},
        {"className": "P", "fields": {"p": {"type": "Pointer"}}},
    ]}
    with pytest.raises(SchemaFileError) as err:
        parse_schema_document(doc)
    text = "\n".join(err.value.problems)
    assert "$.classes[0].fields.a.type" in text
    assert "$.classes[1]" in text and "className" in text
    assert "$.classes[2].fields.p" in text and "targetClass" in text


def test_semantic_problems_are_reported_with_paths() -> None:
    doc = {"classes": [{"className": "A", "fields": {"bad-name": {"type": "String"}}},
                       {"className": "A", "fields": {}}]}
    with pytest.raises(SchemaFileError) as err:
        parse_schema_document(doc)
    assert err.value.problems[0].startswith("$.classes[0]:")
    assert any("declared twice" in p for p in err.value.problems)


def test_cli_schema_check_exits_nonzero_and_prints_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": [{"className": 5}, {"className": "X", "fields": {"y": {}}}]}))
    assert main(["schema", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "$.classes[0].className" in err and "$.classes[1].fields.y" in err
    assert main(["schema", "check", str(SEED)]) == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["schema", "check", str(broken)]) == 2
    assert main(["serve", "--schema", str(bad)]) == 2


async def test_provisioning_twice_keeps_data_and_adds_fields(tmp_path: Path) -> None:
    storage = MemoryAdapter()
    app, client = await start_app(make_settings(schema_path=str(SEED)), storage)
    async with client:
        h = {"X-Parse-Application-Id": "testapp", "X-Parse-Master-Key": "test-master-key"}
        r = await client.post("/parse/classes/AuditLog", headers=h, json={
            "actor": {"__type": "Pointer", "className": "_User", "objectId": "u1"}, "entityType": "SleepStudy",
            "entityId": "s1", "action": "read", "summary": "viewed"})
        assert r.status_code == 201
        oid = r.json()["objectId"]
    extended = json.loads(SEED.read_text())
    extended["classes"][5]["fields"]["ip"] = {"type": "String", "required": False}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(extended))
    engine = Engine(make_settings(schema_path=str(path)), storage)
    changes = await engine.start()
    assert changes == ["added field AuditLog.ip"]
    assert "ip" in engine.schemas.require("AuditLog").fields
    again = Engine(make_settings(schema_path=str(path)), storage)
    assert await again.start() == []
    app2, client2 = await start_app(make_settings(schema_path=str(path)), storage)
    async with client2:
        r = await client2.get(f"/parse/classes/AuditLog/{oid}", headers={"X-Parse-Application-Id": "testapp"})
        assert r.status_code == 200 and r.json()["summary"] == "viewed"


async def test_changed_type_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    storage = MemoryAdapter()
    await Engine(make_settings(schema_path=str(SEED)), storage).start()
    changed = json.loads(SEED.read_text())
    changed["classes"][1]["fields"]["results"] = {"type": "Number", "required": True}
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    with pytest.raises(SchemaConflict) as err:
        await Engine(make_settings(schema_path=str(path)), storage).start()
    assert "SleepStudy.results is stored as String" in str(err.value) and "Number" in str(err.value)
