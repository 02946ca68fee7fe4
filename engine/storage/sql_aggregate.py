"""A StorePlan (engine.storage.aggregate_plan) as one SQL statement, for SQLite and PostgreSQL alike.

The adapters say how to read a declared field (SQLite: a JSON path into ``data``; PostgreSQL: its own column)
and compile the where; this module writes the GROUP BY around them and turns result rows back into the
documents the Python stages would have produced. The dialects differ only in NULL ordering, string collation
and how numbers and booleans come back, so one module serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from engine.schema.model import ClassDef, FieldType
from engine.storage.aggregate_plan import Group, StorePlan
from engine.storage.sqlite_nodes import head_node, label, quote_ident, sql_str
from engine.wire import Pointer, Value

# How one declared field reads in SQL: ``field(name)`` its scalar value; ``pointer(name)`` its "Class$id" text.
FieldSql = Callable[[str], str]

_TEXT: Final = frozenset({FieldType.STRING, FieldType.POINTER})


@dataclass(frozen=True, slots=True)
class Dialect:
    postgres: bool
    value: FieldSql  # the field's SQL value (a pointer's objectId for a pointer)
    pointer: FieldSql  # a pointer field as "Class$objectId" text, NULL when unset
    present: FieldSql  # 1 when the row has the field (even as null), else 0
    storage_order: str  # a column of the rows' storage order: groups (and ties) come in the order find() meets them
    # True when the table can be read in the order of this SQL value (an index leads with it): a GROUP BY on it
    # then walks the index instead of sorting. Only SQLite asks (PostgreSQL hashes its groups).
    ordered_by: Callable[[str], bool] = lambda sql: False


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    decode: Callable[[Sequence[Any]], dict[str, Any]]


def _text(sql: str, dialect: Dialect) -> str:
    # PostgreSQL compares text by the database's locale; Mongo and the Python stages compare by code point.
    return f'({sql}) COLLATE "C"' if dialect.postgres else sql


def _number(value: Any, dialect: Dialect) -> Any:
    # PostgreSQL keeps Numbers as double precision; the rows find() decodes turn a whole one back into an int,
    # so the Python stages summed ints. SQLite hands back what the JSON held.
    if dialect.postgres and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _key_sql(cls: ClassDef, field: str, dialect: Dialect) -> str:
    kind = cls.fields[field].type
    if kind is FieldType.POINTER:
        return dialect.pointer(field)
    return dialect.value(field)


def _decode_scalar(kind: FieldType, value: Any, dialect: Dialect) -> Any:
    if value is None:
        return None
    if kind is FieldType.BOOLEAN:
        return bool(value)
    if kind is FieldType.NUMBER:
        return _number(value, dialect)
    return value


def _columns(cls: ClassDef, group: Group, dialect: Dialect,
             row: Callable[[str], str]) -> tuple[list[str], dict[str, tuple[str, bool]]]:
    """SELECT terms (aliased k0.., a0..) and, per sortable output path, (alias, orders as text). ``row`` turns a
    per-row SQL value into what the grouping query reads for it (itself, or a subquery's column)."""
    terms: list[str] = []
    sortable: dict[str, tuple[str, bool]] = {}
    for i, (name, field) in enumerate(group.keys):
        terms.append(f"{row(_key_sql(cls, field, dialect))} AS k{i}")
        sortable["_id" if name is None else f"_id.{name}"] = (f"k{i}", cls.fields[field].type in _TEXT)
    if group.keys and group.keys[0][0] is not None:
        # An object key leaves out a missing field ({a: "$x"} is {} without x), which groups apart from {a: null}.
        terms += [f"{row(dialect.present(field))} AS h{i}" for i, (_, field) in enumerate(group.keys)]
    for i, acc in enumerate(group.accumulators):
        text = acc.field is not None and cls.fields[acc.field].type in _TEXT and acc.op in ("min", "max")
        sortable[acc.name] = (f"a{i}", text)
        if acc.field is None:
            terms.append(f"count(*) AS a{i}")
            continue
        value = row(dialect.value(acc.field))
        if acc.op == "sum":
            terms.append(f"coalesce(sum({value}), 0) AS a{i}")  # Mongo's sum of nothing is 0
            if dialect.postgres:
                # A double column's sum is a double; it is an integer when every value summed was one.
                terms.append(f"coalesce(bool_or({value} <> trunc({value})), false) AS f{i}")
        elif acc.op == "avg":
            terms.append(f"avg({value}) AS a{i}")
        else:
            terms.append(f"{acc.op}({_text(value, dialect) if text else value}) AS a{i}")
    return terms, sortable


def _order(plan: StorePlan, sortable: Mapping[str, tuple[str, bool]], dialect: Dialect) -> str:
    terms: list[str] = []
    for path, descending in plan.sort:
        alias, text = sortable[path]
        ref = f"g.{alias}"
        if text and dialect.postgres:
            ref += ' COLLATE "C"'
        if dialect.postgres:  # nulls sort lowest in Mongo's order, as SQLite already does
            ref += " DESC NULLS LAST" if descending else " ASC NULLS FIRST"
        else:
            ref += " DESC" if descending else ""
        terms.append(ref)
    # Ties (and an unsorted output) in the order the Python stages' stable sort over find()'s rows gives.
    terms.append("g.o")
    return f" ORDER BY {', '.join(terms)}"


def group_statement(cls: ClassDef, plan: StorePlan, table: str, condition: str, dialect: Dialect) -> Statement:
    """One statement for ``plan`` (which has a group) over the rows of ``table`` where ``condition`` holds."""
    group = plan.group
    assert group is not None
    # SQLite groups by sorting every row into a temporary b-tree, which carries each column the aggregates read
    # later -- the whole JSON document. Unless an index already yields the rows in key order, the per-row values
    # are read once in a subquery (LIMIT -1 keeps SQLite from flattening it) and only they are sorted.
    first_key = _key_sql(cls, group.keys[0][1], dialect) if group.keys else None
    presort = not dialect.postgres and first_key is not None and not dialect.ordered_by(first_key)
    per_row: dict[str, str] = {}

    def row(sql: str) -> str:
        return per_row.setdefault(sql, f"x{len(per_row)}") if presort else sql

    terms, sortable = _columns(cls, group, dialect, row)
    named = bool(group.keys) and group.keys[0][0] is not None
    keys = ", ".join([f"k{i}" for i in range(len(group.keys))] + [f"h{i}" for i in range(len(group.keys) * named)])
    # Each is one more aggregate evaluated per row (a third of the statement over 100 000 rows): only when needed.
    extra = [] if group.keys else ["count(*) AS n"]
    if plan.ordered:
        extra.append(f"min({row(dialect.storage_order)}) AS o")
    columns = ", ".join([*terms, *extra])
    source = f"{table} WHERE {condition}"
    if presort:
        values = ", ".join(f"{sql} AS {alias}" for sql, alias in per_row.items())
        source = f"(SELECT {values} FROM {source} LIMIT -1) AS r"
    inner = f"SELECT {columns} FROM {source}" + (f" GROUP BY {keys}" if keys else "")
    # Without GROUP BY an aggregate over no rows is still one row; Mongo's $group of nothing is no document.
    sql = f"SELECT * FROM ({inner}) AS g" + ("" if group.keys else " WHERE g.n > 0")
    if plan.ordered:
        sql += _order(plan, sortable, dialect)
    if plan.limit is not None or plan.skip:
        limit = plan.limit if plan.limit is not None else (None if dialect.postgres else -1)
        sql += f" LIMIT {'ALL' if limit is None else int(limit)} OFFSET {int(plan.skip)}"
    if plan.count is not None:
        count_name = plan.count
        return Statement(f"SELECT count(*) FROM ({sql}) AS c",
                         lambda row: {count_name: int(row[0])} if row[0] else {})

    key_kinds = [(name, cls.fields[field].type) for name, field in group.keys]
    accs = [(acc, cls.fields[acc.field].type if acc.field else FieldType.NUMBER) for acc in group.accumulators]
    fractional_flag = dialect.postgres  # PostgreSQL sums carry a "some value had a fraction" column after them

    def decode(row: Sequence[Any]) -> dict[str, Any]:
        if not key_kinds:
            key: Any = None
        elif key_kinds[0][0] is None:
            key = _decode_scalar(key_kinds[0][1], row[0], dialect)
        else:
            flags = len(key_kinds)
            key = {str(name): _decode_scalar(kind, row[i], dialect) for i, (name, kind) in enumerate(key_kinds)
                   if row[flags + i]}
        doc: dict[str, Any] = {"_id": key}
        at = len(key_kinds) * (2 if named else 1)
        for acc, kind in accs:
            value = row[at]
            at += 1
            if acc.op == "avg":
                doc[acc.name] = None if value is None else float(value)
            elif acc.op == "count":
                doc[acc.name] = int(value)
            elif acc.op == "sum" and fractional_flag:
                fractional = row[at]
                at += 1
                doc[acc.name] = float(value) if fractional else _number(value, dialect)
            else:
                doc[acc.name] = _decode_scalar(kind, value, dialect)
        return doc

    return Statement(sql, decode)


def distinct_statement(cls: ClassDef, field: str, table: str, condition: str, dialect: Dialect) -> Statement:
    """The distinct non-null values of ``field``, in the order find() meets their first rows."""
    kind = cls.fields[field].type
    expr = _key_sql(cls, field, dialect)
    sql = (f"SELECT v FROM (SELECT {expr} AS v, min({dialect.storage_order}) AS o FROM {table} WHERE {condition} "
           f"GROUP BY v) AS d WHERE v IS NOT NULL ORDER BY o")

    def decode(row: Sequence[Any]) -> dict[str, Any]:
        value: Value = _decode_scalar(kind, row[0], dialect)
        if kind is FieldType.POINTER and isinstance(value, str):
            class_name, _, object_id = value.partition("$")
            value = Pointer(class_name, object_id)
        return {"v": value}

    return Statement(sql, decode)


# ---- the two dialects ----

def sqlite_dialect(cls: ClassDef, index_leads: frozenset[str] = frozenset()) -> Dialect:
    """SQLite rows keep user fields as JSON in ``data``: a field is a JSON path read (the one indexes use).
    ``index_leads``: the SQL values the table's indexes lead with."""
    def value(field: str) -> str:
        return head_node(cls, field).v

    def pointer(field: str) -> str:
        node = head_node(cls, field)
        return f"({node.get(label('className'))} || '$' || {node.get(label('objectId'))})"

    def present(field: str) -> str:
        return f"({head_node(cls, field).t} IS NOT NULL)"

    return Dialect(postgres=False, value=value, pointer=pointer, present=present, storage_order="rowid",
                   ordered_by=index_leads.__contains__)


def postgres_dialect(cls: ClassDef) -> Dialect:
    """Parse's PostgreSQL layout: one typed column per field; a pointer column holds only the objectId."""
    def value(field: str) -> str:
        return quote_ident(field)

    def pointer(field: str) -> str:
        target = cls.fields[field].target_class or ""
        return f"({sql_str(target + '$')} || {quote_ident(field)})"

    def present(field: str) -> str:
        return f"({quote_ident(field)} IS NOT NULL)"  # a NULL column is an unset field in Parse's layout

    return Dialect(postgres=True, value=value, pointer=pointer, present=present,
                   storage_order='"createdAt"')
