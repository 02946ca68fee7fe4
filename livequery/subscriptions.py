"""Every live subscription, keyed by (client, requestId), indexed by class and by one equality in its `where`.

A write's cost must depend on the subscriptions it can match, not on how many are listening: a subscription whose
`where` pins a top-level field to a scalar (`{"room": "a"}`, `{"objectId": "x"}`, a pointer) is filed under that
value, so an event looks up only the subscriptions filed under the values the object holds (before and after the
write) plus those with no such equality. The full matcher still decides; the index only narrows who is asked.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from engine.query.where import And, Compare, In, Where
from engine.storage.base import StoredObject
from engine.wire import Pointer

SubKey = tuple[str, int]  # (client id, request id)


@dataclass(frozen=True, slots=True)
class Subscription:
    request_id: int
    class_name: str
    where: Where  # already stripped of nodes that cannot be evaluated in memory
    keys: tuple[str, ...] | None = None
    watch: tuple[str, ...] | None = None
    session_token: str | None = None  # the subscribe's own token; None falls back to the connect's
    get_only: bool = False  # the query is just {objectId}: CLP `get` decides instead of `find`, as in Parse


def value_key(value: object) -> Hashable | None:
    """A hashable stand-in that is equal exactly when `values_equal` is (1 == 1.0, True != 1); None: not indexable."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Pointer):
        return ("p", value.class_name, value.object_id)
    return None


def equality(where: Where) -> tuple[str, tuple[Hashable, ...]] | None:
    """The first top-level `field == scalar` (or `field $in [scalars]`) a match requires, as the field and the values
    it may hold; None when there is none (the subscription is then checked on every write)."""
    items = where.items if isinstance(where, And) else (where,)
    for item in items:
        if isinstance(item, Compare) and item.op == "eq" and len(item.path) == 1:
            key = value_key(item.value)
            if key is not None:
                return item.path[0], (key,)
        if isinstance(item, In) and not item.negate and len(item.path) == 1 and item.values:
            keys = tuple(value_key(v) for v in item.values)
            if all(k is not None for k in keys):
                return item.path[0], tuple(dict.fromkeys(keys))
    return None


def _object_keys(obj: StoredObject, name: str) -> Iterator[Hashable]:
    value = obj.object_id if name == "objectId" else obj.fields.get(name)
    if value is None:
        return
    # An equality on an array field matches any element, as in Mongo.
    for item in value if isinstance(value, list | tuple) else (value,):
        key = value_key(item)
        if key is not None:
            yield key


@dataclass(slots=True)
class _ClassSubs:
    loose: dict[SubKey, Subscription] = field(default_factory=dict)
    by_field: dict[str, dict[Hashable, dict[SubKey, Subscription]]] = field(default_factory=dict)
    count: int = 0


class SubscriptionIndex:
    def __init__(self) -> None:
        self._by_class: dict[str, _ClassSubs] = {}
        self._by_client: dict[str, dict[int, Subscription]] = {}

    def add(self, client_id: str, sub: Subscription) -> None:
        self.remove(client_id, sub.request_id)  # `update` replaces, possibly moving to another class
        self._by_client.setdefault(client_id, {})[sub.request_id] = sub
        subs = self._by_class.setdefault(sub.class_name, _ClassSubs())
        subs.count += 1
        eq = equality(sub.where)
        key = (client_id, sub.request_id)
        if eq is None:
            subs.loose[key] = sub
        else:
            values = subs.by_field.setdefault(eq[0], {})
            for value in eq[1]:
                values.setdefault(value, {})[key] = sub

    def get(self, client_id: str, request_id: int) -> Subscription | None:
        return self._by_client.get(client_id, {}).get(request_id)

    def remove(self, client_id: str, request_id: int) -> Subscription | None:
        per_client = self._by_client.get(client_id)
        sub = per_client.pop(request_id, None) if per_client is not None else None
        if sub is None:
            return None
        if not per_client:
            self._by_client.pop(client_id, None)
        subs = self._by_class[sub.class_name]
        subs.count -= 1
        key = (client_id, request_id)
        eq = equality(sub.where)
        if eq is None:
            subs.loose.pop(key, None)
        else:
            values = subs.by_field[eq[0]]
            for value in eq[1]:
                filed = values[value]
                filed.pop(key, None)
                if not filed:
                    del values[value]
            if not values:
                del subs.by_field[eq[0]]
        if not subs.count:
            del self._by_class[sub.class_name]
        return sub

    def remove_client(self, client_id: str) -> None:
        for rid in list(self._by_client.get(client_id, {})):
            self.remove(client_id, rid)

    def has_class(self, class_name: str) -> bool:
        return class_name in self._by_class

    def for_class(self, class_name: str) -> Iterator[tuple[str, Subscription]]:
        """Every subscription of the class (a snapshot: clients may (un)subscribe during a dispatch)."""
        subs = self._by_class.get(class_name)
        if subs is None:
            return
        every = dict(subs.loose)
        for values in subs.by_field.values():
            for filed in values.values():
                every.update(filed)
        for (client_id, _), sub in every.items():
            yield client_id, sub

    def candidates(self, class_name: str, *objects: StoredObject | None) -> list[tuple[str, Subscription]]:
        """The subscriptions that may match any of `objects` (the states before and after a write)."""
        subs = self._by_class.get(class_name)
        if subs is None:
            return []
        found: dict[SubKey, Subscription] = dict(subs.loose)
        for name, values in subs.by_field.items():
            for obj in objects:
                if obj is None:
                    continue
                for key in _object_keys(obj, name):
                    filed = values.get(key)
                    if filed:
                        found.update(filed)
        return [(client_id, sub) for (client_id, _), sub in found.items()]

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_client.values())
