"""Parse compatibility: users and sessions (issue 14, item 8)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


async def test_only_an_empty_acl_locks_a_user_out(api: Api) -> None:
    uid, _ = await api.signup("ada")
    # An ACL that does not even let the user read their own record still logs in (Parse's UsersRouter) ...
    await api.put(f"/users/{uid}", {"ACL": {"role:admins": {"read": True}}}, master=True)
    r = await api.post("/login", {"username": "ada", "password": "pw-123456"})
    assert r.status_code == 200 and r.json()["sessionToken"]
    # ... while `{}` is Parse's documented way to lock an account (master key only).
    await api.put(f"/users/{uid}", {"ACL": {}}, master=True)
    r = await api.post("/login", {"username": "ada", "password": "pw-123456"})
    assert r.status_code == 404 and r.json()["code"] == 101


async def test_a_fetched_user_carries_only_the_callers_own_token(api: Api) -> None:
    ada, ada_token = await api.signup("ada")
    bob, bob_token = await api.signup("bob")
    await api.put(f"/users/{bob}", {"ACL": {"*": {"read": True}}}, master=True)
    own = (await api.get(f"/users/{ada}", headers=api.as_user(ada_token))).json()
    assert own["sessionToken"] == ada_token
    other = (await api.get(f"/users/{bob}", headers=api.as_user(ada_token))).json()
    assert other["username"] == "bob" and "sessionToken" not in other
    assert bob_token not in str(await api.get("/users", headers=api.as_user(ada_token)))
    assert "sessionToken" not in (await api.get(f"/users/{ada}", master=True)).json()


async def test_an_email_can_be_unset(api: Api) -> None:
    uid, token = await api.signup("ada", email="ada@x.org")
    r = await api.put(f"/users/{uid}", {"email": {"__op": "Delete"}}, headers=api.as_user(token))
    assert r.status_code == 200, r.text
    assert "email" not in (await api.get("/users/me", headers=api.as_user(token))).json()
    r = await api.post("/users", {"username": "bob", "password": "pw-123456", "email": {"__op": "Delete"}})
    assert r.status_code == 201, r.text


async def test_an_empty_auth_data_block_is_ignored(api: Api) -> None:
    r = await api.post("/users", {"username": "bob", "password": "pw-123456", "authData": {}})
    assert r.status_code == 201 and r.json()["sessionToken"]
    uid, token = r.json()["objectId"], r.json()["sessionToken"]
    r = await api.put(f"/users/{uid}", {"authData": {}}, headers=api.as_user(token))
    assert r.status_code == 200, r.text
    # Without username or password an empty block is no credential at all (Parse would invent a passwordless
    # account here; this server keeps asking for a username).
    r = await api.post("/users", {"authData": {}})
    assert r.json()["code"] == 200


async def test_anonymous_log_in_records_a_login_session(api: Api) -> None:
    body: dict[str, Any] = {"authData": {"anonymous": {"id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}}
    first = await api.post("/users", body)
    again = await api.post("/users", body)
    assert first.status_code == 201 and again.status_code == 200
    sessions = (await api.get("/sessions", master=True)).json()["results"]
    made = sorted(s["createdWith"]["action"] for s in sessions if s["user"]["objectId"] == first.json()["objectId"])
    assert made == ["login", "signup"]
    assert all(s["createdWith"]["authProvider"] == "anonymous" for s in sessions)
