"""Users and sessions over HTTP: sign-up, log-in, /users/me, self-only writes, private users, revocation."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from engine.query.where import Compare
from engine.storage.base import Changes, SetValue
from engine.wire import now
from tests.conftest import Api

TOKEN = re.compile(r"^r:[0-9a-f]{32}$")


async def _raw_user(api: Api, user_id: str) -> Any:
    engine = api.client._transport.app.state.engine  # type: ignore[attr-defined]
    rows = await engine.storage.find(engine.schemas.require("_User"), Compare(("objectId",), "eq", user_id),
                                     __import__("engine.query.options").query.options.FindOptions(limit=1))
    return rows[0]


async def test_signup_shape_and_hash(api: Api) -> None:
    r = await api.post("/users", {"username": "ada", "password": "s3cret-pw", "email": "ada@x.org", "age": 30})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"objectId", "createdAt", "sessionToken"} and TOKEN.match(body["sessionToken"])
    assert r.headers["location"].endswith(f"/users/{body['objectId']}")
    raw = await _raw_user(api, body["objectId"])
    assert raw.internal["_hashed_password"].startswith("$2b$10$") and "password" not in raw.fields
    assert raw.acl.read == {body["objectId"]} and raw.acl.write == {body["objectId"]}
    got = (await api.get(f"/users/{body['objectId']}", master=True)).json()
    assert "password" not in got and "_hashed_password" not in got and got["age"] == 30


@pytest.mark.parametrize(("body", "code"), [
    ({"password": "x"}, 200), ({"username": "", "password": "x"}, 200), ({"username": "u"}, 201),
    ({"username": "u", "password": 5}, 201), ({"username": "u", "password": "p", "email": "nope"}, 125),
    ({"username": "u", "password": "p", "emailVerified": True}, 119),
    ({"username": "u", "password": "p", "sessionToken": "r:x"}, 119),
    ({"username": "u", "password": "p", "_hashed_password": "x"}, 105),
    ({"username": "u", "password": "p", "authData": None}, 252),
])
async def test_signup_refusals(api: Api, body: dict[str, Any], code: int) -> None:
    r = await api.post("/users", body)
    assert r.status_code == 400 and r.json()["code"] == code, r.text
    assert (await api.get("/users", master=True)).json()["results"] == []


async def test_duplicates_are_case_insensitive(api: Api) -> None:
    await api.signup("Ada", email="Ada@X.org")
    r = await api.post("/users", {"username": "ada", "password": "p"})
    assert r.json()["code"] == 202
    r = await api.post("/users", {"username": "bob", "password": "p", "email": "ada@x.ORG"})
    assert r.json()["code"] == 203
    r = await api.post("/classes/_User", {"username": "ADA", "password": "p"})
    assert r.json()["code"] == 202


async def test_login_get_and_post_and_bad_credentials(api: Api) -> None:
    uid, _ = await api.signup("ada", "pw-123456", email="ada@x.org")
    r = await api.get("/login", params={"username": "ada", "password": "pw-123456"})
    assert r.status_code == 200 and TOKEN.match(r.json()["sessionToken"])
    assert r.json()["objectId"] == uid and r.json()["email"] == "ada@x.org" and "password" not in r.json()
    r = await api.post("/login", {"email": "ada@x.org", "password": "pw-123456"})
    assert r.status_code == 200
    r = await api.post("/login", {"username": "ada@x.org", "password": "pw-123456"})
    assert r.status_code == 200
    wrong = await api.post("/login", {"username": "ada", "password": "nope"})
    nobody = await api.post("/login", {"username": "nobody", "password": "nope"})
    assert wrong.status_code == nobody.status_code == 404
    assert wrong.json() == nobody.json() == {"code": 101, "error": "Invalid username/password."}
    assert (await api.post("/login", {"password": "x"})).json()["code"] == 200
    assert (await api.post("/login", {"username": "ada"})).json()["code"] == 201
    r = await api.post("/login", {"username": {"$ne": None}, "password": "x"})
    assert r.status_code == 404 and r.json() == {"code": 101, "error": "Invalid username/password."}  # as Parse


async def test_unknown_user_costs_a_password_check(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Log-in hashes against a dummy when the user does not exist, so timing does not reveal accounts."""
    from engine.pipeline import users

    seen: list[object] = []
    original = users.verify_password

    async def spy(password: str, hashed: str | None) -> bool:
        seen.append(hashed)
        return await original(password, hashed)

    monkeypatch.setattr(users, "verify_password", spy)
    await api.post("/login", {"username": "ghost", "password": "x"})
    assert seen == [None]


