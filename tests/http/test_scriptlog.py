"""/scriptlog (Parse's LogsRouter, the Dashboard's Logs page): the server's own log, newest first, bounded, master
key only, and never holding a key, a session token or a password."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.logbook import MASK, MAX_MESSAGE_CHARS, MAX_SIZE, LogBook, Scrubber, log_query
from tests.conftest import MASTER, Api

HOOKS = str(Path(__file__).parent / "dashboard_hooks")


async def _log(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/scriptlog", master=True, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list)
    return body


async def test_hook_log_lines_arrive_newest_first_in_parse_shape(app_factory: Any) -> None:
    _, api = await app_factory(cloud=HOOKS)
    for patient in ("P1", "P2", "P3"):
        r = await api.post("/functions/noteNight", {"patient": patient}, master=True)
        assert r.status_code == 200, r.text
    entries = await _log(api, level="info", n=100)
    noted = [e for e in entries if "night noted" in e["message"]]
    assert [e["message"].split()[3] for e in noted] == ["P3", "P2", "P1"]
    for entry in noted:
        assert set(entry) == {"timestamp", "level", "message"} and entry["level"] == "info"
        datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))


async def test_secrets_never_reach_the_log(app_factory: Any) -> None:
    _, api = await app_factory(cloud=HOOKS)
    _, token = await api.signup("nurse", password="hunter2-secret")
    await api.post("/functions/noteNight", {"patient": "P9", "password": "hunter2-secret", "token": token},
                   headers=api.as_user(token))
    logging.getLogger("engine.test").warning("operator pasted %s and %s", MASTER, '{"sessionToken": "abc123def"}')
    text = json.dumps(await _log(api, n=1000))
    assert "P9" in text and "operator pasted" in text
    for secret in (MASTER, token, "hunter2-secret", "abc123def"):
        assert secret not in text
    assert MASK in text


async def test_level_error_keeps_only_errors_and_info_keeps_everything(app_factory: Any) -> None:
    _, api = await app_factory(cloud=HOOKS)
    r = await api.post("/functions/explode", {}, master=True)
    assert r.status_code == 400 and r.json()["code"] == 141
    await api.post("/functions/noteNight", {"patient": "P4"}, master=True)
    errors = await _log(api, level="error", n=100)
    assert errors and all(e["level"] == "error" for e in errors)
    assert any("sensor feed unreadable" in e["message"] for e in errors)
    # The traceback stays out: only the exception's type and message are kept.
    assert not any("Traceback" in e["message"] for e in errors)
    everything = await _log(api, level="info", n=100)
    assert {"error", "info"} <= {e["level"] for e in everything}


async def test_size_n_order_and_time_window(app_factory: Any) -> None:
    _, api = await app_factory(cloud=HOOKS)
    for i in range(15):
        logging.getLogger("engine.test").info("line %02d", i)
    default = await _log(api)  # Parse's default size is 10
    assert len(default) == 10 and default[0]["message"] == "line 14"
    assert [e["message"] for e in await _log(api, size=3)] == ["line 14", "line 13", "line 12"]
    assert [e["message"] for e in await _log(api, size=50, n=2)] == ["line 14", "line 13"]  # n wins, as in Parse
    oldest_first = await _log(api, n=1000, order="asc")
    mine = [e["message"] for e in oldest_first if e["message"].startswith("line ")]
    assert mine == [f"line {i:02d}" for i in range(15)]
    past = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    assert await _log(api, until=past) == []
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await _log(api, **{"from": future}) == []
    # Nonsense parameters fall back to Parse's defaults instead of failing.
    assert len(await _log(api, size="lots", until="yesterday-ish", level="bogus")) == 10


async def test_ring_is_bounded(app_factory: Any) -> None:
    _, api = await app_factory(log_ring_size=5)
    for i in range(20):
        logging.getLogger("engine.test").info("burst %d", i)
    entries = await _log(api, n=100000)
    assert [e["message"] for e in entries] == [f"burst {i}" for i in range(19, 14, -1)]


async def test_log_file_gets_the_same_scrubbed_entries(app_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "sleeplab.log"
    _, api = await app_factory(log_file=str(path))
    logging.getLogger("engine.test").error("lab key %s leaked", MASTER)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    mine = [line for line in lines if line["message"].startswith("lab key")]
    assert mine == [{"timestamp": mine[0]["timestamp"], "level": "error", "message": f"lab key {MASK} leaked"}]


# ---- unit: the dense parts (query bounds, scrubbing) ----

def test_query_bounds() -> None:
    assert log_query().size == 10
    assert log_query(size="100000").size == MAX_SIZE
    assert log_query(size="-5").size == 1
    assert log_query(size="0").size == 10  # Parse: Number(0) || 10
    assert log_query(level="warn").level == "info" and log_query(level="error").level == "error"
    assert log_query(order="sideways").order == "desc"
    assert log_query(until="not a date").until is None


def test_scrubber_masks_keys_tokens_and_password_fields() -> None:
    scrub = Scrubber(["master-key-123", "short"])
    text = scrub('m=master-key-123 t=r:0123456789abcdef0123456789abcdef {"password": "pw 1", "x": 1} '
                 "password=pw2&sessionToken=abc X-Parse-Master-Key: zzz short")
    for secret in ("master-key-123", "r:0123", "pw 1", "pw2", "abc", "zzz"):
        assert secret not in text
    assert '"x": 1' in text and "short" in text  # too short to be a key: ordinary words stay readable


def test_long_messages_are_cut() -> None:
    book = LogBook(10)
    entry = book.add("info", "x" * 10000)
    assert len(entry.message) == MAX_MESSAGE_CHARS + 1
