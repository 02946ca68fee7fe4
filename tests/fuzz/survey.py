"""`FUZZ_SURVEY=<file>`: record every failed check as one JSON line instead of failing the example.

Hypothesis stops at the first failure per test; a survey run lists every distinct failure signature (the
server's exception type and innermost engine frame, from the `engine.http` error log) so one run maps the bugs.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from typing import Any

PATH = os.environ.get("FUZZ_SURVEY")


class _LastError(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.signature: str = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/engine/" in f.filename
                      or "/livequery/" in f.filename]
            where = f"{frames[-1].filename.split('/wt-fuzz/')[-1]}:{frames[-1].lineno}" if frames else "?"
            self.signature = f"{type(exc).__name__}: {str(exc)[:80]} @ {where}"


_handler = _LastError()
if PATH:
    logging.getLogger("engine").addHandler(_handler)
    logging.getLogger("livequery").addHandler(_handler)


def take_signature() -> str:
    sig, _handler.signature = _handler.signature, ""
    return sig


def record(test: str, message: str, extra: dict[str, Any]) -> bool:
    """True when the failure was recorded (survey mode) and the caller should not raise."""
    if not PATH:
        return False
    with open(PATH, "a", encoding="utf-8") as f:
        f.write(json.dumps({"test": test, "failure": message.split("\n", 1)[0], "server": take_signature(),
                            **extra}, default=repr)[:3000] + "\n")
    return True
