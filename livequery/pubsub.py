"""Carry committed writes between processes: a PubSub protocol, in-memory and Redis backends, the JSON codec."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from engine.errors import ParseError
from engine.events import Event, ObjectDeleted
from engine.schema.model import ClassDef
from engine.schema.rest import class_from_json, class_to_json
from engine.storage.base import StoredObject, freeze
from engine.wire import RelationRef, decode, decode_acl, parse_date
from livequery.dispatch import LiveEvent
from livequery.protocol import stored_json

log = logging.getLogger("livequery")
Callback = Callable[[bytes], Awaitable[None]]


class PubSub(Protocol):
    # True when a message can only reach this process: the publisher may then skip classes nobody watches.
    local_only: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def subscribe(self, channel: str, callback: Callback) -> None: ...


class InMemoryPubSub:
    """One process: publish calls the subscribers directly (so a write's events are queued before it returns)."""

    local_only = True

    def __init__(self) -> None:
        self._subs: dict[str, list[Callback]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subs.clear()

    async def publish(self, channel: str, data: bytes) -> None:
        for callback in list(self._subs.get(channel, ())):
            try:
                await callback(data)
            except Exception:
                log.exception("livequery subscriber failed")

    async def subscribe(self, channel: str, callback: Callback) -> None:
        self._subs.setdefault(channel, []).append(callback)


class RedisPubSub:
    """Redis PUBLISH/SUBSCRIBE, so writes on any API process reach subscribers on every LiveQuery process."""

    local_only = False

    def __init__(self, client: Any) -> None:
        self._redis = client  # a redis.asyncio.Redis (or fakeredis's drop-in)
        self._pubsub: Any = None
        self._callbacks: dict[str, list[Callback]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisPubSub:
        import redis.asyncio  # imported here: the in-memory default must not need redis installed

        return cls(redis.asyncio.from_url(url))

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        if self._callbacks:
            await self._pubsub.subscribe(*self._callbacks)
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    async def publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)

    async def subscribe(self, channel: str, callback: Callback) -> None:
        self._callbacks.setdefault(channel, []).append(callback)
        if self._pubsub is not None:
            await self._pubsub.subscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("livequery redis read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if not message or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            for callback in list(self._callbacks.get(channel, ())):
                try:
                    await callback(message["data"])
                except Exception:
                    log.exception("livequery subscriber failed")


def open_pubsub(redis_url: str) -> PubSub:
    return RedisPubSub.from_url(redis_url) if redis_url else InMemoryPubSub()


# ---- the codec: one engine Event ⇄ JSON bytes ----

def encode_event(event: Event) -> bytes:
    if isinstance(event, ObjectDeleted):
        payload = {"className": event.cls.name, "object": stored_json(event.obj), "original": None, "op": "delete"}
    else:
        original = stored_json(event.original) if event.original is not None else None
        payload = {"className": event.cls.name, "object": stored_json(event.obj), "original": original, "op": "save"}
    # The writer's schema travels with the event (as Parse sends classLevelPermissions), so a process that has
    # not seen the class yet, or not its latest CLP, still checks the right permissions.
    payload["schema"] = class_to_json(event.cls)
    return json.dumps(payload, separators=(",", ":")).encode()


def _stored(class_name: str, data: dict[str, Any]) -> StoredObject:
    builtins = ("objectId", "createdAt", "updatedAt", "ACL", "className")
    fields = {k: decode(v) for k, v in data.items() if k not in builtins}
    acl = decode_acl(data["ACL"]) if "ACL" in data else None
    return StoredObject(class_name, str(data["objectId"]), parse_date(data["createdAt"]), parse_date(data["updatedAt"]),
                        acl, freeze({k: v for k, v in fields.items() if not isinstance(v, RelationRef)}))


def _schema(payload: dict[str, Any]) -> ClassDef | None:
    try:
        return class_from_json(payload["schema"]) if isinstance(payload.get("schema"), dict) else None
    except ParseError:
        return None


def decode_event(data: bytes | str) -> LiveEvent:
    payload = json.loads(data)
    cls = payload["className"]
    original = payload.get("original")
    return LiveEvent(cls, _stored(cls, payload["object"]), _stored(cls, original) if original else None,
                     payload.get("op") == "delete", _schema(payload))
