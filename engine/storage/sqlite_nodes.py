"""SQL expressions for one JSON value of a SQLite row: quoting, JSON paths, what the schema says of a field.

A row keeps user fields in ``data`` (Parse JSON), server-owned ``_`` keys in ``internal``, and the builtins in
columns; a Node spells one value found there (its JSON type, its SQL value, how to read inside it).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ErrorCode, ParseError
from engine.schema.model import ClassDef, FieldType

TIMESTAMP_COLUMNS = ("createdAt", "updatedAt")
PERMISSION_COLUMNS = ("_rperm", "_wperm")
# Declared types whose values are never arrays: equality needs no array branch, so an index can answer it.
_NEVER_ARRAY = frozenset({
    FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE, FieldType.OBJECT, FieldType.GEOPOINT,
    FieldType.FILE, FieldType.BYTES, FieldType.POLYGON, FieldType.POINTER,
})
# Declared types whose values are JSON scalars.
_SCALAR = frozenset({FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN})
# The part of a typed value an index (and the query that should use it) reads.
_INDEXED_PART = {FieldType.DATE: "iso", FieldType.POINTER: "objectId", FieldType.FILE: "name"}

# Node shapes: what is known about a value before looking at it.
ANY = "any"
NO_ARRAY = "no-array"  # a field the schema declares as a non-array type
TEXT_COLUMN = "text"  # objectId: always a string
DATE_COLUMN = "date"  # createdAt/updatedAt: always a date, held as ISO text
PERMISSIONS = "perms"  # _rperm/_wperm: NULL (no ACL) or a JSON array of strings


# ---- SQL text ----

def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, "invalid name")
    return '"' + name.replace('"', '""') + '"'


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _safe_label(key: str) -> bool:
    # SQLite JSON paths quote a label in double quotes and have no escape for a quote inside it.
    return bool(key) and '"' not in key and "\\" not in key and "\x00" not in key


def label(key: str) -> str:
    """One JSON path step for a key of a query path (validated upstream; refused here if it cannot be quoted)."""
    if not _safe_label(key):
        raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid key name: {key}")
    return '."' + key + '"'


def json_get(root: str, jpath: str) -> str:
    """The one spelling of a JSON read: indexes and queries must produce the identical expression."""
    return f"json_extract({root}, {sql_str(jpath)})"


# SQLite parses "a AND b AND c ..." as a chain as deep as it is long and refuses expressions deeper than 1000;
# longer lists are grouped into a balanced tree of at most this many terms per group.
_GROUP = 16


def _joined(op: str, kept: list[str]) -> str:
    if len(kept) == 1:
        return kept[0]
    if len(kept) > _GROUP:
        step = -(-len(kept) // _GROUP)
        kept = [_joined(op, kept[i:i + step]) for i in range(0, len(kept), step)]
    return "(" + f" {op} ".join(kept) + ")"


def and_(*parts: str) -> str:
    if "0" in parts:
        return "0"
    kept = [p for p in parts if p != "1"]
    if not kept:
        return "1"
    return _joined("AND", kept)


def or_(*parts: str) -> str:
    if "1" in parts:
        return "1"
    kept = [p for p in parts if p != "0"]
    if not kept:
        return "0"
    return _joined("OR", kept)


def not_(part: str) -> str:
    # SQL's NULL would make NOT NULL unknown; match.py's negations are two-valued. "IS NOT 1" is that without a
    # function call per negation, which SQLite's parser stack (100 deep) would run out of in a nested $nor. Every
    # part is a primary, a comparison or a parenthesized group (and_/or_), and IS is left-associative at the
    # loosest comparison level, so no part needs parentheses of its own.
    if part in ("0", "1"):
        return "1" if part == "0" else "0"
    return f"{part} IS NOT 1"


# ---- nodes: one candidate value, as SQL expressions ----

@dataclass(frozen=True, slots=True)
class Node:
    """``t`` is the JSON type name (NULL when missing), ``v`` the SQL value (JSON text for containers);
    ``root``/``jpath`` address the value inside a JSON text that is always safe to parse (or NULL)."""

    t: str
    v: str
    root: str
    jpath: str
    shape: str = ANY

    def missing(self) -> str:
        if self.shape in (TEXT_COLUMN, DATE_COLUMN):
            return "0"
        if self.shape == PERMISSIONS:
            return f"{self.v} IS NULL"
        return f"{self.t} IS NULL"

    def present(self) -> str:
        if self.shape in (TEXT_COLUMN, DATE_COLUMN):
            return "1"
        if self.shape == PERMISSIONS:
            return f"{self.v} IS NOT NULL"
        return f"{self.t} IS NOT NULL"

    def is_(self, json_type: str) -> str:
        if self.shape == TEXT_COLUMN:
            return "1" if json_type == "text" else "0"
        if self.shape == DATE_COLUMN:
            return "0"
        if self.shape == PERMISSIONS:
            return f"{self.v} IS NOT NULL" if json_type == "array" else "0"
        if self.shape == NO_ARRAY and json_type == "array":
            return "0"
        return f"{self.t} IS '{json_type}'"

    def get(self, suffix: str) -> str:
        return json_get(self.root, self.jpath + suffix)

    def typed(self, kind: str) -> str:
        """The value is a Parse typed object (``{"__type": kind, ...}``)."""
        if self.shape == DATE_COLUMN:
            return "1" if kind == "Date" else "0"
        if self.shape in (TEXT_COLUMN, PERMISSIONS):
            return "0"
        return f"{self.get(label('__type'))} IS '{kind}'"

    def plain_object(self) -> str:
        """A Mapping in match.py's sense: an object that is not a typed value."""
        if self.shape in (TEXT_COLUMN, DATE_COLUMN, PERMISSIONS):
            return "0"
        return and_(self.is_("object"), f"{self.get(label('__type'))} IS NULL")

    def child(self, key: str) -> Node:
        if not _safe_label(key):
            return self._child_by_scan(key)
        jpath = self.jpath + label(key)
        return Node(f"json_type({self.root}, {sql_str(jpath)})", json_get(self.root, jpath), self.root, jpath)

    def _child_by_scan(self, key: str) -> Node:
        # A key no JSON path can spell (a quote in an object key of a query value): find it by scanning.
        src = f"json_each({self.root}, {sql_str(self.jpath)})"
        k = sql_str(key)
        t = f"(SELECT type FROM {src} WHERE key = {k})"
        v = f"(SELECT value FROM {src} WHERE key = {k})"
        return Node(t, v, f"CASE WHEN {t} IN ('object','array') THEN {v} END", "$")

    def item(self, index: int) -> Node:
        jpath = f"{self.jpath}[{index}]"
        return Node(f"json_type({self.root}, {sql_str(jpath)})", json_get(self.root, jpath), self.root, jpath)

    def elements(self, alias: str) -> str:
        """A FROM item listing the array's elements (used only together with ``is_('array')``)."""
        return f"json_each({self.root}, {sql_str(self.jpath)}) AS {alias}"


