"""Where trees and sort orders compiled to SQLite SQL over the JSON row layout, answering as match.py does.

A path reaches *candidates* exactly as match._candidates walks it (through plain objects, into arrays of
objects, by numeric index); a missing branch is a candidate with a NULL type. Every operator is then an EXISTS
over those candidates, and over their array elements where match.py flattens arrays one level. Python
functions (engine.storage.sqlite_functions) cover what SQL cannot: regex, text search, geometry, and the
sort key of whole objects and arrays.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.query.match import near_node, search_terms
from engine.query.options import SortKey
from engine.query.where import (
    MAX_PATH_SEGMENTS,
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    InQuery,
    MatchAll,
    MatchNone,
    Near,
    Nor,
    Or,
    Path,
    Regex,
    RelatedTo,
    Select,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
)
from engine.schema.model import ClassDef, FieldType
from engine.storage.sqlite_codec import dumps
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_nodes import (
    ANY,
    DATE_COLUMN,
    MISSING_NODE,
    NO_ARRAY,
    PERMISSION_COLUMNS,
    PERMISSIONS,
    TEXT_COLUMN,
    TIMESTAMP_COLUMNS,
    Cands,
    Node,
    and_,
    declared_type,
    head_node,
    label,
    not_,
    or_,
    quote_ident,
    row_node,
    sql_str,
)
from engine.storage.sqlite_principals import table_name
from engine.wire import Bytes, File, GeoPoint, Pointer, Polygon, RelationRef, Value, format_date

Pred = Callable[[Node], str]

_SYMBOLS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# What one where may compile to: far above what an SDK's queries need (those are a few kB), low enough that
# SQLite prepares the statement in about a second on a slow machine.
MAX_SQL_LENGTH = 500_000
MAX_PARAMS = 10_000


# ---- the compiler ----

def _exact_ms(value: datetime) -> bool:
    return value.microsecond % 1000 == 0


def _bindable(value: int | float) -> int | float:
    # SQLite integers are 64-bit; a larger Python int compares as the float SQLite parsed from the JSON.
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


class Compiler:
    """Compiles for one class (its schema lets single-valued fields use their indexes); binds named params."""

    def __init__(self, cls: ClassDef | None, params: dict[str, Any] | None = None, *,
                 principal_tables: bool = False) -> None:
        self.cls = cls
        self.params: dict[str, Any] = {} if params is None else params
        self._aliases = 0
        # Reads only (sqlite_principals.py): a long ACL principal list is looked up in a temporary table, which
        # the statement needs on its connection first: name -> the principals as JSON.
        self._principal_tables = principal_tables
        self.principal_sets: dict[str, str] = {}

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return ":" + name

    def _alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    # ---- candidates ----

    def candidates(self, path: Path) -> Cands:
        if len(path) > MAX_PATH_SEGMENTS:
            raise ParseError(ErrorCode.INVALID_QUERY, f"a query key has at most {MAX_PATH_SEGMENTS} dotted parts")
        head, rest = path[0], path[1:]
        node = head_node(self.cls, head)
        if not rest:
            return Cands(node=node)
        if node.shape in (TEXT_COLUMN, DATE_COLUMN):
            return Cands(node=MISSING_NODE)  # a scalar has no keys
        object_head = declared_type(self.cls, head) is FieldType.OBJECT and not head.startswith("_")
        if object_head and len(rest) == 1:
            # A declared Object is a plain object (or null, or absent): its key is one JSON path away.
            return Cands(node=node.child(rest[0]))
        # One level per key, each a single SELECT reading the previous level once, by name. SQLite copies a
        # common table expression into every place that names it, so a level naming the previous one twice (or
        # branches unrolled into a UNION ALL) would make the statement 2^depth (3^depth) large.
        ctes: list[str] = []
        source: str | None = None
        no_array = object_head
        for key in rest[:-1]:
            name = self._alias("w")
            ctes.append(f"{name}(t, v) AS MATERIALIZED ({self._step(node, key, source, no_array=no_array)})")
            node, source, no_array = row_node(name, "t", "v"), name, False
        return Cands(union=self._step(node, rest[-1], source, no_array=no_array), ctes=tuple(ctes))

    def _step(self, node: Node, key: str, source: str | None, *, no_array: bool) -> str:
        """One key of match._walk: rows (t, v) of every value ``key`` reaches from ``node`` (read from the rows of
        ``source``, or from the outer row), t NULL for MISSING. Each row of ``node`` yields, by kind: its own child
        (or MISSING) unless it is an array; for an array, the item at a numeric key, and the child (or MISSING) of
        each plain-object element. A MISSING row is no array and has no child, so it stays one MISSING row."""
        child = node.child(key)
        has = and_(node.plain_object(), f"{child.t} IS NOT NULL")
        own_t, own_v = ("NULL", "NULL") if has == "0" else (f"CASE WHEN {has} THEN {child.t} END",
                                                            f"CASE WHEN {has} THEN {child.v} END")
        is_array = "0" if no_array else node.is_("array")
        if is_array == "0":
            return f"SELECT {own_t} AS t, {own_v} AS v" + (f" FROM {source}" if source else "")
        kind, alias = self._alias("k"), self._alias("w")
        element = row_node(alias, "type", "value")
        found = element.child(key)
        if key.isdigit() and key.isascii():
            item = node.item(int(key))
            kinds, item_t, item_v, item_cond = "[0,1,2]", item.t, item.v, f"{item.t} IS NOT NULL"
        else:
            kinds, item_t, item_v, item_cond = "[0,2]", "NULL", "NULL", "0"
        elements = f"CASE WHEN {kind}.value = 2 AND {is_array} THEN {node.root} END"
        sql = (f"SELECT CASE {kind}.value WHEN 0 THEN {own_t} WHEN 1 THEN {item_t} ELSE {found.t} END AS t, "
               f"CASE {kind}.value WHEN 0 THEN {own_v} WHEN 1 THEN {item_v} ELSE {found.v} END AS v FROM ")
        sql += f"{source}, " if source else ""
        sql += f"json_each('{kinds}') AS {kind} LEFT JOIN json_each({elements}, {sql_str(node.jpath)}) AS {alias}"
        where = or_(and_(f"{kind}.value = 0", not_(is_array)),
                    and_(f"{kind}.value = 1", is_array, item_cond),
                    and_(f"{kind}.value = 2", element.plain_object()))
        return f"{sql} WHERE {where}"

    def any_candidate(self, cands: Cands, pred: Pred) -> str:
        return self.every_value_found(cands, [pred])

    def every_value_found(self, cands: Cands, preds: Sequence[Pred]) -> str:
        """Each pred holds for some candidate. The candidates are listed once and scanned once, however many
        preds there are ($all): naming them once per pred would copy their SQL once per pred."""
        if cands.node is not None:
            node = cands.node
            return and_(*(pred(node) for pred in preds))
        alias = self._alias("c")
        row = row_node(alias, "t", "v")
        inners = [pred(row) for pred in preds]
        if "0" in inners:
            return "0"
        rows = f"FROM ({cands.union}) AS {alias}"
        if len(inners) == 1:
            return f"EXISTS ({_with(cands.ctes)}SELECT 1 {rows} WHERE {inners[0]})"
        found = and_(*(f"max(coalesce({inner}, 0))" for inner in inners))
        return f"coalesce(({_with(cands.ctes)}SELECT {found} {rows}), 0)"

    def item_or_self(self, node: Node, pred: Pred) -> str:
        """pred holds for the value or, when it is an array, for one of its elements (match._items)."""
        own = pred(node)
        is_array = node.is_("array")
        if is_array == "0":
            return own
        alias = self._alias("e")
        inner = pred(row_node(alias, "type", "value"))
        if inner == "0":
            return own
        # json_each of a NULL permission column lists nothing: no type test needed there.
        guard = "1" if node.shape == PERMISSIONS else is_array
        return or_(own, and_(guard, f"EXISTS (SELECT 1 FROM {node.elements(alias)} WHERE {inner})"))

    # ---- the tree ----

    def where(self, where: Where) -> str:
        sql = self._node(where)
        # Compiling is linear, but SQLite's planning of one statement is not (long OR lists, a named-parameter
        # lookup per parameter), and it caps json_each references at 65535: a larger where is refused up front.
        if len(sql) > MAX_SQL_LENGTH or len(self.params) > MAX_PARAMS:
            raise ParseError(ErrorCode.INVALID_QUERY, "query is too complex")
        if sql.count("(") > _SHALLOW:
            _check_parses(sql)
        return sql

    def _node(self, where: Where) -> str:
        match where:
            case MatchAll():
                return "1"
            case MatchNone():
                return "0"
            case And(items):
                return and_(*(self._node(w) for w in _flat(And, items)))
            case Or(items):
                return or_(*(self._node(w) for w in _flat(Or, items)))
            case Nor(items):
                return not_(or_(*(self._node(w) for w in items)))
            case Compare(path, op, value):
                cands = self.candidates(path)
                if op == "eq":
                    return self.equals(cands, value)
                if op == "ne":
                    return not_(self.equals(cands, value))
                if value is None:
                    # Mongo: {$lte: null} and {$gte: null} behave like {$eq: null}; $lt/$gt null match nothing.
                    return self.equals(cands, None) if op in ("lte", "gte") else "0"
                return self.any_candidate(cands, lambda n: self.item_or_self(n, lambda x: self.ordered(x, op, value)))
            case In(path, values, negate):
                found = self.equals_any(self.candidates(path), values)
                return not_(found) if negate else found
            case Exists(path, exists):
                cands = self.candidates(path)
                if cands.node is not None and not exists:
                    return cands.node.missing()
                found = self.any_candidate(cands, lambda n: n.present())
                return found if exists else not_(found)
            case All(path, values):
                if not values:
                    return "0"  # Mongo's {$all: []} matches nothing
                return self.every_value_found(self.candidates(path), [self._regex_pred(v) if isinstance(v, Regex)
                                                                      else self._equals_pred(v) for v in values])
            case ContainedBy(path, values):
                return self.contained_by(self.candidates(path), values)
            case Regex(path):
                return self.regex(self.candidates(path), where)
            case Text(path):
                return self.text(self.candidates(path), where)
            case Near(path, point, max_distance):
                return self.geo_points(path, lambda lat, lng: "1" if max_distance is None else
                                       f"{self._distance(lat, lng, point)} <= {self.param(max_distance)}")
            case WithinBox(path, sw, ne):
                return self.geo_points(path, lambda lat, lng: and_(
                    f"{lat} >= {self.param(sw.latitude)}", f"{lat} <= {self.param(ne.latitude)}",
                    f"{lng} >= {self.param(sw.longitude)}", f"{lng} <= {self.param(ne.longitude)}"))
            case WithinPolygon(path, points):
                vertices = self.param(dumps([[p.latitude, p.longitude] for p in points]))
                return self.geo_points(path, lambda lat, lng: f"parse_in_polygon({lat}, {lng}, {vertices})")
            case WithinSphere(path, center, radius):
                return self.geo_points(
                    path, lambda lat, lng: f"{self._distance(lat, lng, center)} <= {self.param(radius)}")
            case GeoIntersects(path, point):
                return self.any_candidate(self.candidates(path), lambda n: self.item_or_self(n, lambda x: and_(
                    x.typed("Polygon"),
                    f"parse_polygon_contains({x.get(label('coordinates'))}, "
                    f"{self.param(point.latitude)}, {self.param(point.longitude)})")))
            case RelatedTo() | InQuery() | Select():
                raise ParseError(ErrorCode.INVALID_QUERY, "subqueries must be resolved before matching")
        raise ParseError(ErrorCode.INVALID_QUERY, f"unsupported query node: {type(where).__name__}")

    # ---- equality ----

    def equals(self, cands: Cands, value: Value) -> str:
        """match._eq: a candidate equals the value, or is an array holding it; a missing one equals null."""
        return self.any_candidate(cands, self._equals_pred(value))

    def _equals_pred(self, value: Value) -> Pred:
        if value is None:
            return lambda n: or_(n.missing(), self.item_or_self(n, lambda x: x.is_("null")))
        return lambda n: self.item_or_self(n, lambda x: self.value_equals(x, value))

    def equals_any(self, cands: Cands, values: Sequence[Value]) -> str:
        """$in: equals one of the values; strings and numbers are tested as one SQL IN list each."""
        if not values:
            return "0"
        kinds = _kinds_of(values)
        principals = cands.node is not None and cands.node.shape == PERMISSIONS
        pred = self._one_of_kinds(kinds, principals=principals)
        if kinds.has_none:
            return self.any_candidate(cands, lambda n: or_(n.missing(), self.item_or_self(n, pred)))
        return self.any_candidate(cands, lambda n: self.item_or_self(n, pred))

    def _one_of(self, values: Sequence[Value]) -> Pred:
        """match._eq against a list. Values a row compares by one SQL value (strings, numbers, dates, files,
        pointers) are each tested as one IN over a bound JSON list: an OR per value would make SQLite's planning
        time grow with the square of the list."""
        return self._one_of_kinds(_kinds_of(values))

    def _one_of_kinds(self, kinds: _Kinds, *, principals: bool = False) -> Pred:
        strings, numbers, dates, files, pointers, others = (kinds.strings, kinds.numbers, kinds.dates, kinds.files,
                                                            kinds.pointers, kinds.others)

        def pred(x: Node) -> str:
            parts = []
            if strings and x.is_("text") != "0":
                if principals and self._principal_tables and kinds.strings_json is not None:
                    name = table_name(kinds.strings_json)
                    self.principal_sets[name] = kinds.strings_json
                    listed = f'(SELECT name FROM temp."{name}")'
                else:
                    listed = self._listed(strings, kinds.strings_json)
                parts.append(and_(f"{x.v} IN {listed}", x.is_("text")))
            if numbers and x.shape in (ANY, NO_ARRAY):
                parts.append(and_(f"{x.v} IN {self._listed(numbers)}", f"{x.t} IN ('integer','real')"))
            if dates and x.typed("Date") != "0":
                text = x.v if x.shape == DATE_COLUMN else x.get(label("iso"))
                parts.append(and_(x.typed("Date"), f"{text} IN {self._listed(dates)}"))
            if files and x.typed("File") != "0":
                parts.append(and_(x.typed("File"), f"{x.get(label('name'))} IN {self._listed(files)}"))
            if pointers and x.typed("Pointer") != "0":
                parts.append(self._pointer_in(x, pointers))
            parts.extend(self.value_equals(x, v) for v in others)
            return or_(*parts)

        return pred

    def _pointer_in(self, x: Node, pointers: Sequence[tuple[str, str]]) -> str:
        cls_expr, oid_expr = x.get(label("className")), x.get(label("objectId"))
        if len(pointers) == 1:
            (class_name, object_id), = pointers
            return and_(x.typed("Pointer"), f"{cls_expr} = {self.param(class_name)}",
                        f"{oid_expr} = {self.param(object_id)}")
        # The objectId alone first: that is what an index on a pointer field holds.
        if len(pointers) <= _SHORT_LIST:
            ids = list(dict.fromkeys(object_id for _, object_id in pointers))
            pairs = ", ".join(f"({self.param(c)}, {self.param(o)})" for c, o in pointers)
            return and_(x.typed("Pointer"), f"{oid_expr} IN {self._listed(ids)}",
                        f"({cls_expr}, {oid_expr}) IN (VALUES {pairs})")
        listed = self.param(dumps([list(p) for p in pointers]))
        return and_(x.typed("Pointer"),
                    f"{oid_expr} IN (SELECT json_extract(value, '$[1]') FROM json_each({listed}))",
                    f"({cls_expr}, {oid_expr}) IN "
                    f"(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each({listed}))")

    def _listed(self, values: Sequence[Any], as_json: str | None = None) -> str:
        if len(values) <= _SHORT_LIST:
            # Bound one by one, the planner knows how many there are: an index search for a few values stays
            # one however large the table (it cannot count a JSON array's elements before running).
            return "(" + ", ".join(self.param(v) for v in values) + ")"
        # One bound JSON array, however long the list: SQLite caps the number of parameters. The subquery is
        # uncorrelated, so SQLite builds its lookup index once per statement, not once per row.
        return f"(SELECT value FROM json_each({self.param(dumps(values) if as_json is None else as_json)}))"

    def value_equals(self, x: Node, value: Value) -> str:
        """match.values_equal(x, value) for one candidate or element."""
        if x.shape == TEXT_COLUMN:
            return f"{x.v} = {self.param(value)}" if isinstance(value, str) else "0"
        if x.shape == DATE_COLUMN:
            return self.date_compare(x, "eq", value) if isinstance(value, datetime) else "0"
        if x.shape == PERMISSIONS and not isinstance(value, list | tuple):
            return "0"
        if value is None:
            return x.is_("null")
        if isinstance(value, bool):
            return x.is_("true" if value else "false")
        if isinstance(value, int | float):
            return and_(f"{x.v} = {self.param(_bindable(value))}", f"{x.t} IN ('integer','real')")
        if isinstance(value, str):
            return and_(f"{x.v} = {self.param(value)}", x.is_("text"))
        if isinstance(value, datetime):
            return self.date_compare(x, "eq", value)
        if isinstance(value, Pointer):
            return and_(x.typed("Pointer"), f"{x.get(label('className'))} = {self.param(value.class_name)}",
                        f"{x.get(label('objectId'))} = {self.param(value.object_id)}")
        if isinstance(value, File):
            return and_(x.typed("File"), f"{x.get(label('name'))} = {self.param(value.name)}")
        if isinstance(value, GeoPoint):
            return and_(x.typed("GeoPoint"), f"{x.get(label('latitude'))} = {self.param(value.latitude)}",
                        f"{x.get(label('longitude'))} = {self.param(value.longitude)}")
        if isinstance(value, Bytes):
            return and_(x.typed("Bytes"), f"{x.get(label('base64'))} = {self.param(_b64(value))}")
        if isinstance(value, Polygon):
            coords = x.child("coordinates")
            size = f"json_array_length({x.root}, {sql_str(coords.jpath)})"
            parts = [x.typed("Polygon"), f"{size} = {len(value.coordinates)}"]
            for i, (lat, lng) in enumerate(value.coordinates):
                point = coords.item(i)
                parts.append(and_(f"{point.item(0).v} = {self.param(lat)}", f"{point.item(1).v} = {self.param(lng)}"))
            return and_(*parts)
        if isinstance(value, RelationRef):
            return and_(x.typed("Relation"), f"{x.get(label('className'))} = {self.param(value.class_name)}")
        if isinstance(value, Mapping | list | tuple):
            return self._container_equals(x, value)
        return "0"

    def _container_equals(self, x: Node, value: Mapping[str, Value] | list[Value] | tuple[Value, ...]) -> str:
        """match.values_equal for an object or array value. Its nested containers are joined as rows of one
        json_each each, keyed by member name or index and read from their parent's row: the SQL stays linear in
        the value and a subquery deep per _JOIN_ROWS containers (JSON paths from ``x`` would grow with every
        level, and a subquery per level would overflow SQLite's parser)."""
        conds: list[str] = []
        scope = _Scope()
        self._shape_equals(x, value, conds, scope)
        return and_(*conds, scope.exists())

    def _shape_equals(self, x: Node, value: Mapping[str, Value] | list[Value] | tuple[Value, ...], conds: list[str],
                      scope: _Scope) -> None:
        """Conditions for ``x`` equal to the container ``value`` go to ``conds``; rows for its nested containers,
        with the conditions on them, to ``scope``."""
        size = f"(SELECT count(*) FROM json_each({x.root}, {sql_str(x.jpath)}))"
        if isinstance(value, Mapping):
            conds += [x.plain_object(), f"{size} = {len(value)}"]
            members: list[tuple[str | int, Value]] = [(str(k), v) for k, v in value.items()]
        else:
            conds += [x.is_("array"), f"json_array_length({x.root}, {sql_str(x.jpath)}) = {len(value)}"]
            members = list(enumerate(value))
        for key, member in members:
            if not isinstance(member, Mapping | list | tuple):
                child = x.child(key) if isinstance(key, str) else x.item(key)
                conds.append(self.value_equals(child, member))
                continue
            # SQLite joins at most 64 tables: a full scope hands the member to one nested beside it.
            into = scope if len(scope.froms) < _JOIN_ROWS else scope.nested()
            alias = self._alias("r")
            into.froms.append(f"json_each({x.root}, {sql_str(x.jpath)}) AS {alias}")
            into.conds.append(f"{alias}.key = {key}" if isinstance(key, int) else f"{alias}.key = {self.param(key)}")
            self._shape_equals(row_node(alias, "type", "value"), member, into.conds, into)

    # ---- order comparisons ----

    def ordered(self, x: Node, op: str, value: Value) -> str:
        """match._ordered_one: only within one type bracket (numbers, strings, dates, booleans, pointers)."""
        sym = _SYMBOLS[op]
        if isinstance(value, datetime):
            return self.date_compare(x, op, value)
        if x.shape in (DATE_COLUMN, PERMISSIONS):
            return "0"
        if isinstance(value, bool):
            if x.shape == TEXT_COLUMN:
                return "0"
            return and_(f"{x.t} IN ('true','false')", f"({x.t} IS 'true') {sym} {int(value)}")
        if isinstance(value, int | float):
            if x.shape == TEXT_COLUMN or math.isnan(value):
                return "0"
            return and_(f"{x.v} {sym} {self.param(_bindable(value))}", f"{x.t} IN ('integer','real')")
        if isinstance(value, str):
            return and_(f"{x.v} {sym} {self.param(value)}", x.is_("text"))
        if isinstance(value, Pointer):
            if x.shape == TEXT_COLUMN:
                return "0"
            cls_expr, oid_expr = x.get(label("className")), x.get(label("objectId"))
            strict = sym[0]
            cls_param, oid_param = self.param(value.class_name), self.param(value.object_id)
            return and_(x.typed("Pointer"), or_(
                f"{cls_expr} {strict} {cls_param}", and_(f"{cls_expr} = {cls_param}", f"{oid_expr} {sym} {oid_param}")))
        return "0"

    def date_compare(self, x: Node, op: str, value: datetime) -> str:
        """Dates are stored as ISO text with milliseconds; a finer query instant still compares exactly."""
        guard = x.typed("Date")
        if guard == "0":
            return "0"
        text = x.v if x.shape == DATE_COLUMN else x.get(label("iso"))
        exact = _exact_ms(value)
        if op == "eq":
            if not exact:
                return "0"
            sym = "="
        elif exact:
            sym = _SYMBOLS[op]
        else:
            # Stored s has whole milliseconds; for q = m + r (0 < r < 1 ms): s < q ⟺ s <= m and s >= q ⟺ s > m.
            sym = {"lt": "<=", "lte": "<=", "gt": ">", "gte": ">"}[op]
        return and_(f"{text} {sym} {self.param(format_date(value))}", guard)

    # ---- arrays, strings, geo ----

    def contained_by(self, cands: Cands, values: Sequence[Value]) -> str:
        """match._contained_by: no present candidate (or element of an array candidate) outside the values."""
        member = self._one_of(values) if values else (lambda _x: "0")

        def violation(n: Node) -> str:
            scalar = and_(n.present(), not_(n.is_("array")), not_(member(n)))
            is_array = n.is_("array")
            if is_array == "0":
                return scalar
            alias = self._alias("e")
            outside = not_(member(row_node(alias, "type", "value")))
            return or_(scalar, and_(is_array, f"EXISTS (SELECT 1 FROM {n.elements(alias)} WHERE {outside})"))

        return not_(self.any_candidate(cands, violation))

    def regex(self, cands: Cands, node: Regex) -> str:
        return self.any_candidate(cands, self._regex_pred(node))

    def _regex_pred(self, node: Regex) -> Pred:
        pattern, options = self.param(node.pattern), self.param(node.options)
        return lambda n: self.item_or_self(n, lambda x: and_(
            x.is_("text"), f"parse_regexp({pattern}, {options}, {x.v})"))

    def text(self, cands: Cands, node: Text) -> str:
        positives, phrases, _ = search_terms(node.term, node.case_sensitive, node.diacritic_sensitive)
        if not positives and not phrases:
            return "0"
        term = self.param(node.term)
        flags = f"{int(node.case_sensitive)}, {int(node.diacritic_sensitive)}"
        return self.any_candidate(cands, lambda n: self.item_or_self(n, lambda x: and_(
            x.is_("text"), f"parse_text({term}, {flags}, {x.v})")))

    def geo_points(self, path: Path, test: Callable[[str, str], str]) -> str:
        """A GeoPoint candidate (or element) passing ``test(latitude, longitude)``: match._items + geo.*."""
        def pred(x: Node) -> str:
            guard = x.typed("GeoPoint")
            if guard == "0":
                return "0"
            return and_(guard, test(x.get(label("latitude")), x.get(label("longitude"))))

        return self.any_candidate(self.candidates(path), lambda n: self.item_or_self(n, pred))

    def _distance(self, lat: str, lng: str, point: GeoPoint) -> str:
        # Argument order as geo.near/within_sphere call distance_radians(value, point).
        return f"parse_geo_distance({lat}, {lng}, {self.param(point.latitude)}, {self.param(point.longitude)})"

    # ---- sorting ----

    def order_by(self, order: Sequence[SortKey], where: Where) -> str:
        """match.sort_objects (or distance for $nearSphere without an order); ties keep insertion order."""
        terms: list[str] = []
        if order:
            for key in order:
                direction = " DESC" if key.descending else ""
                terms += [expr + direction for expr in self.sort_terms(key.path)]
        else:
            near = near_node(where)
            column = _column(near.path[0]) if near is not None else None
            if near is not None and column is not None:
                terms.append(
                    f"parse_near_distance({column}, {self.param(dumps(list(near.path)))}, "
                    f"{self.param(near.point.latitude)}, {self.param(near.point.longitude)})")
        terms.append("rowid")
        return ", ".join(terms)

    def sort_terms(self, path: Path) -> list[str]:
        head, rest = path[0], path[1:]
        if head == "objectId" or head in TIMESTAMP_COLUMNS:
            # Always present and of one type, so the column's own order is match.sort_key's.
            return [] if rest else [quote_ident(head)]
        cands = self.candidates(path)
        if cands.node is not None:
            return _sort_pair(cands.node)
        column = _column(head)
        if column is None:
            return []
        return [f"parse_sort_path({column}, {self.param(dumps(list(path)))})"]


_JOIN_ROWS = 48
_SHORT_LIST = 32


@dataclass(frozen=True, slots=True)
class _Kinds:
    """A value list split by how a row compares to each kind (see Compiler._one_of); duplicates dropped."""

    strings: tuple[str, ...] = ()
    numbers: tuple[int | float, ...] = ()
    dates: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    pointers: tuple[tuple[str, str], ...] = ()
    others: tuple[Value, ...] = ()
    strings_json: str | None = None  # the strings as one JSON array, when they are bound that way
    has_none: bool = False


def _split(values: Sequence[Value]) -> _Kinds:
    if all(type(v) is str for v in values):
        # The common long list (an ACL's principals, a $in of ids): one pass, no per-kind tests.
        strings: tuple[str, ...] = tuple(dict.fromkeys(values))
        return _Kinds(strings=strings, strings_json=dumps(list(strings)) if len(strings) > _SHORT_LIST else None)
    strings = tuple(dict.fromkeys(v for v in values if isinstance(v, str)))
    numbers = tuple(_bindable(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    # A date between milliseconds equals no stored date (date_compare), so only whole ones are listed.
    dates = tuple(dict.fromkeys(format_date(v) for v in values if isinstance(v, datetime) and _exact_ms(v)))
    files = tuple(dict.fromkeys(v.name for v in values if isinstance(v, File)))
    pointers = tuple(dict.fromkeys((v.class_name, v.object_id) for v in values if isinstance(v, Pointer)))
    others = tuple(v for v in values if isinstance(v, bool) or not isinstance(v, str | int | float | datetime | File
                                                                               | Pointer))
    return _Kinds(strings, numbers, dates, files, pointers, others, has_none=any(v is None for v in values))


# A caller's ACL principals arrive as the same tuple object on every query they make (engine.security.auth caches
# it per user and role set), so a long list of strings is split and serialized once, not per query: for a user
# in 1 000 roles that was most of the compile time. Keyed by identity; the entry holds the tuple, so its id cannot
# be reused while cached. Only tuples of strings qualify: they cannot change after the split. Clients' own long
# `$in` lists pass through too (a new tuple each request), so both the entries and their size are capped: at
# most 64 entries of up to 64 KiB of JSON (about 2 000 role names) each, a few MiB in all.
_SPLIT_CACHE_SIZE = 64
_SPLIT_CACHE_MAX_JSON = 64 * 1024
_split_cache: dict[int, tuple[Sequence[Value], _Kinds]] = {}


def _kinds_of(values: Sequence[Value]) -> _Kinds:
    if type(values) is not tuple or len(values) <= _SHORT_LIST:
        return _split(values)
    hit = _split_cache.get(id(values))
    if hit is not None and hit[0] is values:
        return hit[1]
    kinds = _split(values)
    if kinds.strings_json is not None and len(kinds.strings_json) <= _SPLIT_CACHE_MAX_JSON:
        if len(_split_cache) >= _SPLIT_CACHE_SIZE:
            _split_cache.pop(next(iter(_split_cache)), None)
        _split_cache[id(values)] = (values, kinds)
    return kinds


class _Scope:
    """One subquery joining rows of nested containers of an equality value, and its nested scopes."""

    def __init__(self) -> None:
        self.froms: list[str] = []
        self.conds: list[str] = []
        self.children: list[_Scope] = []

    def nested(self) -> _Scope:
        child = _Scope()
        self.children.append(child)
        return child

    def exists(self) -> str:
        conds = [*self.conds, *(c.exists() for c in self.children)]
        if not self.froms:
            return and_(*conds)
        return f"EXISTS (SELECT 1 FROM {', '.join(self.froms)} WHERE {and_(*conds)})"


_SHALLOW = 40  # fewer parentheses than this cannot nest deep enough to trouble SQLite's parser
_TOO_DEEP = ("parser stack overflow", "Expression tree is too large")


def _check_parses(sql: str) -> None:
    """SQLite's parser has a fixed stack (100 entries): a where nesting $or/$and alternately, around deep paths
    and values, can exceed it. Only parsing is tried here, on a private in-memory database whose missing tables
    end the attempt right after the parse; what fails to parse is refused as a query, never a server error."""
    with closing(sqlite3.connect(":memory:")) as conn:
        try:
            # Three parentheses of headroom for the statement the store wraps around the condition.
            conn.execute(f"SELECT 1 WHERE ((({sql})))")
        except sqlite3.Error as exc:
            if any(reason in str(exc) for reason in _TOO_DEEP):
                raise ParseError(ErrorCode.INVALID_QUERY, "query is too deeply nested") from None


def _flat(kind: type[And] | type[Or], items: tuple[Where, ...]) -> list[Where]:
    """An $or inside an $or (an $and inside an $and) is one longer list: no SQL nesting, no parser depth."""
    out: list[Where] = []
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        if isinstance(item, kind):
            stack.extend(reversed(item.items))
        else:
            out.append(item)
    return out


def _with(ctes: Sequence[str]) -> str:
    return f"WITH {', '.join(ctes)} " if ctes else ""


def _column(head: str) -> str | None:
    if head in PERMISSION_COLUMNS or head == "objectId" or head in TIMESTAMP_COLUMNS:
        return None
    return "internal" if head.startswith("_") else "data"


def _sort_pair(n: Node) -> list[str]:
    """match.sort_key as (bracket, value within the bracket): scalars in SQL, containers by parse_sort_key."""
    kind = n.get(label("__type"))
    bracket = (
        f"CASE WHEN {n.t} IS NULL OR {n.t} = 'null' THEN 0 WHEN {n.t} IN ('integer','real') THEN 1 "
        f"WHEN {n.t} = 'text' THEN 2 WHEN {n.t} IN ('true','false') THEN 6 WHEN {n.t} = 'array' THEN 4 "
        f"ELSE CASE {kind} WHEN 'Date' THEN 7 WHEN 'File' THEN 2 WHEN 'Bytes' THEN 5 ELSE 3 END END"
    )
    value = (
        f"CASE WHEN {n.t} IN ('integer','real','text') THEN {n.v} WHEN {n.t} = 'true' THEN 1 "
        f"WHEN {n.t} = 'false' THEN 0 WHEN {n.t} IN ('object','array') THEN CASE {kind} "
        f"WHEN 'Date' THEN {n.get(label('iso'))} WHEN 'File' THEN {n.get(label('name'))} "
        f"ELSE parse_sort_key({n.v}) END END"
    )
    return [bracket, value]


def _b64(value: Bytes) -> str:
    return base64.b64encode(value.data).decode("ascii")


