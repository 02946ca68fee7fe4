"""Parse compatibility: Parse Server options people rely on (issue 14, item 9): readOnlyMasterKey, idempotency
paths anchored as Parse anchors them, a Parse Server JSON config file and PARSE_SERVER_* JSON values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import _parser, _settings
from engine.parse_options import ConfigError, from_environment, from_mapping
from tests.conftest import Api

RO = "read-only-key"


def _ro(api: Api) -> dict[str, str]:
    return api.headers(**{"X-Parse-Master-Key": RO})


async def test_read_only_master_key_reads_everything_and_writes_nothing(app_factory: Any) -> None:
    _, api = await app_factory(read_only_master_key=RO)
    made = await api.post("/classes/Note", {"text": "private", "ACL": {}}, master=True)
    oid = made.json()["objectId"]
    # Reads as the master key: an object nobody else may read, and the master-only /schemas.
    got = await api.get(f"/classes/Note/{oid}", headers=_ro(api))
    assert got.status_code == 200 and got.json()["text"] == "private"
    assert (await api.get("/schemas", headers=_ro(api))).status_code == 200
    # Writes: Parse's 119 with its wording, whichever way they arrive.
    for method, path, body in (("POST", "/classes/Note", {"text": "x"}),
                               ("PUT", f"/classes/Note/{oid}", {"text": "x"}),
                               ("DELETE", f"/classes/Note/{oid}", None),
                               ("POST", "/schemas/Other", {"className": "Other"}),
                               ("DELETE", "/purge/Note", None),
                               ("PUT", "/config", {"params": {"a": 1}})):
        r = await api.request(method, path, body, headers=_ro(api))
        assert r.status_code == 400 and r.json()["code"] == 119, (method, path, r.text)
        assert r.json()["error"].startswith("read-only masterKey isn't allowed to")
    r = await api.post("/classes/Note", {"text": "x"}, headers=_ro(api))
    assert r.json()["error"] == "read-only masterKey isn't allowed to perform the create operation."
    batch = await api.post("/batch", {"requests": [
        {"method": "PUT", "path": f"/parse/classes/Note/{oid}", "body": {"text": "changed"}},
        {"method": "GET", "path": f"/parse/classes/Note/{oid}"}]}, headers=_ro(api))
    assert batch.json()[0]["error"]["code"] == 119 and batch.json()[1]["success"]["text"] == "private"
    upload = await api.client.post("/parse/files/a.txt", content=b"hi",
                                   headers={**_ro(api), "Content-Type": "text/plain"})
    assert upload.status_code == 403
    assert (await api.get(f"/classes/Note/{oid}", master=True)).json()["text"] == "private"


async def test_idempotency_paths_are_anchored_at_the_start_only(app_factory: Any) -> None:
    _, api = await app_factory(idempotency_paths=("classes/Note",), allow_client_class_creation=True)
    made = await api.post("/classes/Note", {"n": 1}, headers=api.headers(**{"X-Parse-Request-Id": "a"}))
    oid = made.json()["objectId"]
    # `classes/Note` covers `classes/Note/<id>` (Parse builds `^classes/Note`, no end anchor).
    first = await api.put(f"/classes/Note/{oid}", {"n": 2}, headers=api.headers(**{"X-Parse-Request-Id": "b"}))
    again = await api.put(f"/classes/Note/{oid}", {"n": 3}, headers=api.headers(**{"X-Parse-Request-Id": "b"}))
    assert first.status_code == 200 and again.json() == {"code": 159, "error": "Duplicate request"}
    # Anchored at the start: `xclasses/Note` is not `classes/Note`.
    other = await api.post("/classes/Other", {"n": 1}, headers=api.headers(**{"X-Parse-Request-Id": "b"}))
    assert other.status_code == 201


def test_parse_server_config_file_starts_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PARSE_SERVER_APPLICATION_ID", "PARSE_SERVER_MASTER_KEY", "PORT", "PARSE_SERVER_MAX_LIMIT",
                 "PARSE_SERVER_EXPERIMENTAL_IDEMPOTENCY_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "appId": "myapp", "masterKey": "mk", "readOnlyMasterKey": "ro", "databaseURI": "memory://", "port": 4040,
        "masterKeyIps": ["10.0.0.0/8"], "allowClientClassCreation": True, "maxLimit": 500,
        "passwordPolicy": {"validatorPattern": "^.{8,}$", "doNotAllowUsername": True},
        "accountLockout": {"threshold": 3, "duration": 2},
        "idempotencyOptions": {"paths": ["classes/.*"], "ttl": 60},
        "liveQuery": {"classNames": ["Note"]},
        "push": {"ios": {}}, "logLevel": "info",
    }))
    monkeypatch.setenv("PARSE_SERVER_MAX_LIMIT", "700")  # the environment wins over the file
    s = _settings(_parser().parse_args(["serve", str(config), "--port", "5050"]))  # and flags over both
    assert (s.app_id, s.master_key, s.read_only_master_key, s.database_uri) == ("myapp", "mk", "ro", "memory://")
    assert s.port == 5050 and s.max_limit == 700 and s.master_key_ips == ("10.0.0.0/8",)
    assert s.allow_client_class_creation is True and s.password_pattern == "^.{8,}$"
    assert s.password_do_not_allow_username is True
    assert (s.account_lockout_threshold, s.account_lockout_duration) == (3, 2)
    assert s.idempotency_paths == ("classes/.*",) and s.idempotency_ttl == 60
    assert s.live_query_classes == ("Note",)


def test_unsupported_parse_options_are_reported_not_dropped_silently(capsys: pytest.CaptureFixture[str]) -> None:
    found = from_mapping({"appId": "a", "push": {}, "passwordPolicy": {"maxPasswordAge": 3}})
    assert found.values == {"app_id": "a"} and found.ignored == ("push", "passwordPolicy.maxPasswordAge")
    env = from_environment({"PARSE_SERVER_EXPERIMENTAL_IDEMPOTENCY_OPTIONS": '{"paths": ["functions/.*"], "ttl": 9}',
                            "PARSE_SERVER_PUSH": "{}", "PARSE_SERVER_APPLICATION_ID": "known", "HOME": "/"})
    assert env.values == {"idempotency_paths": ("functions/.*",), "idempotency_ttl": 9}
    assert env.ignored == ("PARSE_SERVER_PUSH",)
    with pytest.raises(ConfigError):
        from_environment({"PARSE_SERVER_PASSWORD_POLICY": "{not json"})
    with pytest.raises(ConfigError):
        from_mapping({"maxLimit": "many"})


def test_apps_array_form(tmp_path: Path) -> None:
    assert from_mapping({"apps": [{"appId": "x", "masterKey": "y"}]}).values == {"app_id": "x", "master_key": "y"}
    with pytest.raises(ConfigError):
        from_mapping({"apps": [{}, {}]})