def row_node(alias: str, type_col: str, value_col: str) -> Node:
    t, v = f"{alias}.{type_col}", f"{alias}.{value_col}"
    return Node(t, v, f"CASE WHEN {t} IN ('object','array') THEN {v} END", "$")


MISSING_NODE = Node("NULL", "NULL", "NULL", "$")


@dataclass(frozen=True, slots=True)
class Cands:
    """The candidates of a path: one node, or (through arrays) the rows (t, v) of a UNION ALL subquery, which
    reads the named common table expressions ``ctes`` (one per level of the path before the last)."""

    node: Node | None = None
    union: str | None = None
    ctes: tuple[str, ...] = ()


# Server-owned keys only the server writes, always as strings: shaped like a declared String field (no array
# branch), so the lookups by them (a legacy session token, on every request that carries one) use an index.
_INTERNAL_STRINGS = frozenset({"_session_token", "_perishable_token", "_email_verify_token"})


def declared_type(cls: ClassDef | None, name: str) -> FieldType | None:
    if name in _INTERNAL_STRINGS:
        return FieldType.STRING
    fdef = cls.fields.get(name) if cls is not None else None
    return fdef.type if fdef is not None else None


def head_node(cls: ClassDef | None, head: str) -> Node:
    if head == "objectId":
        return Node("'text'", "objectId", "NULL", "$", TEXT_COLUMN)
    if head in TIMESTAMP_COLUMNS:
        return Node("'object'", quote_ident(head), "NULL", "$", DATE_COLUMN)
    if head in PERMISSION_COLUMNS:
        return Node(f"json_type({head})", head, head, "$", PERMISSIONS)
    column = "internal" if head.startswith("_") else "data"
    kind = declared_type(cls, head) if column == "data" or head in _INTERNAL_STRINGS else None
    node = Node("NULL", "NULL", column, "$").child(head)
    if kind in _NEVER_ARRAY:
        return Node(node.t, node.v, node.root, node.jpath, NO_ARRAY)
    return node


def index_expression(cls: ClassDef, key: str, unique: bool) -> str:
    """The SQL an index on ``key`` stores; the compiler spells queries on that key identically."""
    if key in ("_id", "objectId"):
        return "objectId"
    if key in TIMESTAMP_COLUMNS:
        return quote_ident(key)
    path = key.split(".")
    node = head_node(cls, path[0])
    for part in path[1:]:
        node = node.child(part)
    kind = declared_type(cls, path[0]) if len(path) == 1 else None
    indexed = _INDEXED_PART.get(kind) if kind is not None else None
    # A unique index compares whole values, except a date, whose ISO text is the value.
    if indexed is not None and (not unique or kind is FieldType.DATE):
        return node.get(label(indexed))
    return node.v


def index_value_is_scalar(cls: ClassDef, key: str, unique: bool) -> bool:
    """True when index_expression(cls, key, unique) always reads a string, number, boolean or NULL: never a JSON
    container (whose ``json_extract`` carries a subtype a copy of it would lose). Every companion is a scalar."""
    if "." in key:
        return False  # inside an object: the schema does not say what is there
    kind = declared_type(cls, key)
    if kind in _INDEXED_PART:
        return not unique or kind is FieldType.DATE
    return kind in _SCALAR


def index_companions(cls: ClassDef, key: str) -> list[str]:
    """What the compiler tests beside the value an index on ``key`` holds: the value's JSON type, or a typed
    value's ``__type`` (and a pointer's className). Kept in the index as trailing columns, SQLite reads them
    from there: a search or a count on the key then never reads the row itself to finish the test."""
    if key in ("_id", "objectId") or key in TIMESTAMP_COLUMNS:
        return []
    path = key.split(".")
    node = head_node(cls, path[0])
    for part in path[1:]:
        node = node.child(part)
    kind = declared_type(cls, path[0]) if len(path) == 1 else None
    if kind is FieldType.POINTER:
        return [node.get(label("__type")), node.get(label("className"))]
    if kind in (FieldType.DATE, FieldType.FILE):
        return [node.get(label("__type"))]
    return [node.t]
