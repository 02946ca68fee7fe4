"""FindOptions: the non-`where` half of a query (limit, skip, order, keys, include, count)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import ErrorCode, ParseError
from engine.query.where import MAX_KEY_LENGTH, MAX_PATH_SEGMENTS, Path


@dataclass(frozen=True, slots=True)
class SortKey:
    path: Path
    descending: bool = False


@dataclass(frozen=True, slots=True)
class FindOptions:
    limit: int | None = 100  # None: no limit (server-side queries only)
    skip: int = 0
    order: tuple[SortKey, ...] = ()
    keys: tuple[str, ...] | None = None
    exclude_keys: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    include_all: bool = False
    count: bool = False


MAX_INCLUDES = 50
MAX_INCLUDE_DEPTH = 10
MAX_ORDER_KEYS = 32  # sort keys in one `order`
MAX_PROJECTION_KEYS = 1_000  # names in `keys` or `excludeKeys`
# JavaScript's Number.MAX_SAFE_INTEGER: the largest skip a JS client can send exactly; every store binds it.
MAX_SKIP = 2**53 - 1
_INTEGER_RE = re.compile(r"^\s*[+-]?[0-9]{1,30}\s*$")  # ASCII digits only: int() would also take "1_0" and "١"
FIND_PARAMS = frozenset({
    "where", "order", "limit", "skip", "keys", "excludeKeys", "include", "includeAll", "count",
    "redirectClassNameForKey", "readPreference", "includeReadPreference", "subqueryReadPreference", "hint",
    "explain", "comment",
})
GET_PARAMS = frozenset({"keys", "include", "excludeKeys", "readPreference", "includeReadPreference",
                        "subqueryReadPreference"})


# Parse accepts the MongoDB column names of the timestamps in `order` (DatabaseController.find).
_STORAGE_ALIASES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}
_ROOT_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ParseError(ErrorCode.INVALID_QUERY, f"{name} must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_RE.match(value):
        return int(value)
    raise ParseError(ErrorCode.INVALID_QUERY, f"{name} must be a number")


def _names(name: str, value: object, *, most: int) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    elif isinstance(value, str):
        parts = value.split(",")
    else:
        raise ParseError(ErrorCode.INVALID_QUERY, f"{name} must be a comma-separated string")
    names = tuple(p.strip() for p in parts if p.strip())
    if len(names) > most:
        raise ParseError(ErrorCode.INVALID_QUERY, f"{name} accepts at most {most} keys")
    for key in names:
        if len(key) > MAX_KEY_LENGTH + 1 or key.count(".") >= MAX_PATH_SEGMENTS:  # + 1: order's "-"
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name in {name}: {key[:64]}")
    return names


def _truthy(value: object) -> bool:
    return value in (True, 1, "1", "true", "True")


def parse_order(value: object) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in _names("order", value, most=MAX_ORDER_KEYS):
        desc = part.startswith("-")
        name = part[1:] if desc else part
        name = _STORAGE_ALIASES.get(name, name)
        if name != "$score" and not _ROOT_FIELD_RE.match(name.split(".")[0]):
            # Parse's fieldNameIsValid on the root: `_hashed_password` and other internal columns are no field.
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {name}.")
        if not name or len(name) > MAX_KEY_LENGTH or not all(
                seg and (seg.replace("_", "a").isalnum() or seg == "$score") for seg in name.split(".")):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {name}.")
        keys.append(SortKey(tuple(name.split(".")), desc))
    return tuple(keys)


def find_options(
    params: Mapping[str, object], *, default_limit: int, max_limit: int, single: bool = False
) -> FindOptions:
    """Options of a find (or, with ``single``, a get) from query-string or JSON-body params."""
    allowed = GET_PARAMS if single else FIND_PARAMS
    for key in params:
        if key not in allowed:
            if single:
                raise ParseError(ErrorCode.INVALID_QUERY, "Improper encode of parameter")
            raise ParseError(ErrorCode.INVALID_QUERY, f"Invalid parameter for query: {key}")
    limit = default_limit
    if "limit" in params:
        # Past max_limit the value is clamped below, so an enormous limit never reaches the store.
        limit = _int("limit", params["limit"])
        if limit < 0:
            limit = default_limit
    skip = _int("skip", params["skip"]) if "skip" in params else 0
    if skip < 0:
        raise ParseError(ErrorCode.INVALID_QUERY, "skip must be a non-negative number")
    if skip > MAX_SKIP:
        raise ParseError(ErrorCode.INVALID_QUERY, f"skip must be at most {MAX_SKIP}")
    include = _names("include", params["include"], most=MAX_INCLUDES) if "include" in params else ()
    if len(include) > MAX_INCLUDES or any(i.count(".") >= MAX_INCLUDE_DEPTH for i in include):
        raise ParseError(ErrorCode.INVALID_QUERY,
                         f"include is limited to {MAX_INCLUDES} paths of at most {MAX_INCLUDE_DEPTH} levels")
    return FindOptions(
        limit=min(limit, max_limit),
        skip=skip,
        order=parse_order(params["order"]) if "order" in params else (),
        keys=_names("keys", params["keys"], most=MAX_PROJECTION_KEYS) if "keys" in params else None,
        exclude_keys=(_names("excludeKeys", params["excludeKeys"], most=MAX_PROJECTION_KEYS)
                      if "excludeKeys" in params else ()),
        include=tuple(i for i in include if i != "*"),
        include_all="*" in include or _truthy(params.get("includeAll")),
        count=_truthy(params.get("count")),
    )
