"""Where trees and sort orders compiled to PostgreSQL over Parse's typed columns, with an exact fallback.

What has a faithful SQL spelling on a typed column (equality, ranges, $in/$nin, $exists, array membership,
the ACL's ``_rperm``/``_wperm`` tests) is compiled; any other node (regex, text, geo, dotted paths into
objects) becomes the *residual*: the adapter fetches the rows the SQL part admits and finishes with
engine.query.match, so every operator answers exactly as the memory adapter does, and limit/count stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.query.match import near_node
from engine.query.options import SortKey
from engine.query.where import MATCH_ALL, And, Compare, Exists, In, MatchAll, MatchNone, Nor, Or, Where
from engine.storage.postgres_codec import quote_ident
from engine.storage.sqlite_codec import dumps
from engine.wire import Pointer, Value

_SYMBOLS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# Column types holding one scalar, and the Python values that compare with it.
_SCALARS: Mapping[str, tuple[type, ...]] = {
    "text": (str,), "varchar": (str,), "float8": (int, float), "bool": (bool,), "timestamptz": (datetime,),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """``sql``: the WHERE clause (parameters in ``params``, $1...); ``residual``: what match.py must still test."""

    sql: str
    params: tuple[Any, ...]
    residual: Where


class Compiler:
    def __init__(self, columns: Mapping[str, str], pointer_targets: Mapping[str, str]) -> None:
        self.columns = columns  # column name -> udt name
        self.targets = pointer_targets  # pointer column -> the class the schema says it points to
        self.params: list[Any] = []

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"

    # ---- the tree ----

    def plan(self, where: Where) -> Plan:
        parts: list[str] = []
        residual: list[Where] = []
        items = where.items if isinstance(where, And) else (where,)
        for item in items:
            sql = self.node(item)
            if sql is None:
                residual.append(item)
            elif sql != "TRUE":
                parts.append(sql)
        rest: Where = MATCH_ALL if not residual else residual[0] if len(residual) == 1 else And(tuple(residual))
        return Plan(" AND ".join(f"({p})" for p in parts) or "TRUE", tuple(self.params), rest)

    def node(self, where: Where) -> str | None:
        """Exact SQL for the node, or None when only match.py can answer it."""
        mark = len(self.params)
        sql = self._node(where)
        if sql is None:
            del self.params[mark:]
        return sql

    def _node(self, where: Where) -> str | None:
        match where:
            case MatchAll():
                return "TRUE"
            case MatchNone():
                return "FALSE"
            case And(items) | Or(items) | Nor(items):
                parts = [self.node(w) for w in items]
                if any(p is None for p in parts):
                    return None
                joiner = " AND " if isinstance(where, And) else " OR "
                body = joiner.join(f"({p})" for p in parts) or ("TRUE" if isinstance(where, And) else "FALSE")
                return f"NOT coalesce(({body}), FALSE)" if isinstance(where, Nor) else body
            case Compare(path, op, value) if len(path) == 1:
                return self.compare(path[0], op, value)
            case In(path, values, negate) if len(path) == 1:
                found = self.one_of(path[0], values)
                if found is None:
                    return None
                return f"NOT coalesce(({found}), FALSE)" if negate else found
            case Exists(path, exists) if len(path) == 1:
                column = self.column(path[0])
                if column is None:
                    return "FALSE" if exists else "TRUE"
                udt, ref = column
                present = f"{ref} IS NOT NULL"
                return present if exists else f"{ref} IS NULL"
        return None

    def column(self, name: str) -> tuple[str, str] | None:
        udt = self.columns.get(name)
        return None if udt is None else (udt, quote_ident(name))

    # ---- operators ----

    def _scalar_fits(self, udt: str, name: str, value: Value) -> bool:
        kinds = _SCALARS.get(udt)
        if kinds is None:
            return False
        if isinstance(value, bool) and udt != "bool":
            return False
        if isinstance(value, Pointer):
            return name in self.targets
        return isinstance(value, kinds)

    def _bind(self, udt: str, name: str, value: Value) -> str | None:
        """The parameter for a scalar value compared with the column, or None: the two can never be equal."""
        if isinstance(value, Pointer):
            if self.targets.get(name) != value.class_name:
                return None
            return self.param(value.object_id, "text")
        if udt in ("text", "varchar"):
            return self.param(value, "text") + ' COLLATE "C"'
        cast = {"float8": "float8", "bool": "boolean", "timestamptz": "timestamptz"}[udt]
        return self.param(float(value) if udt == "float8" else value, cast)

    def compare(self, name: str, op: str, value: Value) -> str | None:
        column = self.column(name)
        if column is None:
            # No such column: every object lacks the key.
            if op == "eq":
                return "TRUE" if value is None else "FALSE"
            if op == "ne":
                return "FALSE" if value is None else "TRUE"
            return "TRUE" if value is None and op in ("lte", "gte") else "FALSE"
        udt, ref = column
        if udt in ("jsonb", "_text"):
            return self._array_compare(udt, ref, op, value)
        if udt not in _SCALARS:
            return None  # geo columns: match.py
        if value is None:
            if op in ("eq", "lte", "gte"):
                return f"{ref} IS NULL"
            return f"{ref} IS NOT NULL" if op == "ne" else "FALSE"
        if not self._scalar_fits(udt, name, value):
            if isinstance(value, list | tuple | Mapping):
                return None
            # A value of another type: never equal, never ordered against this column.
            return "TRUE" if op == "ne" else "FALSE"
        bound = self._bind(udt, name, value)
        if bound is None:
            return "TRUE" if op == "ne" else "FALSE"
        if op == "eq":
            return f"{ref} = {bound}"
        if op == "ne":
            return f"{ref} IS DISTINCT FROM {bound}"
        if isinstance(value, Pointer):
            return None
        return f"{ref} {_SYMBOLS[op]} {bound}"

    def _array_compare(self, udt: str, ref: str, op: str, value: Value) -> str | None:
        if op not in ("eq", "ne") or not isinstance(value, str | int | float) or isinstance(value, bool):
            return None
        if udt == "_text":
            if not isinstance(value, str):
                return "TRUE" if op == "ne" else "FALSE"
            found = f"{self.param(value, 'text')} = ANY({ref})"
        else:
            # An array holding the value, or the value itself (a key the schema does not type).
            element = self.param(dumps([value]), "jsonb")
            own = self.param(dumps(value), "jsonb")
            found = f"(jsonb_typeof({ref}) = 'array' AND {ref} @> {element}) OR {ref} = {own}"
        return found if op == "eq" else f"NOT coalesce(({found}), FALSE)"

    def one_of(self, name: str, values: Sequence[Value]) -> str | None:
        if not values:
            return "FALSE"
        column = self.column(name)
        if column is None:
            return "TRUE" if any(v is None for v in values) else "FALSE"
        udt, ref = column
        with_null = any(v is None for v in values)
        kept = [v for v in values if v is not None]
        if udt == "_text":
            if not all(isinstance(v, str) for v in kept):
                return None
            found = f"{ref} && {self.param(list(dict.fromkeys(kept)), 'text[]')}" if kept else "FALSE"
            return f"({ref} IS NULL OR {found})" if with_null else found
        if udt == "jsonb":
            if with_null or not kept or not all(isinstance(v, str) for v in kept):
                return None
            strings = self.param(list(dict.fromkeys(kept)), "text[]")
            return (f"(jsonb_typeof({ref}) = 'array' AND {ref} ?| {strings}) OR "
                    f"(jsonb_typeof({ref}) = 'string' AND ({ref} #>> '{{}}') = ANY({strings}))")
        if udt not in _SCALARS:
            return None
        parts = [f"{ref} IS NULL"] if with_null else []
        fitting = [v for v in kept if self._scalar_fits(udt, name, v)]
        if any(isinstance(v, list | tuple | Mapping) for v in kept):
            return None
        for value in fitting:
            bound = self._bind(udt, name, value)
            if bound is not None:
                parts.append(f"{ref} = {bound}")
        return " OR ".join(parts) or "FALSE"

    # ---- order ----

    def order_by(self, order: tuple[SortKey, ...], where: Where) -> str | None:
        """ORDER BY for sort keys on scalar columns (as match.sort_key orders them), or None: sort in Python."""
        if not order and near_node(where) is not None:
            return None
        terms: list[str] = []
        for key in order:
            if len(key.path) != 1:
                return None
            name = key.path[0]
            udt = self.columns.get(name)
            if udt is None:
                continue  # every row lacks it: no effect on the order
            if udt not in _SCALARS:
                return None
            ref = quote_ident(name) + (' COLLATE "C"' if udt in ("text", "varchar") else "")
            # Missing (NULL) sorts before every value, as match.sort_key ranks it.
            terms.append(f"{ref} DESC NULLS LAST" if key.descending else f"{ref} ASC NULLS FIRST")
        terms += ['"createdAt"', '"objectId"']
        return ", ".join(terms)
