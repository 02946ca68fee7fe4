"""What every answer to hostile input must look like: Parse JSON, 4xx not 5xx, no internals, bounded cost."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tests.fuzz import survey

# Generous on purpose: these catch runaway work (exponential compiles, unbounded scans), not slowness.
MAX_SECONDS = 10.0
MAX_PEAK_BYTES = 64 * 1024 * 1024

# Text that only an internal failure can put into an answer. Checked case-insensitively, and only when the
# request itself did not contain it (error messages may legitimately echo the caller's own field names).
LEAK_MARKERS = (
    "traceback", 'file "', ".py\"", ".py,", "sqlite", "operationalerror", "integrityerror", "aiosqlite",
    "json_extract", "select ", " from \"", "keyerror", "typeerror", "valueerror", "attributeerror",
    "indexerror", "recursionerror", "overflowerror", "memoryerror", "zerodivisionerror", "unicodeencodeerror",
    "unicodedecodeerror", "assertionerror", "nonetype", "object at 0x", "<class '", "motor", "pymongo",
    "bson", "orjson", "starlette",
)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer plus what it cost the server."""

    status: int
    text: str
    seconds: float
    peak_bytes: int  # tracemalloc peak during the request; 0 when memory was not traced
    sent: str  # everything the request carried, for the echo-tolerant leak check

    def json(self) -> Any:
        return json.loads(self.text)


def leaks(answer_text: str, sent: str) -> list[str]:
    body, req = answer_text.lower(), sent.lower()
    return [m for m in LEAK_MARKERS if m in body and m not in req]


def assert_parse_answer(a: Answer, *, what: str = "") -> Any:
    """No 5xx; an error is `{"code": int, "error": str}` with a 4xx; nothing internal leaks; bounded cost."""
    try:
        return _check(a, what)
    except AssertionError as exc:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        if survey.record(test, str(exc), {"request": a.sent[:1500], "status": a.status, "answer": a.text[:300],
                                          "seconds": round(a.seconds, 2), "peak_mib": a.peak_bytes >> 20}):
            return None
        raise


def _check(a: Answer, what: str) -> Any:
    ctx = f"{what}\nrequest: {a.sent[:600]}\nanswer {a.status}: {a.text[:600]}"
    assert a.status < 500, f"server error{ctx}"
    assert a.seconds < MAX_SECONDS, f"took {a.seconds:.1f}s{ctx}"
    assert a.peak_bytes < MAX_PEAK_BYTES, f"peak {a.peak_bytes >> 20} MiB{ctx}"
    assert not leaks(a.text, a.sent), f"internals leaked {leaks(a.text, a.sent)}{ctx}"
    if a.status >= 400:
        assert 400 <= a.status < 500, f"odd status{ctx}"
        try:
            body = a.json()
        except ValueError:
            raise AssertionError(f"error answer is not JSON{ctx}") from None
        assert isinstance(body, dict), f"error answer is not an object{ctx}"
        assert isinstance(body.get("code"), int) and not isinstance(body.get("code"), bool), f"no int code{ctx}"
        assert isinstance(body.get("error"), str), f"no str error{ctx}"
        return body
    if a.text and a.status != 204:
        try:
            return a.json()
        except ValueError:
            raise AssertionError(f"success answer is not JSON{ctx}") from None
    return None
