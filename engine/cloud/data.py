"""The data API hooks use (queries, get, save, destroy), acting as the request or with the master key."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

from engine.cloud.objects import CloudObject, encode_value
from engine.errors import ErrorCode, ParseError
from engine.wire import Pointer


class DataAccess(Protocol):
    """What the pipeline provides to hooks; bound to one request's Auth.

    ``master=False`` acts as the caller (their session, ACLs, CLPs); ``master=True`` acts with the master key.
    ``where``, ``options`` and ``fields`` are Parse wire JSON (``options`` in REST form: ``order="a,-b"``,
    ``include="x,y"``, ``keys="x,y"``, ``limit``, ``skip``). ``create``/``update`` return what the server answers:
    at least ``objectId``/``createdAt`` or ``updatedAt``, plus fields the server computed (e.g. an Increment).
    """

    async def find(
        self, class_name: str, where: Mapping[str, Any], options: Mapping[str, Any], *, master: bool
    ) -> list[CloudObject]: ...

    async def count(self, class_name: str, where: Mapping[str, Any], *, master: bool) -> int: ...

    async def get(self, class_name: str, object_id: str, *, master: bool) -> CloudObject: ...

    async def create(self, class_name: str, fields: Mapping[str, Any], *, master: bool) -> CloudObject: ...

    async def update(
        self, class_name: str, object_id: str, fields: Mapping[str, Any], *, master: bool
    ) -> CloudObject: ...

    async def delete(self, class_name: str, object_id: str, *, master: bool) -> None: ...

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], where: Mapping[str, Any], *, master: bool
    ) -> list[Any]: ...


_OPTION_KEYS = ("order", "limit", "skip", "include", "keys")
_REGEX_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.VERBOSE, "x"), (re.DOTALL, "s"))


def _quote(text: str) -> str:
    """The SDK's regex literal quoting (\\Q...\\E), which the where parser understands."""
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _split(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    if isinstance(value, Sequence):
        return [str(part) for part in value]
    raise ParseError(ErrorCode.INVALID_QUERY, f"invalid option value: {value!r}")


def _keys(keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str):
            raise TypeError("query keys are strings")
        out.extend(part.strip() for part in key.split(",") if part.strip())
    return out


class CloudQuery:
    """A fluent Parse query (the SDK's Parse.Query): constraints build ``where_json()``, the rest ``options_json()``.

    Methods mutate and return the query, as the SDK's do. A query from ``req.data.query(...)`` can run itself.
    """

    def __init__(self, class_name: str, *, data: DataApi | None = None) -> None:
        if not isinstance(class_name, str) or not class_name:
            raise ValueError("a query needs a class name")
        self.class_name = class_name
        self._data = data
        self._where: dict[str, Any] = {}
        self._order: list[str] = []
        self._limit: int | None = None
        self._skip: int | None = None
        self._include: list[str] = []
        self._keys: list[str] | None = None
        # Options this class does not model (count, excludeKeys, hint, readPreference...) pass through untouched,
        # so a beforeFind hook that edits the where clause does not drop them.
        self._extra: dict[str, Any] = {}

    @classmethod
    def from_json(
        cls,
        class_name: str,
        where: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        data: DataApi | None = None,
    ) -> CloudQuery:
        """Rebuild a query from REST ``where`` + options (what beforeFind hooks receive)."""
        query = cls(class_name, data=data)
        query._where = copy.deepcopy(dict(where or {}))
        opts = dict(options or {})
        query._order = _split(opts.pop("order", None))
        query._include = _split(opts.pop("include", None))
        keys = opts.pop("keys", None)
        query._keys = _split(keys) if keys is not None else None
        limit, skip = opts.pop("limit", None), opts.pop("skip", None)
        query._limit = int(limit) if limit is not None else None
        query._skip = int(skip) if skip is not None else None
        opts.pop("where", None)
        query._extra = opts
        return query

    def bind(self, data: DataApi) -> Self:
        self._data = data
        return self

    def clone(self) -> CloudQuery:
        other = CloudQuery.from_json(self.class_name, self.where_json(), self.options_json(), data=self._data)
        return other

    # -- constraints ----------------------------------------------------------------------------------------------

    def _add(self, key: str, op: str, value: Any) -> Self:
        if not isinstance(key, str) or not key:
            raise TypeError("query keys are non-empty strings")
        current = self._where.get(key)
        # An equality (or an encoded pointer/date) is replaced, as the SDK does; an operator dict is extended.
        if not (isinstance(current, dict) and current and all(k.startswith("$") for k in current)):
            current = {}
            self._where[key] = current
        current[op] = value
        return self

    def equal_to(self, key: str, value: Any) -> Self:
        if not isinstance(key, str) or not key:
            raise TypeError("query keys are non-empty strings")
        self._where[key] = encode_value(value)
        return self

    def not_equal_to(self, key: str, value: Any) -> Self:
        return self._add(key, "$ne", encode_value(value))

    def less_than(self, key: str, value: Any) -> Self:
        return self._add(key, "$lt", encode_value(value))

    def less_than_or_equal_to(self, key: str, value: Any) -> Self:
        return self._add(key, "$lte", encode_value(value))

    def greater_than(self, key: str, value: Any) -> Self:
        return self._add(key, "$gt", encode_value(value))

    def greater_than_or_equal_to(self, key: str, value: Any) -> Self:
        return self._add(key, "$gte", encode_value(value))

    def contained_in(self, key: str, values: Sequence[Any]) -> Self:
        return self._add(key, "$in", encode_value(list(values)))

    def not_contained_in(self, key: str, values: Sequence[Any]) -> Self:
        return self._add(key, "$nin", encode_value(list(values)))

    def contains_all(self, key: str, values: Sequence[Any]) -> Self:
        return self._add(key, "$all", encode_value(list(values)))

    def exists(self, key: str) -> Self:
        return self._add(key, "$exists", True)

    def does_not_exist(self, key: str) -> Self:
        return self._add(key, "$exists", False)

    def starts_with(self, key: str, prefix: str) -> Self:
        return self._add(key, "$regex", "^" + _quote(prefix))

    def matches(self, key: str, regex: str | re.Pattern[str], modifiers: str = "") -> Self:
        if isinstance(regex, re.Pattern):
            modifiers += "".join(flag for bit, flag in _REGEX_FLAGS if regex.flags & bit and flag not in modifiers)
            regex = regex.pattern
        self._add(key, "$regex", regex)
        if modifiers:
            self._add(key, "$options", modifiers)
        return self

    def matches_query(self, key: str, query: CloudQuery) -> Self:
        return self._add(key, "$inQuery", query._subquery_json())

    def does_not_match_query(self, key: str, query: CloudQuery) -> Self:
        return self._add(key, "$notInQuery", query._subquery_json())

    @staticmethod
    def or_(*queries: CloudQuery) -> CloudQuery:
        return CloudQuery._compound("$or", queries)

    @staticmethod
    def and_(*queries: CloudQuery) -> CloudQuery:
        return CloudQuery._compound("$and", queries)

    @staticmethod
    def _compound(op: str, queries: Sequence[CloudQuery]) -> CloudQuery:
        if not queries:
            raise ValueError(f"{op} needs at least one query")
        class_names = {q.class_name for q in queries}
        if len(class_names) != 1:
            raise ValueError(f"all queries in {op} must be on the same class")
        out = CloudQuery(queries[0].class_name, data=next((q._data for q in queries if q._data), None))
        out._where[op] = [q.where_json() for q in queries]
        return out

    # -- options --------------------------------------------------------------------------------------------------

    def ascending(self, *keys: str) -> Self:
        self._order = _keys(keys)
        return self

    def descending(self, *keys: str) -> Self:
        self._order = ["-" + k for k in _keys(keys)]
        return self

    def add_ascending(self, *keys: str) -> Self:
        self._order.extend(_keys(keys))
        return self

    def add_descending(self, *keys: str) -> Self:
        self._order.extend("-" + k for k in _keys(keys))
        return self

    def limit(self, n: int) -> Self:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("limit is an int")
        self._limit = n
        return self

    def skip(self, n: int) -> Self:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError("skip is a non-negative int")
        self._skip = n
        return self

    def include(self, *keys: str) -> Self:
        self._include.extend(_keys(keys))
        return self

    def select(self, *keys: str) -> Self:
        self._keys = [*(self._keys or []), *_keys(keys)]
        return self

    # -- JSON -----------------------------------------------------------------------------------------------------

    def where_json(self) -> dict[str, Any]:
        """The ``where`` clause as Parse JSON (a copy: editing it does not change the query)."""
        return copy.deepcopy(self._where)

    def options_json(self) -> dict[str, Any]:
        """REST find options that are set: ``order``, ``limit``, ``skip``, ``include``, ``keys`` (+ pass-through)."""
        out: dict[str, Any] = copy.deepcopy(self._extra)
        if self._order:
            out["order"] = ",".join(self._order)
        if self._limit is not None:
            out["limit"] = self._limit
        if self._skip is not None:
            out["skip"] = self._skip
        if self._include:
            out["include"] = ",".join(self._include)
        if self._keys is not None:
            out["keys"] = ",".join(self._keys)
        return out

    def _subquery_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"where": self.where_json(), "className": self.class_name}
        for key, value in self.options_json().items():
            if key in _OPTION_KEYS:
                out[key] = value
        return out

    # -- running --------------------------------------------------------------------------------------------------

    def _api(self) -> DataApi:
        if self._data is None:
            raise RuntimeError("this query is not bound to a data API; build it with req.data.query(...)")
        return self._data

    async def find(self, use_master: bool | None = None) -> list[CloudObject]:
        api = self._api()
        return await api.access.find(
            self.class_name, self.where_json(), self.options_json(), master=api.resolve_master(use_master)
        )

    async def first(self, use_master: bool | None = None) -> CloudObject | None:
        found = await self.clone().limit(1).find(use_master)
        return found[0] if found else None

    async def get(self, object_id: str, use_master: bool | None = None) -> CloudObject:
        """The object with this id that also matches the query's constraints; 101 when there is none."""
        found = await self.clone().equal_to("objectId", object_id).first(use_master)
        if found is None:
            raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
        return found

    async def count(self, use_master: bool | None = None) -> int:
        api = self._api()
        return await api.access.count(self.class_name, self.where_json(), master=api.resolve_master(use_master))

    def __repr__(self) -> str:
        return f"CloudQuery({self.class_name!r}, where={self._where!r}, options={self.options_json()!r})"


