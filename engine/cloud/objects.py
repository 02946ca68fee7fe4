"""CloudObject: the mutable Parse object hook code reads and edits, with dirty-key tracking and wire encoding."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import datetime
from typing import Any

from engine.wire import ACL, Pointer, decode, decode_acl, encode, format_date, parse_date

# Keys that are object metadata, not fields. They live in attributes (object_id, created_at, updated_at, acl) so a
# hook cannot forge them through the mapping; the pipeline owns them.
RESERVED_KEYS = frozenset({"objectId", "createdAt", "updatedAt", "ACL", "className", "__type"})
_MISSING = object()


class CloudObject(MutableMapping[str, Any]):
    """One Parse object: ``obj["field"]`` holds Python values as in engine.wire (datetime, Pointer, GeoPoint...).

    ``dirty_keys()`` are the keys set or unset since construction (or since the last ``mark_clean()``), which is
    what a save sends and what the pipeline diffs after a beforeSave hook.
    """

    __slots__ = (
        "_acl",
        "_data",
        "_dirty",
        "_initial",
        "_initial_acl",
        "class_name",
        "created_at",
        "object_id",
        "updated_at",
    )

    def __init__(
        self,
        class_name: str,
        object_id: str | None = None,
        fields: Mapping[str, Any] | None = None,
        *,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        acl: ACL | None = None,
    ) -> None:
        if not isinstance(class_name, str) or not class_name:
            raise ValueError("CloudObject needs a class name")
        self.class_name = class_name
        self.object_id = object_id
        self.created_at = created_at
        self.updated_at = updated_at
        self._acl = acl
        self._initial_acl = acl
        self._data: dict[str, Any] = {}
        for key, value in (fields or {}).items():
            _check_key(key)
            self._data[key] = value
        self._dirty: set[str] = set()
        self._initial: dict[str, Any] = dict(self._data)

    # -- construction from / to Parse JSON -------------------------------------------------------------------------

    @classmethod
    def from_json(cls, class_name: str, data: Mapping[str, Any]) -> CloudObject:
        """Build from a REST-format object (``objectId``, ``createdAt``, ``ACL`` and encoded fields)."""
        fields = {k: decode(v) for k, v in data.items() if k not in RESERVED_KEYS}
        acl = decode_acl(data["ACL"]) if data.get("ACL") is not None else None
        return cls(
            class_name,
            data.get("objectId"),
            fields,
            created_at=_date(data.get("createdAt")),
            updated_at=_date(data.get("updatedAt")),
            acl=acl,
        )

    def to_json(self) -> dict[str, Any]:
        """REST-format object: metadata keys that are set, plus every field encoded."""
        out: dict[str, Any] = {}
        if self.object_id is not None:
            out["objectId"] = self.object_id
        if self.created_at is not None:
            out["createdAt"] = format_date(self.created_at)
        if self.updated_at is not None:
            out["updatedAt"] = format_date(self.updated_at)
        if self._acl is not None:
            out["ACL"] = self._acl.to_json()
        out.update({k: encode_value(v) for k, v in self._data.items()})
        return out

    def to_pointer(self) -> Pointer:
        if self.object_id is None:
            raise ValueError(f"cannot point to an unsaved {self.class_name}")
        return Pointer(self.class_name, self.object_id)

    def copy(self) -> CloudObject:
        """An independent object with the same state (clean: no dirty keys)."""
        return CloudObject(
            self.class_name,
            self.object_id,
            dict(self._data),
            created_at=self.created_at,
            updated_at=self.updated_at,
            acl=self._acl,
        )

    # -- the mapping ------------------------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        self._data[key] = value
        self._dirty.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty.add(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CloudObject):
            return NotImplemented
        return (
            self.class_name == other.class_name
            and self.object_id == other.object_id
            and self._data == other._data
            and self._acl == other._acl
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CloudObject({self.class_name!r}, {self.object_id!r}, {self._data!r})"

    # -- SDK-style helpers --------------------------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def unset(self, key: str) -> None:
        """Remove a field; unlike ``del`` a missing key is not an error (Parse's ``unset``)."""
        _check_key(key)
        self._data.pop(key, None)
        self._dirty.add(key)

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def revert(self, *keys: str) -> None:
        """Undo changes to ``keys`` (every dirty key when none given), back to the construction-time state."""
        for key in keys or tuple(self._dirty):
            if key == "ACL":
                self._acl = self._initial_acl
            else:
                value = self._initial.get(key, _MISSING)
                if value is _MISSING:
                    self._data.pop(key, None)
                else:
                    self._data[key] = value
            self._dirty.discard(key)

    @property
    def acl(self) -> ACL | None:
        return self._acl

    @acl.setter
    def acl(self, value: ACL | None) -> None:
        if value is not None and not isinstance(value, ACL):
            raise TypeError("acl must be an engine.wire.ACL or None")
        self._acl = value
        self._dirty.add("ACL")

    def dirty_keys(self) -> frozenset[str]:
        """Keys set or unset since construction; ``"ACL"`` when the acl was assigned."""
        return frozenset(self._dirty)

    def is_dirty(self, key: str | None = None) -> bool:
        return bool(self._dirty) if key is None else key in self._dirty

    def existed(self) -> bool:
        """Whether this object was already stored (Parse's ``existed()``): it has a creation time."""
        return self.created_at is not None

    def mark_clean(self) -> None:
        """Forget dirty keys, e.g. after a save; the current state becomes the one ``revert`` returns to."""
        self._dirty.clear()
        self._initial = dict(self._data)
        self._initial_acl = self._acl

    def merge_saved(self, saved: CloudObject, *, keys: Iterable[str] | None = None) -> None:
        """Take what the server answered after a save (ids, dates, computed fields).

        Every key is taken and becomes clean, or only ``keys`` when given (the ones that were sent), so unsaved
        local edits to other keys survive.
        """
        if saved.object_id is not None:
            self.object_id = saved.object_id
        if saved.created_at is not None:
            self.created_at = saved.created_at
        if saved.updated_at is not None:
            self.updated_at = saved.updated_at
        if saved.acl is not None:
            self._acl = saved.acl
        if keys is None:
            self._data.update(saved._data)
            self.mark_clean()
            return
        for key in keys:
            if key in saved._data:
                self._data[key] = saved._data[key]
            self._dirty.discard(key)
            if key in self._data:
                self._initial[key] = self._data[key]
            else:
                self._initial.pop(key, None)


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError("field names are non-empty strings")
    if key in RESERVED_KEYS:
        hint = {"objectId": "object_id", "createdAt": "created_at", "updatedAt": "updated_at", "ACL": "acl"}
        raise ValueError(f"{key!r} is not a field; use obj.{hint.get(key, 'class_name')}")


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return decode(value)  # type: ignore[no-any-return]  # {"__type": "Date", "iso": ...}
    return parse_date(value)


def encode_value(value: Any) -> Any:
    """Python value → Parse JSON for fields and query constraints: a CloudObject becomes a Pointer."""
    if isinstance(value, CloudObject):
        return encode(value.to_pointer())
    if isinstance(value, ACL):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    return encode(value)


def encode_result(value: Any) -> Any:
    """Python value → Parse JSON for a function's ``result`` (Parse._encode): objects are sent whole."""
    if isinstance(value, CloudObject):
        return {"__type": "Object", "className": value.class_name, **value.to_json()}
    if isinstance(value, Mapping):
        return {k: encode_result(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_result(v) for v in value]
    return encode_value(value)


def objects_from_json(class_name: str, rows: Iterable[Mapping[str, Any]]) -> list[CloudObject]:
    return [CloudObject.from_json(class_name, row) for row in rows]
