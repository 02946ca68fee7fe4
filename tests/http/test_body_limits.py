"""The body limit in-process (any ASGI server): a declared length is refused unread, a streamed one is cut off."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.conftest import make_settings, start_app

H = {"X-Parse-Application-Id": "testapp", "Content-Type": "application/json"}


async def test_streamed_body_is_cut_off_at_the_limit() -> None:
    app, client = await start_app(make_settings(max_body_bytes=1000))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a":"'
        for _ in range(100):
            yield b"x" * 500
        yield b'"}'

    async with client:
        r = await client.post("/parse/classes/SleepStudy", content=chunks(), headers=H)
        assert r.status_code == 413 and r.json() == {"code": 116, "error": "request entity too large"}
    await app.state.engine.stop()


async def test_body_at_the_limit_is_accepted() -> None:
    app, client = await start_app(make_settings(max_body_bytes=1000))
    async with client:
        body = b'{"a":"' + b"x" * (1000 - 8) + b'"}'
        r = await client.post("/parse/functions/nothing", content=body, headers=H)
        assert r.status_code != 413
    await app.state.engine.stop()