class DataApi:
    """Server-side data access for one request. ``use_master=None`` acts as the request does (``master``)."""

    __slots__ = ("access", "master")

    def __init__(self, access: DataAccess, *, master: bool) -> None:
        self.access = access
        self.master = bool(master)

    def resolve_master(self, use_master: bool | None) -> bool:
        return self.master if use_master is None else bool(use_master)

    def as_master(self) -> DataApi:
        return DataApi(self.access, master=True)

    def query(self, class_name: str) -> CloudQuery:
        return CloudQuery(class_name, data=self)

    async def get(self, class_name: str, object_id: str, use_master: bool | None = None) -> CloudObject:
        return await self.access.get(class_name, object_id, master=self.resolve_master(use_master))

    async def create(self, class_name: str, fields: Mapping[str, Any], use_master: bool | None = None) -> CloudObject:
        """Store a new object from Python values (an ``"ACL"`` entry may be an engine.wire.ACL)."""
        return await self.access.create(class_name, encode_value(dict(fields)), master=self.resolve_master(use_master))

    async def save(self, obj: CloudObject, use_master: bool | None = None) -> CloudObject:
        """Create ``obj`` when it has no id, else send its dirty keys; ``obj`` is updated in place and returned."""
        master = self.resolve_master(use_master)
        if obj.object_id is None:
            fields = encode_value(dict(obj))
            if obj.acl is not None:
                fields["ACL"] = obj.acl.to_json()
            saved = await self.access.create(obj.class_name, fields, master=master)
        else:
            changes: dict[str, Any] = {}
            for key in sorted(obj.dirty_keys()):
                if key == "ACL":
                    changes["ACL"] = obj.acl.to_json() if obj.acl is not None else None
                elif key in obj:
                    changes[key] = encode_value(obj[key])
                else:
                    changes[key] = {"__op": "Delete"}
            if not changes:
                return obj
            saved = await self.access.update(obj.class_name, obj.object_id, changes, master=master)
        obj.merge_saved(saved)
        return obj

    async def increment(
        self, obj: CloudObject, key: str, amount: int | float = 1, use_master: bool | None = None
    ) -> CloudObject:
        """Atomically add ``amount`` to ``obj[key]`` on the server (Parse's Increment op); ``obj`` takes the result."""
        if obj.object_id is None:
            raise ValueError("save the object before incrementing one of its fields")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise TypeError("amount must be a number")
        op = {key: {"__op": "Increment", "amount": amount}}
        saved = await self.access.update(obj.class_name, obj.object_id, op, master=self.resolve_master(use_master))
        if key not in saved:
            # The server did not echo the new value: mirror what it applied so the local view stays consistent.
            saved = saved.copy()
            saved[key] = (obj.get(key) or 0) + amount
        # Other unsaved local edits stay dirty: only this key was sent.
        obj.merge_saved(saved, keys=(key,))
        return obj

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], where: Mapping[str, Any] | None = None,
        use_master: bool | None = None,
    ) -> list[Any]:
        """Parse's ``query.aggregate(pipeline)``, master key only as in Parse. ``where`` (Parse where JSON, pointers
        and dates included) narrows the rows in the store before the pipeline runs, so a hook never loads a whole
        class to aggregate one patient's rows. Results are Parse JSON, as ``/aggregate`` answers."""
        if not self.resolve_master(use_master):
            raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "aggregate needs the master key (use_master=True)")
        return await self.access.aggregate(class_name, list(pipeline), dict(where or {}), master=True)

    async def destroy(self, obj: CloudObject | Pointer, use_master: bool | None = None) -> None:
        if obj.object_id is None:
            raise ValueError(f"cannot destroy an unsaved {obj.class_name}")
        await self.access.delete(obj.class_name, obj.object_id, master=self.resolve_master(use_master))
