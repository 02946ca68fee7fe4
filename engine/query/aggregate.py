"""Run a Parse aggregate pipeline over documents in memory, with the semantics Parse on MongoDB exposes.

Documents use REST names (``objectId``, ``createdAt``, ``updatedAt``); a pointer field holds ``"Class$id"`` under
its own name and under ``_p_<field>``. The Mongo spellings ``_id``, ``_created_at`` and ``_updated_at`` resolve too.
``run_pipeline`` returns Mongo-shaped documents (``$group`` keys under ``_id``); ``to_parse_results`` renders them
as Parse Server answers them. Every refusal is ``ParseError(INVALID_QUERY)``, raised before any document is read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from engine.query.aggregate_expr import (
    MISSING,
    Doc,
    Expr,
    compile_expr,
    field_path,
    fit,
    get_path,
    group_key,
    is_number,
    null,
    order_key,
    refuse,
    set_path,
    unset_path,
)
from engine.query.aggregate_match import compile_filter
from engine.query.aggregate_pipeline import check_group_keys, normalize_pipeline
from engine.query.aggregate_render import to_parse_results

__all__ = ["MAX_ITEMS", "normalize_pipeline", "run_pipeline", "split_leading_match", "to_parse_results"]

# One stage may produce at most this many unwound documents or $push/$addToSet items: a pipeline is a report,
# and a cross product of arrays must cost one refused request rather than the worker's memory.
MAX_ITEMS: Final = 100_000

Stage = Callable[[list[Doc], int], list[Doc]]

# Stages that would reach other classes or write: they bypass the ACLs and CLPs the caller already applied.
_REFUSED: Final = {
    "$lookup": "it reads another class", "$graphLookup": "it reads another class",
    "$unionWith": "it reads another class", "$out": "it writes", "$merge": "it writes",
}


def split_leading_match(pipeline: object) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the first stage's $match, the remaining stages); the whole pipeline is validated first, so the caller
    can refuse a bad request before it touches storage."""
    stages = normalize_pipeline(pipeline)
    for stage in stages:
        _compile(stage)
    if stages and "$match" in stages[0]:
        return dict(stages[0]["$match"]), stages[1:]
    return None, stages


def _order_of(doc: Mapping[str, Any], path: tuple[str, ...]) -> tuple[Any, ...]:
    return order_key(get_path(doc, path))


def run_pipeline(rows: list[dict[str, Any]], pipeline: object, *, max_items: int = MAX_ITEMS) -> list[dict[str, Any]]:
    """Apply every stage in order. ``rows`` are not mutated; output documents may share nested values with them."""
    compiled = [_compile(stage) for stage in normalize_pipeline(pipeline)]
    docs: list[Doc] = list(rows)
    for stage in compiled:
        docs = stage(docs, max_items)
    return [d if isinstance(d, dict) else dict(d) for d in docs]


# ---- stages ----

def _compile(stage: Mapping[str, Any]) -> Stage:
    ((name, spec),) = stage.items()
    if name in _REFUSED:
        raise refuse(f"Aggregation stage '{name}' is not allowed: {_REFUSED[name]}.")
    builder = _STAGES.get(name)
    if builder is None:
        raise refuse(f"Unsupported aggregation stage '{name}'.")
    return builder(spec)


def _match(spec: Any) -> Stage:
    pred = compile_filter(spec)
    return lambda docs, _cap: [d for d in docs if pred(d)]


def _finish(op: str, values: list[Any]) -> Any:
    if op in ("$sum", "$avg"):
        numbers = [v for v in values if is_number(v)]  # Mongo ignores non-numeric values
        if op == "$sum":
            return fit(sum(numbers))
        try:
            return sum(numbers) / len(numbers) if numbers else None
        except OverflowError:
            return fit(sum(numbers)) / len(numbers)
    if op in ("$min", "$max"):
        present = [v for v in values if v is not MISSING and v is not None]
        if not present:
            return None
        return (min if op == "$min" else max)(present, key=order_key)
    if op == "$first":
        return null(values[0])
    if op == "$last":
        return null(values[-1])
    if op == "$count":
        return len(values)
    present = [v for v in values if v is not MISSING]  # $push and $addToSet skip missing values
    if op == "$push":
        return present
    unique: dict[object, Any] = {}
    for v in present:
        unique.setdefault(group_key(v), v)
    return list(unique.values())


