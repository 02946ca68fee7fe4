"""Which part of an aggregate pipeline a store can run itself, as a store-neutral plan.

A store answers the leading `$match` (as a Where), then at most one `$group`, `$sort`, `$skip`, `$limit` and
`$count`, in that order, over top-level fields whose declared type makes the store's answer the same as the
Python stages' (aggregate.py). The plan stops at the first stage it cannot take; the Python stages run the rest
over the store's (few) output documents, so a pipeline's answer never depends on how much was pushed down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from engine.query.options import FindOptions, SortKey
from engine.query.where import Where
from engine.schema.model import ClassDef, FieldType

# Group keys: one scalar per row (a Pointer as "Class$id", the form Parse's `_p_` columns hold).
KEY_TYPES: Final = frozenset({FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.POINTER})
# $sum/$avg read numbers only (Mongo skips anything else); $min/$max also order strings, by code point.
_SUMMABLE: Final = frozenset({FieldType.NUMBER})
_ORDERABLE: Final = frozenset({FieldType.NUMBER, FieldType.STRING})
# Terms one GROUP BY may carry: far above a report's needs, far below SQLite's 2000 columns and PostgreSQL's 1664;
# a wider $group runs in Python (it is still bounded by the pipeline's size).
MAX_GROUP_TERMS: Final = 200
_OPS: Final = {"$sum": "sum", "$avg": "avg", "$min": "min", "$max": "max"}


@dataclass(frozen=True, slots=True)
class Accumulator:
    """``name``: the output field; ``op``: count | sum | avg | min | max; ``field``: the input (None for count)."""

    name: str
    op: str
    field: str | None


@dataclass(frozen=True, slots=True)
class Group:
    """``keys``: (output name, field) pairs of an object `_id`; one pair with name None for `_id: "$field"`;
    empty for `_id: null` (one group over every row)."""

    keys: tuple[tuple[str | None, str], ...]
    accumulators: tuple[Accumulator, ...]

    def output_names(self) -> dict[str, str]:
        """Sortable output paths (`_id`, `_id.k`, accumulator names) → the field type kind they hold."""
        names = {"_id" if name is None else f"_id.{name}": field for name, field in self.keys}
        names.update({acc.name: acc.op for acc in self.accumulators})
        return names


@dataclass(frozen=True, slots=True)
class StorePlan:
    """What the store runs: rows matching ``where``, grouped by ``group`` (None: no group, only ``count``),
    ordered by ``sort`` (output path, descending), then ``skip``/``limit``, then counted into ``count``.
    ``consumed``: how many stages after the leading `$match` the plan covers. ``ordered``: whether the order of
    the groups is observable (a sort, a page, or Python stages after the plan); when it is not, a store need not
    spend a per-row aggregate on keeping them in find()'s order (MongoDB promises no order either)."""

    where: Where
    group: Group | None
    sort: tuple[tuple[str, bool], ...] = ()
    skip: int = 0
    limit: int | None = None
    count: str | None = None
    consumed: int = 0
    ordered: bool = True


def field_type(cls: ClassDef, ref: object) -> tuple[str, FieldType] | None:
    """A `"$field"` reference to a declared top-level field (never a builtin or `_` column), with its type."""
    if not isinstance(ref, str) or not ref.startswith("$") or ref.startswith("$$"):
        return None
    name = ref[1:]
    if not name or "." in name or name.startswith("_"):
        return None
    fdef = cls.fields.get(name)
    return (name, fdef.type) if fdef is not None else None


def _group(cls: ClassDef, spec: Any) -> Group | None:
    if not isinstance(spec, Mapping) or "_id" not in spec:
        return None
    key = spec["_id"]
    keys: list[tuple[str | None, str]] = []
    if isinstance(key, Mapping):
        if not key:
            return None  # Mongo groups by {} as one group but renders it differently: leave it to Python
        for out, ref in key.items():
            typed = field_type(cls, ref)
            if typed is None or typed[1] not in KEY_TYPES or not isinstance(out, str) or not out \
                    or out.startswith("$") or "." in out:
                return None
            keys.append((out, typed[0]))
    elif key is not None:
        typed = field_type(cls, key)
        if typed is None or typed[1] not in KEY_TYPES:
            return None
        keys.append((None, typed[0]))
    accumulators: list[Accumulator] = []
    for name, acc in spec.items():
        if name == "_id":
            continue
        if not isinstance(acc, Mapping) or len(acc) != 1:
            return None
        ((op, arg),) = acc.items()
        if (op == "$sum" and isinstance(arg, int) and not isinstance(arg, bool) and arg == 1) or \
                (op == "$count" and arg == {}):
            accumulators.append(Accumulator(name, "count", None))
            continue
        typed = field_type(cls, arg)
        allowed = _SUMMABLE if op in ("$sum", "$avg") else _ORDERABLE
        if op not in _OPS or typed is None or typed[1] not in allowed:
            return None
        accumulators.append(Accumulator(name, _OPS[op], typed[0]))
    if 2 * len(keys) + len(accumulators) > MAX_GROUP_TERMS:
        return None
    return Group(tuple(keys), tuple(accumulators))


