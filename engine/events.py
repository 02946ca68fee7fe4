"""The in-process event bus: one event per committed write, for LiveQuery (published after the commit)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.schema.model import ClassDef
from engine.storage.base import StoredObject

log = logging.getLogger("engine.events")


@dataclass(frozen=True, slots=True)
class ObjectSaved:
    cls: ClassDef
    obj: StoredObject
    original: StoredObject | None  # None on create


@dataclass(frozen=True, slots=True)
class ObjectDeleted:
    cls: ClassDef
    obj: StoredObject


Event = ObjectSaved | ObjectDeleted
Listener = Callable[[Event], Awaitable[None]]


class EventBus:
    """Listeners run after the write committed; a failing listener is logged and never fails the write."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def active(self) -> bool:
        return bool(self._listeners)

    async def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:
                log.exception("event listener failed")
