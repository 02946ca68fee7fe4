"""The in-process event bus: one event per committed write, for LiveQuery (published after the commit)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
Interest = Callable[[str], bool]  # does a listener care about this class right now?


def _always(class_name: str) -> bool:
    return True


class EventBus:
    """Listeners run after the write committed; a failing listener is logged and never fails the write."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, Interest]] = []

    def subscribe(self, listener: Listener, interest: Interest = _always) -> None:
        self._listeners.append((listener, interest))

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners = [(lst, i) for lst, i in self._listeners if lst != listener]

    def wants(self, class_name: str) -> bool:
        """Whether a write to this class must be published (and so load the object's previous state)."""
        return any(interest(class_name) for _, interest in self._listeners)

    async def publish(self, event: Event) -> None:
        held = _HELD.get()
        if held is not None and held[0] is asyncio.current_task():
            held[1].append((self, event))  # inside a transaction: published once it commits (see holding)
            return
        await self.deliver(event)

    async def deliver(self, event: Event) -> None:
        for listener, interest in list(self._listeners):
            if not interest(event.cls.name):
                continue
            try:
                await listener(event)
            except Exception:
                log.exception("event listener failed")


Held = list[tuple[EventBus, Event]]
_HELD: ContextVar[tuple[asyncio.Task[object] | None, Held] | None] = ContextVar("held_events", default=None)


@contextmanager
def holding() -> Iterator[Held]:
    """Events this task publishes meanwhile are collected, not delivered: a transaction delivers them after its
    commit and drops them on rollback, so no subscriber ever sees a write that did not happen."""
    held: Held = []
    token = _HELD.set((asyncio.current_task(), held))
    try:
        yield held
    finally:
        _HELD.reset(token)
