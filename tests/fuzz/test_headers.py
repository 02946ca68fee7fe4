"""Credentials of odd types and lengths, in headers and in the JS SDK's body form (`_ApplicationId`, ...)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, strategies as st

from tests.conftest import APP_ID, MASTER
from tests.fuzz.checks import assert_parse_answer
from tests.fuzz.harness import Harness
from tests.fuzz.strategies import json_values

HEADER_NAMES = ("X-Parse-Application-Id", "X-Parse-Master-Key", "X-Parse-Session-Token", "X-Parse-Javascript-Key",
                "X-Parse-REST-API-Key", "X-Parse-Client-Key", "X-Parse-Installation-Id", "X-Parse-Revocable-Session",
                "X-Parse-Client-Version", "X-Parse-Cloud-Context", "X-Parse-Request-Id", "X-HTTP-Method-Override",
                "Content-Type", "Origin", "X-Forwarded-For", "X-Parse-Maintenance-Key")
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")) | st.sampled_from(
    (APP_ID.encode(), MASTER.encode(), b"r:" + b"0" * 32, b"r:" + b"x" * 9000, b"", b"{}", b"null", b"\xff" * 10,
     b"GET", b"DELETE", b"1.2.3.4, 127.0.0.1", b"application/json; charset=latin-1"))
BODY_META = ("_ApplicationId", "_MasterKey", "_SessionToken", "_JavaScriptKey", "_ClientKey", "_InstallationId",
             "_ClientVersion", "_context", "_ContentType", "_RevocableSession", "_method", "_noBody")


@given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=5),
       method=st.sampled_from(("GET", "POST", "PUT", "DELETE")),
       path=st.sampled_from(("/classes/SleepStudy", "/users/me", "/schemas", "/config", "/sessions/me", "/batch")))
def test_odd_headers(harness: Harness, headers: dict[str, bytes], method: str, path: str) -> None:
    before = harness.count("SleepStudy")
    body = {"requests": []} if path == "/batch" else {}
    assert_parse_answer(harness.request(method, path, body, headers=dict(headers)))
    assert harness.count("SleepStudy") == before  # an empty body never creates a (valid) SleepStudy


@given(meta=st.dictionaries(st.sampled_from(BODY_META), json_values | st.sampled_from((APP_ID, MASTER, "GET")),
                            max_size=5),
       path=st.sampled_from(("/classes/SleepStudy", "/users/me", "/schemas", "/config", "/functions/x")))
def test_body_credentials(harness: Harness, meta: dict[str, Any], path: str) -> None:
    # The JS SDK posts text/plain JSON carrying its credentials in the body; odd types there must be 4xx.
    answer = harness.request("POST", path, meta, headers={"Content-Type": "text/plain"})
    assert_parse_answer(answer)
