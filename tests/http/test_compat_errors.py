"""Parse compatibility: error codes and messages as Parse answers them (issue 14, item 7)."""

from __future__ import annotations

from tests.conftest import Api


async def test_session_me_without_a_token(api: Api) -> None:
    r = await api.get("/sessions/me")
    assert r.status_code == 400 and r.json() == {"code": 209, "error": "Session token required."}


async def test_login_with_a_non_string_username_is_a_failed_log_in(api: Api) -> None:
    await api.signup("ada")
    for body in ({"username": {"$ne": None}, "password": "x"}, {"username": "ada", "password": {"$gt": ""}},
                 {"username": ["ada"], "password": "pw-123456"}, {"email": {"$regex": "."}, "password": "x"}):
        r = await api.post("/login", body)
        assert r.status_code == 404 and r.json() == {"code": 101, "error": "Invalid username/password."}, body
    # Missing (JavaScript-falsy) values keep Parse's own codes.
    assert (await api.post("/login", {"username": "", "password": "x"})).json()["code"] == 200
    assert (await api.post("/login", {"username": "ada", "password": ""})).json()["code"] == 201


async def test_duplicate_email_and_type_misuse(api: Api) -> None:
    await api.signup("ada", email="ada@x.org")
    r = await api.post("/users", {"username": "bob", "password": "pw-123456", "email": "ada@x.org"})
    assert r.json() == {"code": 203, "error": "Account already exists for this email address."}
    r = await api.post("/classes/PatientProfile", {"displayName": {"__type": "Nope"}}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 111


async def test_dropping_an_invalid_class_name(api: Api) -> None:
    r = await api.delete("/schemas/1bad", master=True)
    assert r.status_code == 400 and r.json()["code"] == 103
