"""Where trees and sort orders compiled to PostgreSQL over Parse's typed columns, with an exact fallback.

Equality, ranges, $in/$nin, $exists, array membership, the ACL's ``_rperm``/``_wperm`` tests, `$regex`
(postgres_regex), `$text` (postgres_text), geo operators on point/polygon columns (postgres_geo) and dotted
keys into Object columns (postgres_paths) are compiled. A node with no faithful SQL spelling (a regex feature
ARE lacks, geo inside a jsonb array, a numeric path part, ...) becomes the *residual*: the adapter fetches the
rows the SQL part admits and finishes with engine.query.match, so every operator answers exactly as the memory
adapter does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.query.match import near_node
from engine.query.options import SortKey
from engine.query.where import (
    MATCH_ALL,
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    MatchAll,
    MatchNone,
    Near,
    Nor,
    Or,
    Regex,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
)
from engine.storage import postgres_geo, postgres_paths, postgres_text
from engine.storage.postgres_codec import AUTH_DATA, AUTH_PREFIX, quote_ident
from engine.storage.postgres_regex import to_are
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
    def __init__(self, columns: Mapping[str, str], pointer_targets: Mapping[str, str], *,
                 non_strings: frozenset[str] = frozenset(), icu: bool = False) -> None:
        self.columns = columns  # column name -> udt name
        self.targets = pointer_targets  # pointer column -> the class the schema says it points to
        self.non_strings = non_strings  # text columns holding files or pointers: no regex/text ever matches them
        # Whether the "und-x-icu" collation exists: regex classes and case folding must be Unicode's, as Python's.
        self.icu = icu
        self.params: list[Any] = []

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"

    def bind(self, value: object, cast: str) -> str:
        return self.param(value, cast)

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
            case Compare() | In() | Exists():
                return self.nested(where)
            case All(path, values) if len(path) == 1:
                return self.all_of(path[0], values)
            case ContainedBy(path, values) if len(path) == 1:
                return self.contained_by(path[0], values)
            case Regex(path) if len(path) == 1:
                return self.regex(path[0], where)
            case Text(path) if len(path) == 1:
                return self.text(path[0], where)
            case Near() | WithinBox() | WithinPolygon() | WithinSphere() | GeoIntersects() if len(where.path) == 1:
                return self.geo(where)
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
            return _absent(op, value)
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

    # ---- array operators ----

    def all_of(self, name: str, values: Sequence[Value | Regex]) -> str | None:
        """`$all`: the array holds every value (each is the element test `eq` already compiles); `$all: []`
        matches nothing, as in MongoDB. Regex elements (containsAllStartingWith) stay with match.py."""
        if not values:
            return "FALSE"
        column = self.column(name)
        if column is None:
            return "FALSE"
        udt, ref = column
        if udt not in ("jsonb", "_text") or not all(postgres_paths.plain(v) for v in values):
            return None
        parts = [self._array_compare(udt, ref, "eq", v) for v in dict.fromkeys(values)]
        if any(p is None for p in parts):
            return None
        return " AND ".join(f"({p})" for p in parts)

    def contained_by(self, name: str, values: Sequence[Value]) -> str | None:
        """`$containedBy`: every element is one of the values; an absent key (SQL NULL) and `[]` qualify, as in
        match.py. jsonb's `<@` also takes a lone scalar as a one-element array, as match.py does."""
        if not all(postgres_paths.plain(v) for v in values):
            return None
        column = self.column(name)
        if column is None:
            return "TRUE"
        udt, ref = column
        if udt == "_text":
            strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
            return f"({ref} IS NULL OR {ref} <@ {self.param(strings, 'text[]')})"
        if udt != "jsonb":
            return None
        return f"({ref} IS NULL OR {ref} <@ {self.param(dumps(list(dict.fromkeys(values))), 'jsonb')})"

    # ---- dotted keys ----

    def nested(self, where: Compare | In | Exists) -> str | None:
        """A dotted key: into an Object (jsonb) column with jsonpath; inside any other column it is absent."""
        name, rest = where.path[0], where.path[1:]
        column = self.column(name)
        if column is None and name.startswith(AUTH_PREFIX):
            # Every provider's `_auth_data_<provider>` lives inside Parse's one authData column.
            column = self.column(AUTH_DATA)
            rest = (name[len(AUTH_PREFIX):], *rest)
        if column is None or column[0] not in ("jsonb", "_text"):
            # match.py walks into mappings and lists only: a string, number, date, pointer, point... has no keys.
            match where:
                case Compare(_, op, value):
                    return _absent(op, value)
                case In(_, values, negate):
                    has_null = any(v is None for v in values)
                    return "TRUE" if has_null != negate else "FALSE"
                case Exists(_, exists):
                    return "FALSE" if exists else "TRUE"
        if column[0] != "jsonb" or not postgres_paths.walkable(rest):
            return None
        ref = column[1]
        match where:
            case Exists(_, exists):
                found = f"coalesce(jsonb_path_exists({ref}, {self.param(postgres_paths.steps(rest), 'jsonpath')}), " \
                        "FALSE)"
                return found if exists else f"NOT {found}"
            case Compare(_, op, value):
                if not postgres_paths.plain(value):
                    return None  # null (absent branches count), dates, pointers, objects: match.py
                found = self._path_test(ref, rest, "eq" if op == "ne" else op, (value,))
                return f"NOT {found}" if op == "ne" else found
            case In(_, values, negate):
                if not values:
                    return "TRUE" if negate else "FALSE"
                if not all(postgres_paths.plain(v) for v in values):
                    return None
                found = self._path_test(ref, rest, "eq", values)
                return f"NOT {found}" if negate else found
        return None

    def _path_test(self, ref: str, rest: tuple[str, ...], op: str, values: Sequence[Value]) -> str:
        path = self.param(postgres_paths.test(rest, op, len(values)), "jsonpath")
        variables = self.param(postgres_paths.variables(values), "jsonb")
        return f"coalesce(jsonb_path_exists({ref}, {path}, {variables}), FALSE)"

    # ---- strings: regex and text ----

    def strings(self, name: str, test: Callable[[str], str]) -> str:
        """Whether the field holds a string (or an array holding one) for which ``test`` (SQL on text) holds."""
        column = self.column(name)
        if column is None:
            return "FALSE"
        udt, ref = column
        if udt in ("text", "varchar"):
            return "FALSE" if name in self.non_strings else f"coalesce({test(ref)}, FALSE)"
        if udt == "_text":
            return f"EXISTS (SELECT 1 FROM unnest({ref}) AS s(v) WHERE {test('s.v')})"
        if udt == "jsonb":
            element, own = "(e.v #>> '{}')", f"({ref} #>> '{{}}')"
            return (f"CASE jsonb_typeof({ref}) WHEN 'string' THEN coalesce({test(own)}, FALSE) "
                    f"WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({ref}) AS e(v) "
                    f"WHERE jsonb_typeof(e.v) = 'string' AND {test(element)}) ELSE FALSE END")
        return "FALSE"  # numbers, booleans, dates, geo: never a string

    def regex(self, name: str, node: Regex) -> str | None:
        pattern = to_are(node.pattern, node.options) if self.icu else None
        if pattern is None:
            return None
        return self.strings(name, lambda s: f"({s} COLLATE {postgres_text.ICU}) ~ {self.param(pattern, 'text')}")

    def text(self, name: str, node: Text) -> str | None:
        if not self.icu:
            return None

        def test(s: str) -> str:
            # Folded once per string, then every word and phrase is looked up in it.
            inner = postgres_text.folded(s, node, self.bind)
            return f"(SELECT {postgres_text.predicate('f.t', node, self.bind)} FROM (SELECT {inner} AS t) AS f)"

        return self.strings(name, test)

    # ---- geo ----

    def geo(self, node: Near | WithinBox | WithinPolygon | WithinSphere | GeoIntersects) -> str | None:
        column = self.column(node.path[0])
        if column is None:
            return "FALSE"
        udt, ref = column
        if udt == "jsonb":
            return None  # an array of points, or a key the schema does not type: match.py
        match node:
            case Near(_, point, max_distance) if udt == "point":
                if max_distance is None:
                    return f"{ref} IS NOT NULL"
                return postgres_geo.within_distance(ref, point, max_distance, self.bind)
            case WithinSphere(_, center, radius) if udt == "point":
                return postgres_geo.within_distance(ref, center, radius, self.bind)
            case WithinBox(_, southwest, northeast) if udt == "point":
                return postgres_geo.within_box(ref, southwest, northeast, self.bind)
            case WithinPolygon(_, points) if udt == "point":
                return postgres_geo.within_polygon(ref, points, self.bind)
            case GeoIntersects(_, point) if udt == "polygon":
                return postgres_geo.intersects(ref, point, self.bind)
        return "FALSE"  # a column of another type never holds the geo value asked for

    # ---- order ----

    def order_by(self, order: tuple[SortKey, ...], where: Where) -> str | None:
        """ORDER BY for sort keys on scalar columns (as match.sort_key orders them), or None: sort in Python."""
        near = near_node(where)
        if not order and near is not None:
            return self._by_distance(near)
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

    def _by_distance(self, near: Near) -> str | None:
        """$nearSphere without an order: nearest first, ties (and rows without the point) as stored."""
        if len(near.path) != 1:
            return None
        column = self.column(near.path[0])
        if column is None or column[0] != "point":
            return None if column is not None and column[0] == "jsonb" else '"createdAt", "objectId"'
        distance = postgres_geo.distance(column[1], near.point, self.bind)
        return f"{distance} ASC NULLS LAST, \"createdAt\", \"objectId\""


def _absent(op: str, value: Value) -> str:
    """A comparison with a key every object lacks."""
    if op == "eq":
        return "TRUE" if value is None else "FALSE"
    if op == "ne":
        return "FALSE" if value is None else "TRUE"
    return "TRUE" if value is None and op in ("lte", "gte") else "FALSE"
