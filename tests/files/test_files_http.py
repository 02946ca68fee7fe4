"""The files API as a client sees it: upload (raw and the JS SDK's JSON), signed downloads, the upload policy."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.cloud import CloudFile, ErrorCode, FileRequest, ParseError
from tests.conftest import APP_ID, MASTER, Api

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


async def upload(api: Api, name: str, data: bytes, token: str | None = None, content_type: str = "application/pdf",
                 **extra: str) -> Any:
    headers = {"X-Parse-Application-Id": APP_ID, "Content-Type": content_type, **extra}
    if token:
        headers["X-Parse-Session-Token"] = token
    return await api.client.post(f"/parse/files/{name}", content=data, headers=headers)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def user(api: Api, name: str) -> tuple[str, str]:
    return await api.signup(name)


async def test_raw_upload_answers_201_with_a_signed_url_the_uploader_can_fetch(api: Api) -> None:
    _, token = await user(api, "ada")
    r = await upload(api, "report.pdf", PDF, token)
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}_report\.pdf", body["name"])
    assert r.headers["location"] == body["url"]
    assert body["url"].startswith(f"http://testserver/parse/files/{APP_ID}/{body['name']}?exp=")
    got = await api.client.get(path_of(body["url"]))
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == 'inline; filename="report.pdf"'
    assert got.headers["etag"]


async def test_the_js_sdk_json_body_uploads_too(api: Api) -> None:
    _, token = await user(api, "bea")
    body = {"base64": base64.b64encode(b"EDF raw").decode(), "_ContentType": "application/octet-stream",
            "_ApplicationId": APP_ID, "_SessionToken": token, "_ClientVersion": "js8.6.2",
            "fileData": {"metadata": {"study": "s1"}, "tags": {}}}
    r = await api.client.post("/parse/files/night.edf", json=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    got = await api.client.get(path_of(r.json()["url"]))
    assert got.content == b"EDF raw"
    assert got.headers["content-disposition"] == 'attachment; filename="night.edf"'


async def test_range_and_etag(api: Api) -> None:
    _, token = await user(api, "cid")
    url = path_of((await upload(api, "scan.pdf", PDF, token)).json()["url"])
    first = await api.client.get(url)
    etag = first.headers["etag"]
    assert (await api.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    part = await api.client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == PDF[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(PDF)}"
    tail = await api.client.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == PDF[-5:]
    bad = await api.client.get(url, headers={"Range": f"bytes={len(PDF)}-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{len(PDF)}"


async def test_unsigned_expired_and_forged_urls_answer_the_same_403(api: Api) -> None:
    _, token = await user(api, "dan")
    name = (await upload(api, "a.pdf", PDF, token)).json()["name"]
    url = (await upload(api, "a.pdf", PDF, token)).json()["url"]
    qs = parse_qs(urlsplit(url).query)
    base = f"/parse/files/{APP_ID}/{name}"
    missing = f"/parse/files/{APP_ID}/{'0' * 32}_a.pdf"
    forged_sig = "A" * 43
    answers = [
        await api.client.get(base),
        await api.client.get(missing),
        await api.client.get(f"{base}?exp={qs['exp'][0]}&sig={forged_sig}"),
        await api.client.get(f"{missing}?exp={qs['exp'][0]}&sig={forged_sig}"),
        await api.client.get(f"{base}?exp=1000&sig={qs['sig'][0]}"),  # expired (and re-dated: bad signature)
        await api.client.get(f"/parse/files/otherapp/{name}?exp={qs['exp'][0]}&sig={qs['sig'][0]}"),
        await api.client.get(f"{base}?exp={int(qs['exp'][0]) + 60}&sig={qs['sig'][0]}"),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(403, {"code": 119, "error": "unauthorized"})] * 7
    # A session token is not a read grant: only the URL (or the master key) is.
    assert (await api.client.get(base, headers=api.as_user(token))).status_code == 403
    assert (await api.client.get(base, headers=api.headers(master=True))).status_code == 200


async def test_an_expired_signature_is_refused(app_factory: Any) -> None:
    app, api = await app_factory(file_url_ttl=1)
    _, token = await api.signup("eli")
    url = (await upload(api, "x.pdf", PDF, token)).json()["url"]
    files = app.state.engine.files
    later = type(files.signer)(files.signer.key, (), files.signer.ttl, clock=lambda: 10**11)
    assert not later.verify(url.split("/")[-1].split("?")[0], parse_qs(urlsplit(url).query)["exp"][0],
                            parse_qs(urlsplit(url).query)["sig"][0])


async def test_key_rotation_keeps_old_urls_valid(app_factory: Any) -> None:
    _, old_api = await app_factory(file_key="old-key")
    _, token = await old_api.signup("fay")
    url = path_of((await upload(old_api, "x.pdf", PDF, token)).json()["url"])
    assert (await old_api.client.get(url)).status_code == 200
    # The same files, served by an app whose key rotated: old URLs stay valid only while the old key is listed.
    app_a, rotated = await app_factory(file_key="new-key", file_old_keys=("old-key",))
    app_b, dropped = await app_factory(file_key="new-key")
    exp, sig = parse_qs(urlsplit(url).query)["exp"][0], parse_qs(urlsplit(url).query)["sig"][0]
    name = urlsplit(url).path.split("/")[-1]
    assert app_a.state.engine.files.signer.verify(name, exp, sig)
    assert not app_b.state.engine.files.signer.verify(name, exp, sig)


async def note_class(api: Api) -> None:
    r = await api.post("/schemas/Note", {"className": "Note", "fields": {"doc": {"type": "File"},
                                                                       "docs": {"type": "Array"}}}, master=True)
    assert r.status_code == 200, r.text


async def test_file_on_a_private_object_is_fetchable_by_its_reader_only(api: Api) -> None:
    await note_class(api)
    owner_id, owner = await user(api, "gus")
    _, other = await user(api, "hal")
    up = (await upload(api, "report.pdf", PDF, owner)).json()
    acl = {owner_id: {"read": True, "write": True}}
    r = await api.post("/classes/Note", {"doc": {"__type": "File", "name": up["name"], "url": "http://evil/x"},
                                          "docs": [{"__type": "File", "name": up["name"]}], "ACL": acl},
                       headers=api.as_user(owner))
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    got = (await api.get(f"/classes/Note/{oid}", headers=api.as_user(owner))).json()
    assert got["doc"]["name"] == up["name"]
    assert "sig=" in got["doc"]["url"] and "evil" not in got["doc"]["url"]
    assert "sig=" in got["docs"][0]["url"]
    assert (await api.client.get(path_of(got["doc"]["url"]))).content == PDF
    denied = await api.get(f"/classes/Note/{oid}", headers=api.as_user(other))
    assert denied.status_code == 404
    found = (await api.get("/classes/Note", headers=api.as_user(other))).json()["results"]
    assert found == []


async def test_upload_permissions_follow_parse_file_upload_options(app_factory: Any) -> None:
    _, api = await app_factory()
    r = await upload(api, "a.pdf", PDF)
    assert (r.status_code, r.json()) == (400, {"code": 130, "error": "File upload by public is disabled."})
    anon = await api.post("/users", {"authData": {"anonymous": {"id": "0f5c9b2e-anon"}}})
    r = await upload(api, "a.pdf", PDF, anon.json()["sessionToken"])
    assert r.json() == {"code": 130, "error": "File upload by anonymous user is disabled."}
    assert (await upload(api, "a.pdf", PDF, **{"X-Parse-Master-Key": MASTER})).status_code == 201
    _, open_api = await app_factory(file_upload_enable_for_public=True, file_upload_enable_for_authenticated_user=False)
    assert (await upload(open_api, "a.pdf", PDF)).status_code == 201
    _, token = await open_api.signup("ivy")
    r = await upload(open_api, "a.pdf", PDF, token)
    assert r.json() == {"code": 130, "error": "File upload by authenticated user is disabled."}


@pytest.mark.parametrize(("name", "content_type"), [
    ("page.html", "application/pdf"), ("page.HTM", "text/plain"), ("logo.svg", "image/svg+xml"),
    ("data.xml", "application/octet-stream"), ("app.js", "application/octet-stream"),
    ("report.pdf", "text/html"), ("report.pdf", "image/svg+xml"), ("x.bin", "application/rss+xml"),
    ("x.bin", "text/javascript; charset=utf-8"),
])
async def test_active_content_is_refused(api: Api, name: str, content_type: str) -> None:
    _, token = await user(api, "jon")
    r = await upload(api, name, b"<script>alert(1)</script>", token, content_type=content_type)
    assert r.status_code == 400
    assert r.json()["code"] == 130


async def test_extension_rules(app_factory: Any) -> None:
    _, api = await app_factory(file_upload_file_extensions=("pdf", "edf"), file_allow_active_content=True)
    _, token = await api.signup("kim")
    assert (await upload(api, "a.pdf", PDF, token)).status_code == 201
    r = await upload(api, "a.png", PDF, token, content_type="image/png")
    assert r.json() == {"code": 130, "error": "File upload of extension png is disabled."}


@pytest.mark.parametrize("name", [
    "..%2F..%2Fetc%2Fpasswd", "..", "%2E%2E", "a%5Cb.pdf", ".hidden.pdf", "x%0D%0ASet-Cookie:%20a=b.pdf",
    "x%22.pdf", "a" * 129 + ".pdf", "r%C3%A9sum%C3%A9.pdf",
])
async def test_traversal_and_header_injection_names_are_refused(app_factory: Any, name: str) -> None:
    app, api = await app_factory()
    _, token = await api.signup("lea")
    r = await upload(api, name, PDF, token)
    # Refused by the name rule (122) or never routed to an upload at all; nothing is stored either way.
    assert 400 <= r.status_code < 500, r.text
    if r.headers.get("content-type") == "application/json" and "/files/" in str(r.request.url):
        assert r.json()["code"] in (ErrorCode.INVALID_FILE_NAME, ErrorCode.OBJECT_NOT_FOUND, ErrorCode.INVALID_JSON)
    assert [f async for f in app.state.engine.files.adapter.list()] == []
    root = app.state.engine.files.adapter.root
    siblings = sorted(p.name for p in root.parent.iterdir())
    assert siblings == ["files", "test.db", "test.db-changes", "test.db-lock", "test.db-shm", "test.db-wal"]


async def test_size_limit(app_factory: Any) -> None:
    _, api = await app_factory(max_upload_bytes=1000)
    _, token = await api.signup("max")
    r = await upload(api, "big.pdf", b"x" * 1001, token)
    assert (r.status_code, r.json()["code"]) == (413, 116)
    assert (await upload(api, "ok.pdf", b"x" * 1000, token)).status_code == 201
    assert (await upload(api, "empty.pdf", b"", token)).json() == {"code": 130, "error": "Invalid file upload."}


async def test_delete_needs_the_master_key(app_factory: Any) -> None:
    app, api = await app_factory()
    _, token = await api.signup("ned")
    up = (await upload(api, "a.pdf", PDF, token)).json()
    r = await api.client.delete(f"/parse/files/{up['name']}", headers=api.as_user(token))
    assert r.status_code == 403
    r = await api.client.delete(f"/parse/files/{up['name']}", headers=api.headers(master=True))
    assert r.status_code == 200
    assert (await api.client.get(path_of(up["url"]))).status_code == 404
    again = await api.client.delete(f"/parse/files/{up['name']}", headers=api.headers(master=True))
    assert again.json() == {"code": 153, "error": "Could not delete file."}


async def test_public_files_keep_parse_plain_urls(app_factory: Any) -> None:
    _, api = await app_factory(public_files=True)
    _, token = await api.signup("ola")
    up = (await upload(api, "a.pdf", PDF, token)).json()
    assert "?" not in up["url"]
    assert (await api.client.get(path_of(up["url"]))).content == PDF


async def test_file_hooks_refuse_rename_and_see_deletes(app_factory: Any) -> None:
    app, api = await app_factory()
    cloud = app.state.engine.cloud
    seen: list[tuple[str, str, int | None]] = []

    @cloud.before_save_file
    def check(req: FileRequest) -> None:
        if req.file.name.startswith("virus"):
            raise ParseError(ErrorCode.FILE_SAVE_ERROR, "refused by policy")
        req.file.name = "renamed_" + req.file.name
        req.file.metadata["by"] = req.user.object_id if req.user else "?"

    @cloud.after_save_file
    async def saved(req: FileRequest) -> None:
        seen.append(("saved", req.file.name, req.file.size))

    @cloud.before_delete_file
    async def deleting(req: FileRequest) -> None:
        if not req.master:
            raise ParseError(ErrorCode.FILE_DELETE_ERROR, "no")

    @cloud.after_delete_file
    async def deleted(req: FileRequest) -> CloudFile:
        seen.append(("deleted", req.file.name, req.file.size))
        return req.file

    _, token = await api.signup("pam")
    r = await upload(api, "virus.pdf", PDF, token)
    assert (r.status_code, r.json()) == (400, {"code": 130, "error": "refused by policy"})
    up = (await upload(api, "a.pdf", PDF, token)).json()
    assert up["name"].endswith("_renamed_a.pdf")
    await api.client.delete(f"/parse/files/{up['name']}", headers=api.headers(master=True))
    assert seen == [("saved", up["name"], len(PDF)), ("deleted", up["name"], len(PDF))]
