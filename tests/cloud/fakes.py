"""An in-memory DataAccess for cloud tests: stores wire JSON rows, answers equality queries, records every call."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.cloud.objects import CloudObject
from engine.errors import ErrorCode, ParseError
from engine.wire import format_date, new_object_id, now


def _matches(row: Mapping[str, Any], key: str, value: Any) -> bool:
    if isinstance(value, dict) and set(value) == {"$exists"}:
        return (key in row) == bool(value["$exists"])
    return bool(row.get(key) == value)


@dataclass(frozen=True)
class Call:
    op: str
    class_name: str
    args: tuple[Any, ...]
    master: bool


class FakeAccess:
    """Rows are stored as REST JSON; ``where`` supports plain equality (including objectId and pointers)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[Call] = []

    def _record(self, op: str, class_name: str, *args: Any, master: bool) -> None:
        self.calls.append(Call(op, class_name, copy.deepcopy(args), master))

    def table(self, class_name: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(class_name, {})

    def _obj(self, class_name: str, row: Mapping[str, Any]) -> CloudObject:
        return CloudObject.from_json(class_name, row)

    async def find(
        self, class_name: str, where: Mapping[str, Any], options: Mapping[str, Any], *, master: bool
    ) -> list[CloudObject]:
        self._record("find", class_name, dict(where), dict(options), master=master)
        rows = [r for r in self.table(class_name).values() if all(_matches(r, k, v) for k, v in where.items())]
        for key in reversed(str(options.get("order", "")).split(",")):
            if key:
                field = key.lstrip("-")
                rows.sort(key=lambda r: str(r.get(field)), reverse=key.startswith("-"))
        if "limit" in options:
            rows = rows[: options["limit"]]
        return [self._obj(class_name, r) for r in rows]

    async def count(self, class_name: str, where: Mapping[str, Any], *, master: bool) -> int:
        self._record("count", class_name, dict(where), master=master)
        return sum(1 for r in self.table(class_name).values() if all(_matches(r, k, v) for k, v in where.items()))

    async def get(self, class_name: str, object_id: str, *, master: bool) -> CloudObject:
        self._record("get", class_name, object_id, master=master)
        row = self.table(class_name).get(object_id)
        if row is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
        return self._obj(class_name, row)

    async def create(self, class_name: str, fields: Mapping[str, Any], *, master: bool) -> CloudObject:
        self._record("create", class_name, dict(fields), master=master)
        oid = new_object_id()
        stamp = format_date(now())
        self.table(class_name)[oid] = {**copy.deepcopy(dict(fields)), "objectId": oid, "createdAt": stamp,
                                       "updatedAt": stamp}
        # Parse answers a create with objectId + createdAt only.
        return CloudObject.from_json(class_name, {"objectId": oid, "createdAt": stamp})

    async def update(
        self, class_name: str, object_id: str, fields: Mapping[str, Any], *, master: bool
    ) -> CloudObject:
        self._record("update", class_name, object_id, dict(fields), master=master)
        row = self.table(class_name).get(object_id)
        if row is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
        answer: dict[str, Any] = {"updatedAt": format_date(now())}
        for key, value in fields.items():
            if isinstance(value, Mapping) and value.get("__op") == "Delete":
                row.pop(key, None)
            elif isinstance(value, Mapping) and value.get("__op") == "Increment":
                row[key] = row.get(key, 0) + value["amount"]
                answer[key] = row[key]  # Parse echoes server-computed values
            else:
                row[key] = copy.deepcopy(value)
        row["updatedAt"] = answer["updatedAt"]
        return CloudObject.from_json(class_name, answer)

    async def delete(self, class_name: str, object_id: str, *, master: bool) -> None:
        self._record("delete", class_name, object_id, master=master)
        if self.table(class_name).pop(object_id, None) is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