def _one(_doc: Doc) -> int:
    return 1


_ACCUMULATORS: Final = frozenset({"$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"})


def _group(spec: Any) -> Stage:
    if not isinstance(spec, Mapping):
        raise refuse("a group's fields must be specified in an object")
    check_group_keys(spec)
    key_expr = compile_expr(spec["_id"])
    accumulators: list[tuple[str, str, Expr]] = []
    for name, acc in spec.items():
        if name == "_id":
            continue
        if not isinstance(name, str) or not name or "." in name or name.startswith("$"):
            raise refuse(f"invalid $group field name '{name}'")
        if not isinstance(acc, Mapping) or len(acc) != 1:
            raise refuse(f"The field '{name}' must be an accumulator object")
        ((op, arg),) = acc.items()
        if op not in _ACCUMULATORS:
            raise refuse(f"Unsupported $group accumulator '{op}' for field '{name}'")
        if op == "$count":
            if arg != {}:
                raise refuse("$count accumulator takes an empty object")
            expr: Expr = _one
        elif isinstance(arg, list):
            raise refuse(f"The {op} accumulator is a unary operator")
        else:
            expr = compile_expr(arg)
        accumulators.append((name, op, expr))
    collecting = [i for i, (_, op, _) in enumerate(accumulators) if op in ("$push", "$addToSet")]

    def run(docs: list[Doc], cap: int) -> list[Doc]:
        groups: dict[object, tuple[Any, list[list[Any]]]] = {}
        collected = 0
        for doc in docs:
            key = null(key_expr(doc))
            hashed = group_key(key)
            if hashed not in groups:
                groups[hashed] = (key, [[] for _ in accumulators])
            values = groups[hashed][1]
            for i, (_, _, expr) in enumerate(accumulators):
                values[i].append(expr(doc))
            collected += len(collecting)
            if collected > cap:
                raise refuse(f"$group $push/$addToSet would collect more than {cap} items")
        out: list[Doc] = []
        for key, values in groups.values():
            result: dict[str, Any] = {"_id": key}
            for (name, op, _), vals in zip(accumulators, values, strict=True):
                result[name] = _finish(op, vals)
            out.append(result)
        return out
    return run


