"""A client attaches only files it uploaded, or files the object already holds: knowing a name is not access."""

from __future__ import annotations

from typing import Any

from engine.cloud import SaveRequest
from engine.wire import File
from tests.conftest import Api
from tests.files.test_files_http import PDF, note_class, path_of, upload, user


def _file(name: str) -> dict[str, str]:
    return {"__type": "File", "name": name}


async def test_someone_elses_file_cannot_be_attached(api: Api) -> None:
    await note_class(api)
    owner_id, owner = await user(api, "ann")
    thief_id, thief = await user(api, "tom")
    name = (await upload(api, "report.pdf", PDF, owner)).json()["name"]
    for body in ({"doc": _file(name)}, {"docs": [_file(name)]}, {"meta": {"inner": [_file(name)]}}):
        r = await api.post("/classes/Note", {**body, "ACL": {thief_id: {"read": True, "write": True}}},
                           headers=api.as_user(thief))
        assert r.status_code == 400 and r.json()["code"] == 119, r.text
    mine = (await api.post("/classes/Note", {"ACL": {thief_id: {"read": True, "write": True}}},
                           headers=api.as_user(thief))).json()["objectId"]
    for body in ({"doc": _file(name)}, {"docs": {"__op": "AddUnique", "objects": [_file(name)]}}):
        r = await api.put(f"/classes/Note/{mine}", body, headers=api.as_user(thief))
        assert r.status_code == 400 and r.json()["code"] == 119, r.text
    assert "doc" not in (await api.get(f"/classes/Note/{mine}", headers=api.as_user(thief))).json()
    # Through a batch the same rule holds.
    r = await api.post("/batch", {"requests": [{"method": "PUT", "path": f"/parse/classes/Note/{mine}",
                                                "body": {"doc": _file(name)}}]}, headers=api.as_user(thief))
    assert r.json()[0]["error"]["code"] == 119, r.text
    assert owner_id != thief_id


async def test_own_uploads_and_files_already_held_are_fine(api: Api) -> None:
    await note_class(api)
    owner_id, owner = await user(api, "ida")
    editor_id, editor = await user(api, "eve")
    name = (await upload(api, "report.pdf", PDF, owner)).json()["name"]
    acl = {owner_id: {"read": True, "write": True}, editor_id: {"read": True, "write": True}}
    r = await api.post("/classes/Note", {"doc": _file(name), "ACL": acl}, headers=api.as_user(owner))
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    # Another writer of the object may keep (re-send) the file it already holds, and edit other fields.
    r = await api.put(f"/classes/Note/{oid}", {"doc": _file(name), "title": "x"}, headers=api.as_user(editor))
    assert r.status_code == 200, r.text
    got = (await api.get(f"/classes/Note/{oid}", headers=api.as_user(editor))).json()
    assert (await api.client.get(path_of(got["doc"]["url"]))).content == PDF
    # The master key may attach anything; a name the file store never saw exposes nothing and stays allowed.
    r = await api.post("/classes/Note", {"doc": _file(name)}, master=True)
    assert r.status_code == 201, r.text
    r = await api.post("/classes/Note", {"doc": _file("0" * 32 + "_legacy.pdf"), "ACL": acl},
                       headers=api.as_user(editor))
    assert r.status_code == 201, r.text


async def test_hooks_see_file_values_with_a_signed_url(app_factory: Any) -> None:
    app, api = await app_factory()
    cloud = app.state.engine.cloud
    seen: list[str | None] = []

    @cloud.after_save("Note")
    async def saved(req: SaveRequest) -> None:
        doc = req.object.get("doc")
        seen.append(doc.url if isinstance(doc, File) else None)

    await note_class(api)
    owner_id, owner = await user(api, "uma")
    name = (await upload(api, "report.pdf", PDF, owner)).json()["name"]
    r = await api.post("/classes/Note", {"doc": _file(name), "ACL": {owner_id: {"read": True}}},
                       headers=api.as_user(owner))
    assert r.status_code == 201, r.text
    assert seen and seen[0] is not None and "sig=" in seen[0]
    assert (await api.client.get(path_of(seen[0]))).content == PDF
