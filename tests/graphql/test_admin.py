"""Schema management and Parse.Config over /graphql: master key only, the same rules and results as REST."""

from __future__ import annotations

from tests.conftest import Api
from tests.graphql.helpers import data, error, make_night_class

CLASS_FIELDS = "name schemaFields { name __typename ... on SchemaPointerField { targetClassName } }"


def _fields(cls: dict) -> dict[str, str]:
    return {f["name"]: f["__typename"] for f in cls["schemaFields"]}


async def test_create_update_delete_class_as_master(api: Api) -> None:
    created = (await data(api, f"""mutation {{ createClass(input: {{name: "Visit", clientMutationId: "k",
        schemaFields: {{addStrings: [{{name: "room"}}], addNumbers: [{{name: "minutes"}}],
                       addGeoPoint: {{name: "where"}},
                       addPointers: [{{name: "patient", targetClassName: "_User"}}]}}}}) {{
        clientMutationId class {{ {CLASS_FIELDS} }} }} }}""", master=True))["createClass"]
    assert created["clientMutationId"] == "k" and created["class"]["name"] == "Visit"
    fields = _fields(created["class"])
    assert fields["room"] == "SchemaStringField" and fields["minutes"] == "SchemaNumberField"
    assert fields["where"] == "SchemaGeoPointField" and fields["ACL"] == "SchemaACLField"
    assert fields["objectId"] == "SchemaStringField" and fields["createdAt"] == "SchemaDateField"
    pointer = next(f for f in created["class"]["schemaFields"] if f["name"] == "patient")
    assert pointer == {"name": "patient", "__typename": "SchemaPointerField", "targetClassName": "_User"}
    rest = (await api.get("/schemas/Visit", master=True)).json()
    assert rest["fields"]["room"] == {"type": "String"} and rest["fields"]["patient"]["targetClass"] == "_User"

    # The new class is queryable on the next request, without a restart.
    await api.post("/classes/Visit", {"room": "A1"}, master=True)
    found = await data(api, "{ visits { count edges { node { room } } } }", master=True)
    assert found["visits"]["count"] == 1

    updated = (await data(api, f"""mutation {{ updateClass(input: {{name: "Visit", schemaFields: {{
        addBooleans: [{{name: "late"}}], remove: [{{name: "minutes"}}, {{name: "nonexistent"}}]}}}}) {{
        class {{ {CLASS_FIELDS} }} }} }}""", master=True))["updateClass"]["class"]
    fields = _fields(updated)
    assert fields["late"] == "SchemaBooleanField" and "minutes" not in fields
    assert "minutes" not in (await api.get("/schemas/Visit", master=True)).json()["fields"]

    err = await error(api, """mutation { updateClass(input: {name: "Visit", schemaFields: {
        addStrings: [{name: "room"}]}}) { class { name } } }""", master=True)
    assert err["extensions"]["code"] == 105 and err["message"] == "Duplicated field name: room"

    listed = (await data(api, "{ classes { name } }", master=True))["classes"]
    assert "Visit" in {c["name"] for c in listed} and "_User" in {c["name"] for c in listed}
    one = (await data(api, '{ class(name: "Visit") { name } }', master=True))["class"]
    assert one == {"name": "Visit"}

    # A class holding objects is not dropped (REST's rule), an empty one is, and answers with what it was.
    err = await error(api, 'mutation { deleteClass(input: {name: "Visit"}) { class { name } } }', master=True)
    assert err["extensions"]["code"] == 255
    await api.request("DELETE", "/purge/Visit", master=True)
    gone = (await data(api, f'mutation {{ deleteClass(input: {{name: "Visit"}}) {{ class {{ {CLASS_FIELDS} }} }} }}',
                       master=True))["deleteClass"]["class"]
    assert gone["name"] == "Visit" and "late" in _fields(gone)
    assert (await api.get("/schemas/Visit", master=True)).status_code == 400
    err = await error(api, '{ class(name: "Visit") { name } }', master=True)
    assert err["extensions"]["code"] == 103