def _sort(group: Group, spec: Any) -> tuple[tuple[str, bool], ...] | None:
    if not isinstance(spec, Mapping) or not spec:
        return None
    names = group.output_names()
    out: list[tuple[str, bool]] = []
    for key, direction in spec.items():
        if key not in names or isinstance(direction, bool) or direction not in (1, -1):
            return None  # a key the output does not have sorts as all-missing: Python's stable order decides
        out.append((key, direction == -1))
    return tuple(out)


# Stores bind 64-bit integers; a larger $skip/$limit (legal in a pipeline) stays with the Python stages.
_MAX_WINDOW: Final = 2**53 - 1


def _whole(value: Any, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not minimum <= value <= _MAX_WINDOW:
        return None
    return int(value) if float(value).is_integer() else None


def plan_store_stages(cls: ClassDef, where: Where, rest: Sequence[Mapping[str, Any]]) -> StorePlan | None:
    """The plan for the stages after the leading `$match` (already turned into ``where``), or None when the
    store would only filter (the caller's find-based path does that)."""
    group: Group | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    skip, limit, count = 0, None, None
    taken = 0
    # The order a store applies them in; each may appear once, and only in this order.
    steps = iter(("$group", "$sort", "$skip", "$limit", "$count"))
    for stage in rest:
        ((name, spec),) = stage.items()
        if name not in ("$group", "$sort", "$skip", "$limit", "$count"):
            break
        for step in steps:
            if step == name:
                break
        else:
            break
        if name == "$group":
            if taken:
                break
            group = _group(cls, spec)
            if group is None:
                break
        elif name == "$count":
            if not isinstance(spec, str) or not spec or spec.startswith("$") or "." in spec:
                break
            count = spec
        elif group is None:
            break  # sorting or paging raw rows: the find-based path does it with the store's own order
        elif name == "$sort":
            parsed = _sort(group, spec)
            if parsed is None:
                break
            sort = parsed
        elif name == "$skip":
            n = _whole(spec, 0)
            if n is None:
                break
            skip = n
        else:
            n = _whole(spec, 1)
            if n is None:
                break
            limit = n
        taken += 1
        if name == "$count":
            break
    if group is None and count is None:
        return None
    ordered = taken < len(rest) or bool(sort) or bool(skip) or limit is not None
    return StorePlan(where, group, sort, skip, limit, count, taken, ordered)


# Raw rows sort alike in the store's find() and in the Python $sort for these (a pointer is "Class$id" text in a
# pipeline document but a Pointer to find, so it is left out).
_ROW_SORTABLE: Final = frozenset({FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE})
_BUILTIN_SORTS: Final = frozenset({"objectId", "createdAt", "updatedAt"})


def rows_window(cls: ClassDef, rest: Sequence[Mapping[str, Any]]) -> tuple[FindOptions, int] | None:
    """A `$sort`? `$skip`? `$limit` right after the leading `$match`, as the find options that fetch only those rows
    (the store's ORDER BY/LIMIT), with the number of stages they cover; None without a `$limit` to bound it."""
    order: tuple[SortKey, ...] = ()
    skip, taken = 0, 0
    stages = list(rest)
    if stages and "$sort" in stages[0]:
        spec = stages[0]["$sort"]
        if not isinstance(spec, Mapping) or not spec:
            return None
        keys: list[SortKey] = []
        for key, direction in spec.items():
            fdef = cls.fields.get(key) if isinstance(key, str) and not key.startswith("_") else None
            if isinstance(direction, bool) or direction not in (1, -1) or not (
                    key in _BUILTIN_SORTS or (fdef is not None and fdef.type in _ROW_SORTABLE)):
                return None
            keys.append(SortKey((key,), direction == -1))
        order, taken = tuple(keys), 1
    if len(stages) > taken and "$skip" in stages[taken]:
        n = _whole(stages[taken]["$skip"], 0)
        if n is None:
            return None
        skip, taken = n, taken + 1
    if len(stages) > taken and "$limit" in stages[taken]:
        limit = _whole(stages[taken]["$limit"], 1)
        if limit is not None:
            return FindOptions(limit=limit, skip=skip, order=order), taken + 1
    return None