async def test_me_logout_and_invalid_tokens(api: Api) -> None:
    uid, token = await api.signup("ada")
    r = await api.get("/users/me", headers=api.as_user(token))
    assert r.json()["objectId"] == uid and r.json()["sessionToken"] == token
    for bad in ("r:deadbeef", "nonsense"):
        r = await api.get("/classes/SleepStudy", headers=api.as_user(bad))
        assert r.status_code == 400 and r.json() == {"code": 209, "error": "Invalid session token"}
    r = await api.get("/users/me")
    assert r.json()["code"] == 209
    assert (await api.post("/logout", headers=api.as_user(token))).json() == {}
    assert (await api.get("/users/me", headers=api.as_user(token))).json()["code"] == 209


async def test_users_are_private_and_secrets_hidden(api: Api) -> None:
    ada, ada_token = await api.signup("ada", email="ada@x.org")
    bob, bob_token = await api.signup("bob", email="bob@x.org")
    assert (await api.get(f"/users/{ada}", headers=api.as_user(bob_token))).status_code == 404
    found = (await api.get("/users", headers=api.as_user(bob_token))).json()["results"]
    assert [u["objectId"] for u in found] == [bob]
    assert found[0]["email"] == "bob@x.org" and "sessionToken" not in found[0]
    # Made public by its owner, ada is readable but her email stays hidden (default protectedFields).
    await api.put(f"/users/{ada}", {"ACL": {"*": {"read": True}}}, headers=api.as_user(ada_token))
    got = (await api.get(f"/users/{ada}", headers=api.as_user(bob_token))).json()
    assert got["username"] == "ada" and "email" not in got and "authData" not in got
    r = await api.get("/users", headers=api.as_user(bob_token), params={"where": '{"email":"ada@x.org"}'})
    assert r.json()["code"] == 119
    # The owner's ACL keeps her own access even though she only sent public read.
    mine = (await api.get(f"/users/{ada}", headers=api.as_user(ada_token))).json()
    assert mine["ACL"][ada] == {"read": True, "write": True} and mine["email"] == "ada@x.org"


async def test_only_self_or_master_changes_a_user(api: Api) -> None:
    ada, ada_token = await api.signup("ada")
    _, bob_token = await api.signup("bob")
    r = await api.put(f"/users/{ada}", {"nick": "x"}, headers=api.as_user(bob_token))
    assert r.json()["code"] == 206
    r = await api.delete(f"/users/{ada}", headers=api.as_user(bob_token))
    assert r.json()["code"] == 206
    r = await api.put(f"/classes/_User/{ada}", {"nick": "x"})
    assert r.json()["code"] == 206
    r = await api.put(f"/users/{ada}", {"nick": "A"}, headers=api.as_user(ada_token))
    assert r.status_code == 200
    r = await api.put(f"/users/{ada}", {"emailVerified": True}, headers=api.as_user(ada_token))
    assert r.json()["code"] == 119
    r = await api.put(f"/users/{ada}", {"username": "BOB"}, headers=api.as_user(ada_token))
    assert r.json()["code"] == 202
    assert (await api.put(f"/users/{ada}", {"emailVerified": True}, master=True)).status_code == 200
    assert (await api.delete(f"/users/{ada}", headers=api.as_user(ada_token))).json() == {}
    assert (await api.get("/users/me", headers=api.as_user(ada_token))).json()["code"] == 209


async def test_password_change_rotates_sessions(api: Api) -> None:
    ada, first = await api.signup("ada", "old-password")
    second = (await api.post("/login", {"username": "ada", "password": "old-password"},
                             headers=api.headers(**{"X-Parse-Installation-Id": "other-device"}))).json()["sessionToken"]
    r = await api.put(f"/users/{ada}", {"password": "new-password"}, headers=api.as_user(first))
    assert r.status_code == 200
    fresh = r.json()["sessionToken"]
    assert TOKEN.match(fresh) and fresh not in (first, second)
    for old in (first, second):  # a thief holding any old token is out
        assert (await api.get("/users/me", headers=api.as_user(old))).json()["code"] == 209
    assert (await api.get("/users/me", headers=api.as_user(fresh))).status_code == 200
    assert (await api.post("/login", {"username": "ada", "password": "old-password"})).status_code == 404
    assert (await api.post("/login", {"username": "ada", "password": "new-password"})).status_code == 200


async def test_email_change_voids_a_pending_reset_link(api: Api) -> None:
    ada, token = await api.signup("ada", "old-password", email="old@x.org")
    await api.post("/requestPasswordReset", {"email": "old@x.org"})
    mail = api.client._transport.app.state.engine.services.mailer.sent[-1]  # type: ignore[attr-defined]
    await api.put(f"/users/{ada}", {"email": "new@x.org"}, headers=api.as_user(token))
    link = mail.link.split("/parse", 1)[1]
    r = await api.client.get("/parse" + link.split("?")[0], params=dict(
        p.split("=", 1) for p in link.split("?", 1)[1].split("&")))
    assert "invalid_link.html" in r.headers["location"]


