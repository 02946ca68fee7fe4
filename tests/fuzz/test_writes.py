"""Generated create/update bodies: refused writes leave count, object and schema unchanged; accepted ones read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from tests.fuzz.checks import assert_parse_answer
from tests.fuzz.harness import BASE_HEADERS, Harness
from tests.fuzz.strategies import VALID_STUDY, write_bodies, write_fields

# A class only the master key may create: its schema is inferred from the writes, so it shows what gets stored.
SCRATCH = "FuzzBox"


def _fields(schema: Any) -> dict[str, Any]:
    fields = dict(schema["fields"]) if schema else {}
    return {k: v for k, v in fields.items() if k not in ("objectId", "createdAt", "updatedAt", "ACL")}


@pytest.fixture(scope="module")
def study(harness: Harness) -> str:
    a = harness.request("POST", "/classes/SleepStudy", VALID_STUDY, master=True)
    assert a.status == 201, a.text
    return str(a.json()["objectId"])


@given(body=write_bodies(), cls=st.sampled_from(("SleepStudy", SCRATCH, "Message", "AuditLog")),
       master=st.booleans())
def test_create(harness: Harness, body: Any, cls: str, master: bool) -> None:
    before, schema = harness.count(cls) if harness.schema(cls) else 0, harness.schema(cls)
    answer = harness.request("POST", f"/classes/{cls}", body, master=master)
    got = assert_parse_answer(answer)
    if answer.status >= 400:
        assert (harness.count(cls) if harness.schema(cls) else 0) == before, f"refused create stored: {answer.sent}"
        # Parse itself creates a missing class before validating the body, so only the fields must not move.
        assert _fields(harness.schema(cls)) == _fields(schema), f"refused create changed the schema: {answer.sent}"
    elif answer.status == 201:
        assert harness.get(cls, got["objectId"]) is not None, f"created object does not read back: {answer.sent}"
    harness.readable(cls)


@given(body=write_fields | write_bodies())
def test_update(harness: Harness, study: str, body: Any) -> None:
    before, schema = harness.get("SleepStudy", study), harness.schema("SleepStudy")
    answer = harness.request("PUT", f"/classes/SleepStudy/{study}", body, master=True)
    assert_parse_answer(answer)
    if answer.status >= 400:
        assert harness.get("SleepStudy", study) == before, f"refused update changed the object: {answer.sent}"
        assert harness.schema("SleepStudy") == schema, f"refused update changed the schema: {answer.sent}"
    harness.readable("SleepStudy")


@given(raw=st.binary(max_size=64) | st.sampled_from((b"[" * 5000, b'{"a":' * 2000, b"{}" * 10, b"\xff\xfe",
                                                      b'{"a": NaN}', b'{"a": 1e99999}', b'{"__proto__": {}}')),
       ctype=st.sampled_from(("application/json", "text/plain", "", "multipart/form-data",
                              "application/x-www-form-urlencoded")))
def test_raw_bodies(harness: Harness, raw: bytes, ctype: str) -> None:
    before = harness.count("SleepStudy")
    headers = {"X-Parse-Application-Id": "testapp", "Content-Type": ctype}
    assert_parse_answer(harness.request("POST", "/classes/SleepStudy", raw=raw, headers=headers))
    assert harness.count("SleepStudy") == before


@given(depth=st.integers(min_value=50, max_value=3000), shape=st.sampled_from(("dict", "list", "op")))
def test_deeply_nested_body(harness: Harness, depth: int, shape: str) -> None:
    # Built as text: the json module itself cannot encode values this deep.
    opener, closer = {"dict": ('{"a":', "}"), "list": ("[", "]"), "op": ('{"__op":"Add","objects":[', "]}")}[shape]
    value = opener * depth + "1" + closer * depth
    study = json.dumps(VALID_STUDY)[:-1]
    raw = f'{study}, "attachments": [{value}]}}'.encode()
    before = harness.count("SleepStudy")
    answer = harness.request("POST", "/classes/SleepStudy", raw=raw, headers=BASE_HEADERS)
    assert_parse_answer(answer)
    if answer.status >= 400:
        assert harness.count("SleepStudy") == before
    harness.readable("SleepStudy")


def test_refused_create_adds_no_field(harness: Harness) -> None:
    before = _fields(harness.schema("SleepStudy"))
    answer = harness.request("POST", "/classes/SleepStudy", {"brandNewField": 1})  # anonymous; patient missing
    assert answer.status == 400 and answer.json()["code"] == 142, answer.text
    assert _fields(harness.schema("SleepStudy")) == before
