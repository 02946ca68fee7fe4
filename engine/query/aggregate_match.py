"""Compile a MongoDB $match filter into a predicate over aggregation documents, as Parse on MongoDB evaluates it."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from engine.errors import ParseError
from engine.query.aggregate_expr import (
    MAX_DEPTH,
    MISSING,
    Doc,
    Predicate,
    compile_expr,
    field_path,
    order_key,
    parse_operand,
    refuse,
    top,
    truthy,
    utc,
)
from engine.query.match import values_equal
from engine.wire import parse_date


@functools.lru_cache(maxsize=1024)
def _as_date(text: str) -> datetime | None:
    try:
        return parse_date(text)
    except ParseError:
        return None


def _same(cand: Any, value: Any, pointer: bool) -> bool:
    if values_equal(cand, value):
        return True
    if isinstance(cand, datetime) and isinstance(value, str):
        # Parse turns strings into Dates for Date columns before Mongo sees the filter.
        parsed = _as_date(value)
        return parsed is not None and parsed == utc(cand)
    # Parse matches a pointer column against a bare objectId (it prefixes the target class itself).
    return pointer and isinstance(cand, str) and isinstance(value, str) and "$" not in value \
        and cand.partition("$")[2] == value


def _eq(cands: list[Any], value: Any, pointer: bool) -> bool:
    for cand in cands:
        if cand is MISSING:
            if value is None:
                return True  # {field: null} matches documents without the field
        elif _same(cand, value, pointer) or (isinstance(cand, list) and any(_same(i, value, pointer) for i in cand)):
            return True
    return False


_ORDERING: Final = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def _ordered(cands: list[Any], op: str, value: Any) -> bool:
    if value is None:
        # Mongo: {$gte: null} and {$lte: null} mean {$eq: null}; $gt/$lt null match nothing.
        return op in ("$gte", "$lte") and _eq(cands, None, False)
    for cand in cands:
        if cand is MISSING:
            continue
        for item in ([cand, *cand] if isinstance(cand, list) else [cand]):
            operand = value
            if isinstance(item, datetime) and isinstance(value, str):
                operand = _as_date(value) or value
            ka, kb = order_key(item), order_key(operand)
            if ka[0] == kb[0] and _ORDERING[op](ka, kb):  # comparisons stay within one BSON type
                return True
    return False


def _walk(value: Any, rest: tuple[str, ...]) -> list[Any]:
    if not rest:
        return [value]
    key = rest[0]
    if isinstance(value, Mapping):
        return _walk(value[key], rest[1:]) if key in value else [MISSING]
    if isinstance(value, list):
        out: list[Any] = []
        if key.isdigit() and int(key) < len(value):
            out.extend(_walk(value[int(key)], rest[1:]))
        for item in value:
            if isinstance(item, Mapping):
                out.extend(_walk(item, rest))
        return out or [MISSING]
    return [MISSING]


def _candidates(doc: Doc, parts: tuple[str, ...]) -> list[Any]:
    root = top(doc, parts[0])
    return [MISSING] if root is MISSING else _walk(root, parts[1:])


def _condition(parts: tuple[str, ...], op: str, raw: Any) -> Callable[[list[Any], bool], bool]:
    if op == "$exists":
        wanted = truthy(raw)
        return lambda cands, _p: any(c is not MISSING for c in cands) == wanted
    if op in ("$in", "$nin"):
        if not isinstance(raw, list):
            raise refuse(f"{op} needs an array")
        values = [parse_operand(v) for v in raw]
        negate = op == "$nin"
        return lambda cands, p: any(_eq(cands, v, p) for v in values) != negate
    value = parse_operand(raw)
    if op == "$eq":
        return lambda cands, p: _eq(cands, value, p)
    if op == "$ne":
        return lambda cands, p: not _eq(cands, value, p)
    if op in _ORDERING:
        return lambda cands, _p: _ordered(cands, op, value)
    if op == "$where":
        raise refuse("$where is not allowed in an aggregate $match")
    raise refuse(f"Unsupported $match operator '{op}' on field '{'.'.join(parts)}'")


def _field_filter(key: str, cond: Any) -> Predicate:
    parts = field_path(key, "$match field")
    pointer_key = f"_p_{key}" if len(parts) == 1 else None
    if isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond):
        if not all(str(k).startswith("$") for k in cond):
            raise refuse(f"$match on '{key}' mixes operators and plain fields")
        tests = [_condition(parts, op, arg) for op, arg in cond.items()]
    else:
        tests = [_condition(parts, "$eq", cond)]

    def run(doc: Doc) -> bool:
        cands = _candidates(doc, parts)
        pointer = pointer_key is not None and pointer_key in doc  # the caller marks pointer columns with _p_
        return all(t(cands, pointer) for t in tests)
    return run


def _all(doc: Doc, subs: list[Predicate]) -> bool:
    return all(s(doc) for s in subs)


def _any(doc: Doc, subs: list[Predicate]) -> bool:
    return any(s(doc) for s in subs)


def _none(doc: Doc, subs: list[Predicate]) -> bool:
    return not any(s(doc) for s in subs)


_LOGICAL: Final[dict[str, Callable[..., bool]]] = {"$and": _all, "$or": _any, "$nor": _none}


def _expr_true(doc: Doc, expr: Callable[[Doc], Any]) -> bool:
    return truthy(expr(doc))


def compile_filter(spec: Any, depth: int = 0) -> Predicate:
    """A $match filter over documents: equality, comparisons, $in/$nin, $exists, $and/$or/$nor, $expr."""
    if not isinstance(spec, Mapping):
        raise refuse("$match expects an object")
    if depth > MAX_DEPTH:
        raise refuse("$match is nested too deeply")
    preds: list[Predicate] = []
    for key, cond in spec.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(cond, list) or not cond:
                raise refuse(f"{key} must be a nonempty array")
            subs = [compile_filter(c, depth + 1) for c in cond]
            preds.append(functools.partial(_LOGICAL[key], subs=subs))
        elif key == "$expr":
            expr = compile_expr(cond, depth + 1)
            preds.append(functools.partial(_expr_true, expr=expr))
        elif key == "$where":
            raise refuse("$where is not allowed in an aggregate $match")
        elif not isinstance(key, str) or key.startswith("$"):
            raise refuse(f"Unsupported $match operator '{key}'")
        else:
            preds.append(_field_filter(key, cond))
    return lambda doc: all(p(doc) for p in preds)
