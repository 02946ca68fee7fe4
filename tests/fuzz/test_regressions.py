"""Known hostile inputs, each run in a memory-limited child process (tests/fuzz/isolated.py).

Each was a 500, a runaway compile or a stalled server before the hostile-input hardening; now each must answer
Parse JSON quickly within the child's memory limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.checks import Answer, assert_parse_answer
from tests.fuzz.isolated import run_isolated

CHILD_PEAK_BYTES = 256 * 1024**2  # per request, in the child; generous: a linear compile needs far less
SLOW_ROWS = [{"patient": {"__type": "Pointer", "className": "PatientProfile", "objectId": "p000000001"},
              "studyDate": {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}, "results": "a" * 34 + "!",
              "status": "final"}]


def _find(where: Any = None, **params: str) -> dict[str, Any]:
    q = dict(params)
    if where is not None:
        q["where"] = json.dumps(where)
    return {"method": "GET", "path": "/classes/SleepStudy", "params": q}


def _dotted(n: int) -> str:
    return ".".join(["a"] * n)


CASES: list[Any] = [
    pytest.param("dotted-12", _find({_dotted(12): 1})),
    pytest.param("dotted-or", _find({"$or": [{_dotted(8): i} for i in range(20)]})),
    pytest.param("dotted-order", _find(order=_dotted(14))),
    pytest.param("dotted-keys", _find(keys=",".join(_dotted(10) + str(i) for i in range(20)))),
    pytest.param("relative-years", _find({"studyDate": {"$lt": {"$relativeTime": "in 99999999999 years"}}})),
    pytest.param("relative-days", _find({"studyDate": {"$gt": {"$relativeTime": "99999999999999999999 days ago"}}})),
    pytest.param("skip-huge", _find(skip="99999999999999999999")),
    pytest.param("skip-2^63", _find(skip=str(2**63))),
    pytest.param("limit-huge", _find(limit="99999999999999999999")),
    pytest.param("count-skip-huge", _find(count="1", skip="1" + "0" * 30)),
    pytest.param("int-2^63", _find({"results": 2**63})),
    pytest.param("int-in-2^64", _find({"results": {"$in": [2**64, -(2**63) - 1]}})),
    pytest.param("in-100k", {"method": "POST", "path": "/classes/SleepStudy",
                             "body": {"_method": "GET", "where": {"results": {"$in": list(range(100_000))}}}}),
    pytest.param("and-deep", _find(json.loads('{"$and":[' * 300 + "{}" + "]}" * 300))),
    pytest.param("regex-redos", {**_find({"results": {"$regex": "^(a+)+$"}}), "setup": SLOW_ROWS}),
    pytest.param("aggregate-limit", {"method": "GET", "path": "/aggregate/SleepStudy",
                                     "params": {"pipeline": json.dumps([{"$limit": 10**30}])}}),
    pytest.param("aggregate-dotted", {"method": "GET", "path": "/aggregate/SleepStudy",
                                      "params": {"pipeline": json.dumps([{"$match": {_dotted(12): 1}}])}}),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    cases = [{"id": p.values[0], **p.values[1]} for p in CASES]
    return run_isolated(cases, Path(tmp_path_factory.mktemp("isolated")))


@pytest.mark.parametrize(("case_id", "request_spec"), CASES)
def test_known_hostile_input(results: dict[str, dict[str, Any]], case_id: str, request_spec: dict[str, Any]) -> None:
    row = results[case_id]
    assert row["status"] >= 0, f"{case_id}: {row['text']}"
    assert row["peak_bytes"] < CHILD_PEAK_BYTES, f"{case_id}: peak {row['peak_bytes'] >> 20} MiB"
    assert_parse_answer(Answer(row["status"], row["text"], row["seconds"], 0, json.dumps(request_spec)), what=case_id)
