"""Files over /graphql (the GraphQL multipart request spec) and logInWith, through the REST pipeline's rules."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from engine.cloud import FileRequest
from engine.graphql.uploads import BadMultipart, UploadedFile, parse_multipart
from tests.conftest import Api
from tests.files.test_files_http import path_of
from tests.graphql.helpers import data, error, headers
from tests.security.test_email_and_auth import _keypair, _token

CREATE_FILE = ("mutation($input: CreateFileInput!) { createFile(input: $input) { clientMutationId "
               "fileInfo { name url } } }")
REPORT_CLASS = {"className": "Report", "fields": {"title": {"type": "String"}, "doc": {"type": "File"},
                                                  "meta": {"type": "Object"}}}


async def multipart(api: Api, query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]],
                    mapping: dict[str, list[str]], **kw: Any) -> httpx.Response:
    operations = orjson.dumps({"query": query, "variables": variables}).decode()
    return await api.client.post("/graphql", data={"operations": operations, "map": orjson.dumps(mapping).decode()},
                                 files=files, headers=headers(**kw))


async def test_create_file_uploads_through_the_files_pipeline(api: Api) -> None:
    _, token = await api.signup("uploader")
    payload = b"night notes\r\n\x00\xff" * 100
    r = await multipart(api, CREATE_FILE, {"input": {"clientMutationId": "f-1", "upload": None}},
                        {"0": ("night.txt", payload, "text/plain")}, {"0": ["variables.input.upload"]}, token=token)
    assert r.status_code == 200, r.text
    out = r.json()["data"]["createFile"]
    assert out["clientMutationId"] == "f-1"
    name, url = out["fileInfo"]["name"], out["fileInfo"]["url"]
    assert name.endswith("_night.txt") and "?exp=" in url
    got = await api.client.get(path_of(url))
    assert got.status_code == 200 and got.content == payload

    # Without a session the REST upload policy refuses it (public uploads are off by default).
    r = await multipart(api, CREATE_FILE, {"input": {"upload": None}},
                        {"0": ("x.txt", b"x", "text/plain")}, {"0": ["variables.input.upload"]})
    assert r.json()["errors"][0]["extensions"]["code"] == 130 and r.json()["data"]["createFile"] is None


async def test_file_hooks_and_blocked_types_apply(app_factory) -> None:  # type: ignore[no-untyped-def]
    app, api = await app_factory()
    seen: list[str] = []

    @app.state.engine.cloud.before_save_file()
    async def rename(req: FileRequest) -> None:
        seen.append(req.file.name)

    _, token = await api.signup("hooked")
    r = await multipart(api, CREATE_FILE, {"input": {"upload": None}},
                        {"0": ("scan.txt", b"abc", "text/plain")}, {"0": ["variables.input.upload"]}, token=token)
    assert r.json()["data"]["createFile"]["fileInfo"]["name"].endswith("_scan.txt") and seen == ["scan.txt"]
    r = await multipart(api, CREATE_FILE, {"input": {"upload": None}},
                        {"0": ("page.html", b"<script>", "text/html")}, {"0": ["variables.input.upload"]},
                        token=token)
    assert r.json()["errors"][0]["extensions"]["code"] == 130, r.text


async def test_inline_upload_and_linking_in_object_inputs(api: Api) -> None:
    assert (await api.post("/schemas/Report", REPORT_CLASS, master=True)).status_code == 200
    _, token = await api.signup("writer")
    create = """mutation($fields: CreateReportFieldsInput) { createReport(input: {fields: $fields}) {
        report { objectId doc { name url } } } }"""
    r = await multipart(api, create, {"fields": {"title": "t", "doc": {"upload": None}}},
                        {"7": ("ecg.txt", b"ecg trace", "text/plain")}, {"7": ["variables.fields.doc.upload"]},
                        token=token)
    assert r.status_code == 200, r.text
    report = r.json()["data"]["createReport"]["report"]
    assert report["doc"]["name"].endswith("_ecg.txt") and "?exp=" in report["doc"]["url"]
    got = await data(api, "query($id: ID!) { report(id: $id) { doc { name url } } }", {"id": report["objectId"]},
                     token=token)
    assert got["report"]["doc"]["name"] == report["doc"]["name"] and "?exp=" in got["report"]["doc"]["url"]
    assert (await api.client.get(path_of(got["report"]["doc"]["url"]))).content == b"ecg trace"

    # Linking a file someone else uploaded is refused, as over REST (the file-reference rule).
    _, other = await api.signup("other")
    err = await error(api, create, {"fields": {"doc": {"file": {"__type": "File", "name": report["doc"]["name"]}}}},
                      token=other)
    assert err["extensions"]["code"] == 119
    # An Upload cannot be forged in JSON, nor smuggled into a JSON-typed field.
    err = await error(api, create, {"fields": {"doc": {"upload": {"name": "x"}}}}, token=token)
    assert err["status"] == 400
    r = await multipart(api, "mutation($m: Object) { createReport(input: {fields: {meta: $m}}) "
                             "{ report { objectId } } }", {"m": {"k": None}},
                        {"0": ("a.txt", b"a", "text/plain")}, {"0": ["variables.m.k"]}, token=token)
    assert r.status_code == 400 and "Upload value invalid." in r.text


async def test_malformed_multipart_requests_are_refused(api: Api) -> None:
    _, token = await api.signup("sloppy")
    bad_maps: list[Any] = [{"0": ["variables.input.nothere"]}, {"0": ["input.upload"]},
                           {"1": ["variables.input.upload"]}, ["x"],
                           {str(i): ["variables.input.upload"] for i in range(11)}]
    for mapping in bad_maps:
        r = await multipart(api, CREATE_FILE, {"input": {"upload": None}},
                            {"0": ("a.txt", b"a", "text/plain")}, mapping, token=token)
        assert r.status_code == 400 and r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", (mapping, r.text)
    r = await api.client.post("/graphql", files={"0": ("a.txt", b"a", "text/plain")},
                              data={"map": "{}", "operations": "{}"}, headers=headers(token=token))
    assert r.status_code == 400  # files first: operations and map must lead
    r = await api.client.post("/graphql", data={"operations": "{nope", "map": "{}"}, headers=headers(token=token),
                              files={"0": ("a.txt", b"a", "text/plain")})
    assert r.status_code == 400


async def test_read_only_master_cannot_upload_or_change_the_schema(app_factory) -> None:  # type: ignore[no-untyped-def]
    _, api = await app_factory(read_only_master_key="ro-key")
    ro = {"X-Parse-Application-Id": headers()["X-Parse-Application-Id"], "X-Parse-Master-Key": "ro-key"}
    r = await api.client.post("/graphql", headers=ro, data={
        "operations": orjson.dumps({"query": CREATE_FILE, "variables": {"input": {"upload": None}}}).decode(),
        "map": '{"0": ["variables.input.upload"]}'}, files={"0": ("a.txt", b"a", "text/plain")})
    assert r.json()["errors"][0]["extensions"]["code"] == 119, r.text
    for query in ('mutation { createClass(input: {name: "Ro"}) { class { name } } }',
                  'mutation { updateCloudConfig(input: {paramName: "a", value: "b"}) { cloudConfig { value } } }',
                  'mutation { deleteClass(input: {name: "_Role"}) { class { name } } }'):
        r = await api.client.post("/graphql", json={"query": query}, headers=ro)
        assert r.json()["errors"][0]["extensions"]["code"] == 119, (query, r.text)
    r = await api.client.post("/graphql", json={"query": "{ classes { name } }"}, headers=ro)
    assert "_User" in {c["name"] for c in r.json()["data"]["classes"]}


async def test_log_in_with_anonymous_auth_data(api: Api) -> None:
    q = """mutation($auth: Object!) { logInWith(input: {authData: $auth, clientMutationId: "w"}) {
        clientMutationId viewer { sessionToken user { objectId username } } } }"""
    auth = {"anonymous": {"id": "0e9a8c4f-5a0d-4b8e-9d1c-1f2e3d4c5b6a"}}
    first = (await data(api, q, {"auth": auth}))["logInWith"]
    assert first["clientMutationId"] == "w" and first["viewer"]["sessionToken"].startswith("r:")
    user_id = first["viewer"]["user"]["objectId"]
    again = (await data(api, q, {"auth": auth}))["logInWith"]
    assert again["viewer"]["user"]["objectId"] == user_id
    assert again["viewer"]["sessionToken"] != first["viewer"]["sessionToken"]
    me = await api.get("/users/me", headers=api.as_user(again["viewer"]["sessionToken"]))
    assert me.json()["objectId"] == user_id
    err = await error(api, q, {"auth": {"nosuch": {"id": "x"}}})
    assert err["extensions"]["code"] == 252


async def test_log_in_with_openid_connect(app_factory: Any) -> None:
    key, pem = _keypair()
    _, api = await app_factory(oidc_issuer="https://sso.clinic.example", oidc_audience="sleeplab", oidc_keys=pem)
    q = """mutation($auth: Object!, $fields: UserLoginWithInput) { logInWith(input: {authData: $auth, fields: $fields})
        { viewer { user { objectId email } } } }"""
    made = await data(api, q, {"auth": {"oidc": {"id": "clin-42", "id_token": _token(key)}},
                               "fields": {"email": "clin42@example.com"}})
    user = made["logInWith"]["viewer"]["user"]
    assert user["email"] == "clin42@example.com"
    again = await data(api, q, {"auth": {"oidc": {"id": "clin-42", "id_token": _token(key)}}})
    assert again["logInWith"]["viewer"]["user"]["objectId"] == user["objectId"]
    err = await error(api, q, {"auth": {"oidc": {"id": "clin-42", "id_token": _token(key, aud="other")}}})
    assert err["extensions"]["code"] == 101
    stored = (await api.get(f"/users/{user['objectId']}", master=True)).json()["authData"]
    assert stored == {"oidc": {"id": "clin-42"}}


def test_multipart_splitting_is_strict() -> None:
    ct = "multipart/form-data; boundary=xyz"
    ops = b'--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"q","variables":{"f":null}}\r\n'
    mp = b'--xyz\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.f"]}\r\n'
    part = b'--xyz\r\nContent-Disposition: form-data; name="0"; filename="a b.txt"\r\n\r\n--x\r\n\r\nyz\r\n'
    payload = parse_multipart(ops + mp + part + b"--xyz--\r\n", ct)
    upload = payload["variables"]["f"]
    assert isinstance(upload, UploadedFile) and upload.data == b"--x\r\n\r\nyz" and upload.filename == "a b.txt"
    for body, content_type in ((ops + mp + part, ct),  # no closing delimiter
                               (ops + mp + part[:40], ct),  # truncated
                               (ops + mp + part + b"--xyz--", "multipart/form-data"),  # no boundary
                               (b"no delimiter at all", ct),
                               (ops + mp + part * 11 + b"--xyz--", ct)):  # too many parts
        with pytest.raises(BadMultipart):
            parse_multipart(body, content_type)