async def test_wrong_master_key_is_refused(api: Api) -> None:
    r = await api.get("/classes/SleepStudy", headers=api.headers(**{"X-Parse-Master-Key": "guess"}))
    assert r.status_code == 403
    r = await api.client.post("/parse/classes/SleepStudy", content=json.dumps(
        {"_ApplicationId": "testapp", "_MasterKey": "guess", "_method": "GET"}))
    assert r.status_code == 403


async def test_related_to_an_unreadable_owner_reveals_nothing(api: Api) -> None:
    _, token = await api.signup("eve")
    member = (await api.post("/classes/Member", {"n": 1}, master=True)).json()["objectId"]
    owner = (await api.post("/classes/Study", {"ACL": {}, "members": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Member", "objectId": member}]}}, master=True)).json()["objectId"]
    where = json.dumps({"$relatedTo": {"object": {"__type": "Pointer", "className": "Study", "objectId": owner},
                                       "key": "members"}})
    r = await api.get("/classes/Member", headers=api.as_user(token), params={"where": where, "count": "1"})
    assert r.json() == {"results": [], "count": 0}
    r = await api.get("/classes/Member", master=True, params={"where": where})
    assert len(r.json()["results"]) == 1


async def test_sessions_routes_and_installation(api: Api) -> None:
    ada, token = await api.signup("ada")
    _, bob_token = await api.signup("bob")
    me = (await api.get("/sessions/me", headers=api.as_user(token))).json()
    assert me["sessionToken"] == token and me["user"]["objectId"] == ada
    assert me["createdWith"] == {"action": "signup", "authProvider": "password"}
    assert me["expiresAt"]["__type"] == "Date"
    mine = (await api.get("/sessions", headers=api.as_user(token))).json()["results"]
    assert [s["sessionToken"] for s in mine] == [token]
    r = await api.get(f"/sessions/{me['objectId']}", headers=api.as_user(bob_token))
    assert r.status_code == 404
    r = await api.delete(f"/sessions/{me['objectId']}", headers=api.as_user(bob_token))
    assert r.status_code == 404
    r = await api.put(f"/sessions/{me['objectId']}", {"sessionToken": "r:mine"}, headers=api.as_user(token))
    assert r.json()["code"] == 119
    created = await api.post("/sessions", {}, headers=api.as_user(token))
    assert created.status_code == 201 and created.json()["createdWith"]["action"] == "create"
    assert (await api.post("/sessions", {})).json()["code"] == 209
    # One session per (user, installation): a second log-in on the same device ends the first.
    h = api.headers(**{"X-Parse-Installation-Id": "device-1"})
    t1 = (await api.post("/login", {"username": "ada", "password": "pw-123456"}, headers=h)).json()["sessionToken"]
    t2 = (await api.post("/login", {"username": "ada", "password": "pw-123456"}, headers=h)).json()["sessionToken"]
    assert (await api.get("/users/me", headers=api.as_user(t1))).json()["code"] == 209
    me2 = (await api.get("/sessions/me", headers=api.as_user(t2))).json()
    assert me2["installationId"] == "device-1"


async def test_expired_session_answers_209(api: Api) -> None:
    _, token = await api.signup("ada")
    engine = api.client._transport.app.state.engine  # type: ignore[attr-defined]
    sessions = engine.schemas.require("_Session")
    await engine.storage.update(sessions, Compare(("sessionToken",), "eq", token),
                                Changes(updated_at=now(), ops=((("expiresAt",), SetValue(now() - timedelta(1))),)))
    r = await api.get("/users/me", headers=api.as_user(token))
    assert r.json() == {"code": 209, "error": "Session token is expired."}


async def test_upgrade_legacy_session(api: Api) -> None:
    ada, _ = await api.signup("ada")
    engine = api.client._transport.app.state.engine  # type: ignore[attr-defined]
    await engine.storage.update(engine.schemas.require("_User"), Compare(("objectId",), "eq", ada),
                                Changes(updated_at=now(), internal={"_session_token": "legacy123"}))
    r = await api.post("/upgradeToRevocableSession", {}, headers=api.as_user("legacy123"))
    assert r.status_code == 200 and TOKEN.match(r.json()["sessionToken"])
    assert r.json()["createdWith"]["action"] == "upgrade"
    assert (await api.get("/users/me", headers=api.as_user("legacy123"))).json()["code"] == 209
    assert (await api.get("/users/me", headers=api.as_user(r.json()["sessionToken"]))).status_code == 200


async def test_session_token_in_body_must_be_a_string(api: Api) -> None:
    r = await api.client.post("/parse/users/me", json={"_ApplicationId": "testapp", "_method": "GET",
                                                       "_SessionToken": {"$regex": "r:"}})
    assert r.status_code == 403
