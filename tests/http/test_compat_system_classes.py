"""Parse compatibility: system classes never disappear; dropping one keeps its default shape (issue 14, item 1)."""

from __future__ import annotations

from tests.conftest import Api


async def test_dropping_user_keeps_the_class_and_sign_up_works(api: Api) -> None:
    await api.signup("ada")
    r = await api.put("/schemas/_User", {"fields": {"nickname": {"type": "String"}}}, master=True)
    assert r.status_code == 200, r.text
    assert (await api.delete("/purge/_User", master=True)).status_code == 200
    r = await api.delete("/schemas/_User", master=True)
    assert r.status_code == 200 and r.json() == {}
    shape = (await api.get("/schemas/_User", master=True)).json()
    assert shape["className"] == "_User"
    assert {"username", "password", "email", "emailVerified", "authData"} <= set(shape["fields"])
    assert "nickname" not in shape["fields"]
    # Sign-up keeps working with no restart, and the unique username still holds.
    await api.signup("ada")
    r = await api.post("/users", {"username": "ada", "password": "pw-123456"})
    assert r.json()["code"] == 202


async def test_every_system_class_survives_a_drop(api: Api) -> None:
    for name in ("_Session", "_Installation", "_Role"):
        await api.delete(f"/purge/{name}", master=True)
        r = await api.delete(f"/schemas/{name}", master=True)
        assert r.status_code == 200 and r.json() == {}, (name, r.text)
        r = await api.get(f"/schemas/{name}", master=True)
        assert r.status_code == 200 and r.json()["className"] == name
    r = await api.post("/roles", {"name": "Clinicians", "ACL": {"*": {"read": True}}}, master=True)
    assert r.status_code == 201, r.text


async def test_drop_answers_as_parse_for_missing_and_invalid_names(api: Api) -> None:
    r = await api.delete("/schemas/NeverDeclared", master=True)
    assert r.status_code == 200 and r.json() == {}
    r = await api.delete("/schemas/_Bogus", master=True)
    assert r.status_code == 400
    assert r.json() == {"code": 103, "error": "Invalid classname: _Bogus, classnames can only have alphanumeric "
                                              "characters and _, and must start with an alpha character "}
