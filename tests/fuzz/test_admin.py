"""/schemas, /config, /batch, functions and user routes with generated bodies; refused admin writes change nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from tests.fuzz.checks import assert_parse_answer
from tests.fuzz.harness import Harness
from tests.fuzz.strategies import batch_bodies, config_bodies, json_values, schema_bodies, texts

SCRATCH_CLASSES = st.sampled_from(("FuzzSchema", "FuzzSchema2", "SleepStudy", "_User", "bad-name", "_Foo", "a" * 200))


@given(cls=SCRATCH_CLASSES, method=st.sampled_from(("POST", "PUT")), data=st.data())
def test_schemas(harness: Harness, cls: str, method: str, data: st.DataObject) -> None:
    body = data.draw(schema_bodies(cls))
    before = harness.schema(cls)
    answer = harness.request(method, f"/schemas/{cls}", body, master=True)
    assert_parse_answer(answer)
    after = harness.schema(cls)
    if answer.status >= 400:
        assert after == before, f"refused schema write changed the schema: {answer.sent}"
    if after is not None:
        harness.readable(cls)
    assert_parse_answer(harness.request("GET", "/schemas", master=True))


@given(body=config_bodies)
def test_config(harness: Harness, body: Any) -> None:
    before = harness.request("GET", "/config", master=True)
    answer = harness.request("PUT", "/config", body, master=True)
    assert_parse_answer(answer)
    after = harness.request("GET", "/config", master=True)
    assert_parse_answer(after)
    if answer.status >= 400:
        assert after.text == before.text, f"refused config write changed the config: {answer.sent}"
    assert_parse_answer(harness.request("GET", "/config"))


@given(body=batch_bodies(), master=st.booleans())
def test_batch(harness: Harness, body: Any, master: bool) -> None:
    assert_parse_answer(harness.request("POST", "/batch", body, master=master))
    harness.readable("SleepStudy")


@given(n=st.integers(min_value=49, max_value=120))
def test_batch_size_limit(harness: Harness, n: int) -> None:
    body = {"requests": [{"method": "GET", "path": "/parse/classes/SleepStudy"}] * n}
    answer = harness.request("POST", "/batch", body)
    assert_parse_answer(answer)
    assert (answer.status == 200) == (n <= 50), answer.text[:200]


@given(path=st.sampled_from(("/functions/x", "/functions/", "/jobs/x", "/users", "/login", "/verifyPassword",
                             "/requestPasswordReset", "/verificationEmailRequest", "/users/me", "/sessions",
                             "/upgradeToRevocableSession", "/logout", "/installations", "/health", "/serverInfo",
                             "/aggregate/SleepStudy", "/purge/SleepStudy", "/hooks/functions", "/files/x.txt",
                             "/nope", "/classes", "/classes/SleepStudy/a/b")),
       method=st.sampled_from(("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")), body=json_values,
       master=st.booleans())
def test_other_routes(harness: Harness, path: str, method: str, body: Any, master: bool) -> None:
    assert_parse_answer(harness.request(method, path, body, master=master))


@settings(max_examples=12)  # each sign-up is a bcrypt hash: keep the CI budget for the cheap routes
@given(username=texts | json_values, password=texts | json_values, extra=st.dictionaries(texts, json_values,
                                                                                         max_size=2))
def test_signup_and_login(harness: Harness, username: Any, password: Any, extra: dict[str, Any]) -> None:
    before = harness.count("_User")
    signup = harness.request("POST", "/users", {**extra, "username": username, "password": password})
    assert_parse_answer(signup)
    if signup.status >= 400:
        assert harness.count("_User") == before, f"refused sign-up stored a user: {signup.sent}"
    assert_parse_answer(harness.request("POST", "/login", {"username": username, "password": password}))
    assert_parse_answer(harness.request("GET", "/login", params={"username": str(username)[:200],
                                                                 "password": str(password)[:200]}))
