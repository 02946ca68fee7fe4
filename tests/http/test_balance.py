"""engine/http/balance.py: when a worker sheds a keep-alive connection, and how the response says so."""

from __future__ import annotations

from typing import Any

import pytest

from engine.http.balance import ABSENT, SHED_INTERVAL, LoadBoard, Shedder, ShedExcess, over_share


@pytest.mark.parametrize(("mine", "loads", "shed"), [
    (14, (14, 2), True),    # the kernel's hash put most connections here
    (10, (10, 6), True),    # still more than one above an even share of 8
    (9, (9, 7), False),     # within one of it: left alone, so balanced sets never churn
    (2, (14, 2), False),    # the light worker keeps what it has
    (6, (6, 0), False),     # too few connections in all for placement to matter
    (9, (9, ABSENT), False),  # the other worker is down: nowhere better to go
    (7, (7, 1, 0, ABSENT), False),  # fewer than four per present worker in all
    (9, (9, 3, 2, 2), True),
])
def test_over_share(mine: int, loads: tuple[int, ...], shed: bool) -> None:
    assert over_share(mine, loads) is shed


def test_board_slots_start_absent_and_hold_what_is_posted() -> None:
    board = LoadBoard(3)
    assert board.loads() == (ABSENT, ABSENT, ABSENT)
    board.post(1, 12)
    assert board.loads() == (ABSENT, 12, ABSENT)


def test_shedder_posts_its_count_and_sheds_at_most_once_per_interval() -> None:
    board = LoadBoard(2)
    board.post(1, 2)
    now = [100.0]
    held = [14]
    shedder = Shedder(board, 0, lambda: held[0], clock=lambda: now[0])
    assert shedder.should_shed()
    assert board.loads() == (14, 2)
    assert not shedder.should_shed()  # the first reconnect has not shown in the counts yet
    now[0] += 2 * SHED_INTERVAL
    assert shedder.should_shed()
    held[0] = 9  # the shed connections came back on the other worker
    board.post(1, 7)
    now[0] += 2 * SHED_INTERVAL
    assert not shedder.should_shed()
    assert board.loads() == (9, 7)


async def _respond(app: ShedExcess, scope_type: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": scope_type}, receive, send)
    return sent


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"Connection", b"keep-alive")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def test_a_shed_response_says_connection_close_once() -> None:
    board = LoadBoard(2)
    board.post(1, 0)
    heavy = ShedExcess(_inner, Shedder(board, 0, lambda: 12))
    start, body = await _respond(heavy)
    assert start["headers"] == [(b"content-type", b"application/json"), (b"connection", b"close")]
    assert body == {"type": "http.response.body", "body": b"{}"}
    start, _ = await _respond(heavy)  # within the interval: untouched
    assert (b"connection", b"close") not in start["headers"]


async def test_balanced_workers_and_websockets_are_untouched() -> None:
    board = LoadBoard(2)
    board.post(1, 8)
    balanced = ShedExcess(_inner, Shedder(board, 0, lambda: 8))
    start, _ = await _respond(balanced)
    assert (b"connection", b"close") not in start["headers"]
    board.post(1, 0)
    heavy = ShedExcess(_inner, Shedder(board, 0, lambda: 12))
    start, _ = await _respond(heavy, "websocket")
    assert (b"connection", b"close") not in start["headers"]
