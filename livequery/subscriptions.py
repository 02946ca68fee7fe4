"""Every live subscription, keyed by (client, requestId) and indexed by class name for dispatch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.query.where import Where


@dataclass(frozen=True, slots=True)
class Subscription:
    request_id: int
    class_name: str
    where: Where  # already stripped of nodes that cannot be evaluated in memory
    keys: tuple[str, ...] | None = None
    watch: tuple[str, ...] | None = None
    session_token: str | None = None  # the subscribe's own token; None falls back to the connect's
    get_only: bool = False  # the query is just {objectId}: CLP `get` decides instead of `find`, as in Parse


class SubscriptionIndex:
    """class name → client id → request id → Subscription; a client's entries go away together."""

    def __init__(self) -> None:
        self._by_class: dict[str, dict[str, dict[int, Subscription]]] = {}
        self._by_client: dict[str, dict[int, Subscription]] = {}

    def add(self, client_id: str, sub: Subscription) -> None:
        self.remove(client_id, sub.request_id)  # `update` replaces, possibly moving to another class
        self._by_client.setdefault(client_id, {})[sub.request_id] = sub
        self._by_class.setdefault(sub.class_name, {}).setdefault(client_id, {})[sub.request_id] = sub

    def get(self, client_id: str, request_id: int) -> Subscription | None:
        return self._by_client.get(client_id, {}).get(request_id)

    def remove(self, client_id: str, request_id: int) -> Subscription | None:
        sub = self._by_client.get(client_id, {}).pop(request_id, None)
        if sub is None:
            return None
        per_client = self._by_class.get(sub.class_name, {})
        per_client.get(client_id, {}).pop(request_id, None)
        if not per_client.get(client_id):
            per_client.pop(client_id, None)
        if not per_client:
            self._by_class.pop(sub.class_name, None)
        return sub

    def remove_client(self, client_id: str) -> None:
        for rid in list(self._by_client.get(client_id, {})):
            self.remove(client_id, rid)
        self._by_client.pop(client_id, None)

    def has_class(self, class_name: str) -> bool:
        return class_name in self._by_class

    def for_class(self, class_name: str) -> Iterator[tuple[str, Subscription]]:
        # A snapshot: a client may (un)subscribe while an event is being dispatched.
        for client_id, subs in list(self._by_class.get(class_name, {}).items()):
            for sub in list(subs.values()):
                yield client_id, sub

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_client.values())