def _projection_entries(spec: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    entries: list[tuple[tuple[str, ...], Any]] = []
    for key, value in spec.items():
        path = prefix + field_path(str(key), "$project field")
        if isinstance(value, Mapping) and "__type" not in value and not any(str(k).startswith("$") for k in value):
            if not value:
                raise refuse(f"An empty sub-projection is not a valid value for '{'.'.join(path)}'")
            entries.extend(_projection_entries(value, path))  # {a: {b: 1}} is {"a.b": 1}
        else:
            entries.append((path, value))
    return entries


def _insert(tree: dict[str, Any], path: tuple[str, ...], node: Any) -> None:
    for part in path[:-1]:
        child = tree.setdefault(part, {})
        if not isinstance(child, dict):
            raise refuse(f"Invalid $project :: Path collision at {'.'.join(path)}")
        tree = child
    if path[-1] in tree:
        raise refuse(f"Invalid $project :: Path collision at {'.'.join(path)}")
    tree[path[-1]] = node


def _has_computed(tree: dict[str, Any]) -> bool:
    return any(callable(n) or (isinstance(n, dict) and _has_computed(n)) for n in tree.values())


def _include(value: Any, tree: dict[str, Any], root: Doc) -> Any:
    if isinstance(value, list):
        return [_include(item, tree, root) for item in value if isinstance(item, Mapping | list)]
    if not isinstance(value, Mapping):
        if not _has_computed(tree):
            return MISSING
        value = {}
    out: dict[str, Any] = {}
    for key, node in tree.items():
        if node is True:
            found = value.get(key, MISSING)
        elif callable(node):
            found = node(root)
        else:
            found = _include(value.get(key, MISSING), node, root)
        if found is not MISSING:
            out[key] = found
    return out


def _exclude(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_exclude(item, tree) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        node = tree.get(key)
        if node is None:
            out[key] = item
        elif node is not True:
            out[key] = _exclude(item, node)
    return out


_IDENTITY: Final = ("_id", "objectId")


def _companions(key: str) -> tuple[str, ...]:
    """Top-level keys that travel with ``key``: a pointer's two spellings, the Mongo date names' REST twins."""
    if key.startswith("_p_"):
        return (key[3:],)
    twin = {"_created_at": "createdAt", "_updated_at": "updatedAt"}.get(key)
    return (twin,) if twin else (f"_p_{key}",)


def _project(spec: Any) -> Stage:
    if not isinstance(spec, Mapping) or not spec:
        raise refuse("$project specification must be an object with at least one field")
    tree: dict[str, Any] = {}
    excluded: list[str] = []
    keep_id, id_expr, mode = True, None, None
    for path, value in _projection_entries(spec):
        flag = isinstance(value, bool) or is_number(value)
        if path in (("_id",), ("objectId",)):
            if flag:
                keep_id = bool(value)
            else:
                id_expr = compile_expr(value)
            continue
        kind = ("include" if value else "exclude") if flag else "include"
        if mode is not None and kind != mode:
            field = ".".join(path)
            noun = {"include": "inclusion", "exclude": "exclusion"}
            raise refuse(f"Invalid $project :: Cannot do {noun[kind]} on field {field} in {noun[mode]} projection")
        mode = kind
        if kind == "exclude":
            excluded.append(path[0])
        _insert(tree, path, True if flag else compile_expr(value))
    if mode == "exclude" or (mode is None and id_expr is None and not keep_id):
        if id_expr is not None:
            raise refuse("Invalid $project :: Cannot do computed _id in exclusion projection")
        for key in excluded:
            for twin in _companions(key):
                tree.setdefault(twin, True)
        if not keep_id:
            tree.update(dict.fromkeys(_IDENTITY, True))
        return lambda docs, _cap: [_exclude(d, tree) for d in docs]
    for key in [k for k, n in tree.items() if n is True]:
        for twin in _companions(key):
            tree.setdefault(twin, True)

    def run_one(doc: Doc) -> Doc:
        out: dict[str, Any] = {}
        if id_expr is not None:
            value = id_expr(doc)
            if value is not MISSING:
                out["_id"] = value
        elif keep_id:
            out.update((k, doc[k]) for k in _IDENTITY if k in doc)
        out.update(_include(doc, tree, doc))
        return out
    return lambda docs, _cap: [run_one(d) for d in docs]


def _add_fields(spec: Any) -> Stage:
    if not isinstance(spec, Mapping) or not spec:
        raise refuse("$addFields specification must be an object with at least one field")
    fields = [(field_path(str(k), "$addFields field"), compile_expr(v)) for k, v in spec.items()]

    def run_one(doc: Doc) -> Doc:
        out = doc
        for path, expr in fields:
            value = expr(doc)
            out = unset_path(out, path) if value is MISSING else set_path(out, path, value)
        return out
    return lambda docs, _cap: [run_one(d) for d in docs]


def _sort(spec: Any) -> Stage:
    if not isinstance(spec, Mapping) or not spec:
        raise refuse("$sort stage must have at least one sort key")
    keys: list[tuple[tuple[str, ...], bool]] = []
    for key, direction in spec.items():
        if isinstance(direction, bool) or direction not in (1, -1):
            raise refuse(f"$sort key ordering must be 1 (for ascending) or -1 (for descending), not {direction!r}")
        keys.append((field_path(str(key), "$sort field"), direction == -1))

    def run(docs: list[Doc], _cap: int) -> list[Doc]:
        out = list(docs)
        # Least significant key first: each stable pass keeps the order the earlier keys decided.
        for path, descending in reversed(keys):
            out.sort(key=functools.partial(_order_of, path=path), reverse=descending)
        return out
    return run


def _count_arg(value: Any, stage: str, minimum: int) -> int:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or value < minimum:
        bound = "positive" if minimum else "non-negative"
        raise refuse(f"{stage} must be a {bound} integer, not {value!r}")
    return int(value)


def _limit(spec: Any) -> Stage:
    n = _count_arg(spec, "$limit", 1)
    return lambda docs, _cap: docs[:n]


def _skip(spec: Any) -> Stage:
    n = _count_arg(spec, "$skip", 0)
    return lambda docs, _cap: docs[n:]


def _count(spec: Any) -> Stage:
    if not isinstance(spec, str) or not spec or spec.startswith("$") or "." in spec:
        raise refuse("$count needs a non-empty field name without '$' or '.'")
    # As in Mongo, counting nothing yields no document at all.
    return lambda docs, _cap: [{spec: len(docs)}] if docs else []


def _unwind(spec: Any) -> Stage:
    options = {"path": spec} if isinstance(spec, str) else spec
    if not isinstance(options, Mapping):
        raise refuse("$unwind expects a field path or an object with a path")
    unknown = set(options) - {"path", "includeArrayIndex", "preserveNullAndEmptyArrays"}
    if unknown:
        raise refuse(f"unrecognized option to $unwind: {', '.join(sorted(map(str, unknown)))}")
    path = options.get("path")
    if not isinstance(path, str) or not path.startswith("$") or path.startswith("$$"):
        raise refuse("$unwind path must be a field path starting with '$'")
    parts = field_path(path, "$unwind path", reference=True)
    index = options.get("includeArrayIndex")
    if index is not None and (not isinstance(index, str) or not index or index.startswith("$")):
        raise refuse("$unwind includeArrayIndex must be a field name not starting with '$'")
    index_parts = field_path(index, "$unwind includeArrayIndex") if index else None
    preserve = options.get("preserveNullAndEmptyArrays", False)
    if not isinstance(preserve, bool):
        raise refuse("$unwind preserveNullAndEmptyArrays must be a boolean")

    def indexed(doc: Doc, i: int | None) -> Doc:
        return set_path(doc, index_parts, i) if index_parts else doc

    def run(docs: list[Doc], cap: int) -> list[Doc]:
        out: list[Doc] = []
        produced = 0
        for doc in docs:
            value = _plain_get(doc, parts)
            if isinstance(value, list) and value:
                produced += len(value)
                if produced > cap:
                    raise refuse(f"$unwind would produce more than {cap} documents")
                out.extend(indexed(set_path(doc, parts, item), i) for i, item in enumerate(value))
            elif isinstance(value, list):
                if preserve:
                    out.append(indexed(unset_path(doc, parts), None))  # Mongo drops the emptied field
            elif value is MISSING or value is None:
                if preserve:
                    out.append(indexed(doc, None))
            else:
                out.append(indexed(doc, None))  # a scalar unwinds to itself
        return out
    return run


def _plain_get(doc: Doc, parts: tuple[str, ...]) -> Any:
    """Unwind follows embedded documents only: a path through an array is not an array to unwind."""
    value: Any = doc
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


_STAGES: Final[dict[str, Callable[[Any], Stage]]] = {
    "$match": _match, "$group": _group, "$project": _project, "$addFields": _add_fields, "$set": _add_fields,
    "$sort": _sort, "$limit": _limit, "$skip": _skip, "$count": _count, "$unwind": _unwind,
}
