"""Email verification, password reset, password policy, account lockout, anonymous and OIDC log-in."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Api


def _mails(api: Api) -> list[Any]:
    return api.client._transport.app.state.engine.services.mailer.sent  # type: ignore[attr-defined]


def _path_and_query(link: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(link)
    return parts.path.removeprefix("/parse"), {k: v[0] for k, v in parse_qs(parts.query).items()}


async def test_email_verification_flow(app_factory: Any) -> None:
    _, api = await app_factory(verify_user_emails=True, prevent_login_with_unverified_email=True,
                               public_server_url="https://lab.example/parse")
    uid, _ = await api.signup("ada", email="ada@x.org")
    (mail,) = _mails(api)
    assert mail.to == "ada@x.org" and mail.link.startswith("https://lab.example/parse/apps/testapp/verify_email?")
    got = (await api.get(f"/users/{uid}", master=True)).json()
    assert got["emailVerified"] is False
    r = await api.post("/login", {"username": "ada", "password": "pw-123456"})
    assert r.json() == {"code": 205, "error": "User email is not verified."}
    path, query = _path_and_query(mail.link)
    r = await api.client.get("/parse" + path, params=query)
    assert r.status_code == 302 and "verify_email_success.html" in r.headers["location"]
    assert (await api.get(f"/users/{uid}", master=True)).json()["emailVerified"] is True
    assert (await api.post("/login", {"username": "ada", "password": "pw-123456"})).status_code == 200
    again = await api.client.get("/parse" + path, params=query)
    assert "invalid_verification_link.html" in again.headers["location"]  # single use
    r = await api.client.get("/parse/apps/testapp/verify_email", params={"token[$regex]": ""})
    assert "invalid_verification_link.html" in r.headers["location"]
    page = await api.client.get("/parse/apps/verify_email_success.html")
    assert page.status_code == 200 and "verified" in page.text


async def test_verification_email_request_and_unknown_addresses(app_factory: Any) -> None:
    _, api = await app_factory(verify_user_emails=True)
    await api.signup("ada", email="ada@x.org")
    assert (await api.post("/verificationEmailRequest", {"email": "ada@x.org"})).json() == {}
    assert (await api.post("/verificationEmailRequest", {"email": "ghost@x.org"})).json() == {}
    assert len(_mails(api)) == 2
    assert (await api.post("/verificationEmailRequest", {})).json()["code"] == 204


async def test_password_reset_flow(api: Api) -> None:
    uid, token = await api.signup("ada", "old-password", email="ada@x.org")
    assert (await api.post("/requestPasswordReset", {"email": "ghost@x.org"})).json() == {}
    assert _mails(api) == []
    assert (await api.post("/requestPasswordReset", {"email": "ada@x.org"})).json() == {}
    (mail,) = _mails(api)
    path, query = _path_and_query(mail.link)
    r = await api.client.get("/parse" + path, params=query)
    assert r.status_code == 302 and "/apps/choose_password?" in r.headers["location"]
    form = await api.client.get("/parse/apps/choose_password", params={"token": query["token"], "username": "ada"})
    assert form.status_code == 200 and "new_password" in form.text
    # An operator instead of a token changes nothing (security catalog S09).
    r = await api.client.post("/parse" + path, json={"token": {"$regex": ""}, "new_password": "pwned-pw"})
    assert "invalid_link.html" in r.headers["location"]
    r = await api.client.post("/parse" + path, data={"token": query["token"], "new_password": "new-password",
                                                    "username": "ada"})
    assert r.status_code == 302 and "password_reset_success.html" in r.headers["location"]
    assert (await api.post("/login", {"username": "ada", "password": "pwned-pw"})).status_code == 404
    assert (await api.post("/login", {"username": "ada", "password": "new-password"})).status_code == 200
    assert (await api.get("/users/me", headers=api.as_user(token))).json()["code"] == 209  # sessions revoked
    reuse = await api.client.post("/parse" + path, data={"token": query["token"], "new_password": "again-pw"})
    assert "invalid_link.html" in reuse.headers["location"]
    del uid


async def test_password_policy(app_factory: Any) -> None:
    _, api = await app_factory(password_min_length=8, password_pattern="[0-9]", password_do_not_allow_username=True)
    for pw, why in (("short1", "at least 8"), ("longenough", "Policy"), ("ada-is-1234", "username")):
        r = await api.post("/users", {"username": "ada", "password": pw})
        assert r.status_code == 400 and r.json()["code"] == 142 and why in r.json()["error"], r.text
    uid, token = await api.signup("ada", "good-pass-1")
    r = await api.put(f"/users/{uid}", {"password": "bad"}, headers=api.as_user(token))
    assert r.json()["code"] == 142


async def test_account_lockout(app_factory: Any) -> None:
    _, api = await app_factory(account_lockout_threshold=2, account_lockout_duration=5)
    await api.signup("ada", "right-password")
    for _ in range(2):
        assert (await api.post("/login", {"username": "ada", "password": "wrong"})).json()["code"] == 101
    r = await api.post("/login", {"username": "ada", "password": "right-password"})
    assert r.status_code == 404 and "locked" in r.json()["error"]


async def test_anonymous_auth_data(api: Api) -> None:
    auth = {"authData": {"anonymous": {"id": "9f1e2d3c-0000-4000-8000-000000000001"}}}
    r = await api.post("/users", auth)
    assert r.status_code == 201 and len(r.json()["username"]) == 25 and r.json()["sessionToken"].startswith("r:")
    uid = r.json()["objectId"]
    again = await api.post("/users", auth)
    assert again.status_code == 200 and again.json()["objectId"] == uid
    assert again.json()["authData"] == {"anonymous": {"id": "9f1e2d3c-0000-4000-8000-000000000001"}}
    r = await api.post("/users", {"authData": {"anonymous": {"id": {"$ne": None}}}})
    assert r.status_code == 400 and r.json()["code"] == 111
    r = await api.post("/users", {"authData": {"facebook": {"id": "1", "access_token": "x"}}})
    assert r.json()["code"] == 252


async def test_anonymous_can_be_disabled(app_factory: Any) -> None:
    _, api = await app_factory(enable_anonymous_users=False)
    r = await api.post("/users", {"authData": {"anonymous": {"id": "a"}}})
    assert r.json()["code"] == 252


def _keypair() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem


def _token(key: Any, **claims: Any) -> str:
    base = {"iss": "https://sso.clinic.example", "aud": "sleeplab", "sub": "clin-42", "exp": int(time.time()) + 60}
    base.update(claims)
    return jwt.encode(base, key, algorithm="RS256")


async def test_openid_connect_login(app_factory: Any) -> None:
    key, pem = _keypair()
    _, api = await app_factory(oidc_issuer="https://sso.clinic.example", oidc_audience="sleeplab", oidc_keys=pem)
    good = {"authData": {"oidc": {"id": "clin-42", "id_token": _token(key)}}}
    r = await api.post("/users", good)
    assert r.status_code == 201, r.text
    uid = r.json()["objectId"]
    again = await api.post("/users", {"authData": {"oidc": {"id": "clin-42", "id_token": _token(key)}}})
    assert again.status_code == 200 and again.json()["objectId"] == uid
    other_key, _ = _keypair()
    for bad in (_token(key, aud="other"), _token(key, iss="https://evil.example"), _token(key, sub="clin-43"),
                _token(key, exp=int(time.time()) - 10), _token(other_key), "not-a-jwt"):
        r = await api.post("/users", {"authData": {"oidc": {"id": "clin-42", "id_token": bad}}})
        assert r.status_code == 404 and r.json()["code"] == 101, r.text
    stored = (await api.get(f"/users/{uid}", master=True)).json()["authData"]
    assert stored == {"oidc": {"id": "clin-42"}}  # the token itself is never kept


async def test_openid_connect_unconfigured(api: Api) -> None:
    r = await api.post("/users", {"authData": {"oidc": {"id": "x", "id_token": "y"}}})
    assert r.json()["code"] == 252


async def test_verify_password_counts_towards_lockout(app_factory: Any) -> None:
    _, api = await app_factory(account_lockout_threshold=2, account_lockout_duration=5)
    await api.signup("ada", "right-password")
    for _ in range(2):
        assert (await api.post("/verifyPassword", {"username": "ada", "password": "wrong"})).json()["code"] == 101
    r = await api.post("/verifyPassword", {"username": "ada", "password": "right-password"})
    assert r.status_code == 404 and "locked" in r.json()["error"]