async def test_schema_operations_need_the_master_key(api: Api) -> None:
    await make_night_class(api)
    _, token = await api.signup("nomaster")
    for kw in ({}, {"token": token}):
        for query in ('{ class(name: "Night") { name } }', "{ classes { name } }",
                      'mutation { createClass(input: {name: "Evil"}) { class { name } } }',
                      'mutation { updateClass(input: {name: "Night", schemaFields: {remove: [{name: "title"}]}}) '
                      '{ class { name } } }',
                      'mutation { deleteClass(input: {name: "Night"}) { class { name } } }'):
            err = await error(api, query, **kw)  # type: ignore[arg-type]
            assert err["extensions"]["code"] == 119, (query, err)
    schema = (await api.get("/schemas/Night", master=True)).json()
    assert "title" in schema["fields"]
    assert (await api.get("/schemas/Evil", master=True)).status_code == 400


async def test_append_only_classes_keep_their_fields_over_graphql(app_factory) -> None:  # type: ignore[no-untyped-def]
    _, api = await app_factory(append_only_classes=("Night",))
    await make_night_class(api)
    err = await error(api, 'mutation { updateClass(input: {name: "Night", schemaFields: {remove: [{name: "title"}]}}) '
                           '{ class { name } } }', master=True)
    assert err["extensions"]["code"] == 119
    assert "title" in (await api.get("/schemas/Night", master=True)).json()["fields"]


async def test_cloud_config_read_and_update(api: Api) -> None:
    q = 'query($p: String!) { cloudConfig(paramName: $p) { value isMasterKeyOnly } }'
    assert (await data(api, q, {"p": "banner"}, master=True))["cloudConfig"] == {"value": None,
                                                                                    "isMasterKeyOnly": None}
    out = await data(api, """mutation { updateCloudConfig(input: {paramName: "banner", value: "closed Monday",
        clientMutationId: "u"}) { clientMutationId cloudConfig { value isMasterKeyOnly } } }""", master=True)
    assert out["updateCloudConfig"] == {"clientMutationId": "u",
                                        "cloudConfig": {"value": "closed Monday", "isMasterKeyOnly": False}}
    await data(api, """mutation { updateCloudConfig(input: {paramName: "secretKey", value: "s3",
        isMasterKeyOnly: true}) { cloudConfig { value } } }""", master=True)
    rest = (await api.get("/config", master=True)).json()
    assert rest["params"] == {"banner": "closed Monday", "secretKey": "s3"}
    assert rest["masterKeyOnly"] == {"banner": False, "secretKey": True}

    assert (await data(api, q, {"p": "secretKey"}, master=True))["cloudConfig"] == {"value": "s3",
                                                                                       "isMasterKeyOnly": True}
    # Without the master key: what REST GET /config shows, so master-key-only params stay hidden.
    assert (await data(api, q, {"p": "banner"}))["cloudConfig"]["value"] == "closed Monday"
    assert (await data(api, q, {"p": "secretKey"}))["cloudConfig"] == {"value": None, "isMasterKeyOnly": None}
    await api.put("/config", {"params": {"limits": {"ahi": 5}}}, master=True)
    assert (await data(api, q, {"p": "limits"}))["cloudConfig"]["value"] == '{"ahi":5}'

    _, token = await api.signup("configurer")
    for kw in ({}, {"token": token}):
        err = await error(api, 'mutation { updateCloudConfig(input: {paramName: "banner", value: "x"}) '
                               '{ cloudConfig { value } } }', **kw)  # type: ignore[arg-type]
        assert err["extensions"]["code"] == 119
    err = await error(api, 'mutation { updateCloudConfig(input: {paramName: "a.b", value: "x"}) '
                           '{ cloudConfig { value } } }', master=True)
    assert err["extensions"]["code"] == 105
    assert (await api.get("/config", master=True)).json()["params"]["banner"] == "closed Monday"
