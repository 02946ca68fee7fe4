"""The `gql` client library against a real server process over HTTP: schema management, sign-up, a multipart
file upload, object mutations and queries, ACLs, and the signed file URL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, FileVar, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from tests.e2e.server import ROOT, ServerProcess, free_port

APP_ID = "sleeplab"
MASTER = "gql-process-master-key"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"PARSE_SERVER_MASTER_KEY": MASTER, "SLEEPLAB_SCHEMA": str(ROOT / "tests/fixtures/sleeplab-seed-schema.json")}
    proc = ServerProcess([], env, tmp_path, tmp_path / "server.log", free_port())
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _client(server: ServerProcess, **extra: str) -> Client:
    url = server.url.removesuffix("/parse") + "/graphql"
    return Client(transport=HTTPXTransport(url=url, headers={"X-Parse-Application-Id": APP_ID, **extra},
                                           timeout=30))


def _run(client: Client, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    with client as session:
        return session.execute(GraphQLRequest(query, variable_values=variables), **kw)


@pytest.mark.e2e
def test_gql_client_against_a_running_server(server: ServerProcess) -> None:
    master = _client(server, **{"X-Parse-Master-Key": MASTER})
    created = _run(master, """mutation { createClass(input: {name: "Note", schemaFields: {
        addStrings: [{name: "title"}], addFiles: [{name: "doc"}]}}) { class { name } } }""")
    assert created["createClass"]["class"]["name"] == "Note"

    anonymous = _client(server)
    viewer = _run(anonymous, """mutation { signUp(input: {fields: {username: "gqlann", password: "pw-123456"}}) {
        viewer { sessionToken user { objectId } } } }""")["signUp"]["viewer"]
    user = _client(server, **{"X-Parse-Session-Token": viewer["sessionToken"]})

    upload = FileVar(io.BytesIO(b"hypnogram"), filename="night.txt", content_type="text/plain")
    saved = _run(user, "mutation($f: Upload!) { createFile(input: {upload: $f}) { fileInfo { name url } } }",
                 {"f": upload}, upload_files=True)["createFile"]["fileInfo"]
    assert saved["name"].endswith("_night.txt")

    private_acl = {"users": [{"userId": viewer["user"]["objectId"], "read": True, "write": True}]}
    _run(user, """mutation($fields: CreateNoteFieldsInput) { createNote(input: {fields: $fields}) {
        note { objectId } } }""", {"fields": {"title": "mine", "ACL": private_acl,
                                              "doc": {"file": {"__type": "File", "name": saved["name"]}}}})
    _run(user, 'mutation { createNote(input: {fields: {title: "shared"}}) { note { objectId } } }')

    mine = _run(user, "{ notes(order: [title_ASC]) { count edges { node { title doc { url } } } } }")["notes"]
    assert mine["count"] == 2 and [e["node"]["title"] for e in mine["edges"]] == ["mine", "shared"]
    url = mine["edges"][0]["node"]["doc"]["url"]
    assert "?exp=" in url and httpx.get(url, timeout=30).content == b"hypnogram"

    public = _run(anonymous, "{ notes { count edges { node { title } } } }")["notes"]
    assert public["count"] == 1 and public["edges"][0]["node"]["title"] == "shared"
    with pytest.raises(TransportQueryError) as denied:
        _run(user, '{ class(name: "Note") { name } }')
    assert denied.value.errors is not None and denied.value.errors[0]["extensions"]["code"] == 119
