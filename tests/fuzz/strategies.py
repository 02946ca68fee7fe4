"""Hypothesis strategies for hostile Parse input: values, `where` trees, query options, write bodies, admin bodies.

Shapes follow Parse's grammar (so examples get past the first validation and reach the deep code) with odd
values mixed in at every level: huge ints, NaN, long and unicode strings, wrong types, unknown operators.
Dotted keys stay shallow here (at most 4 segments): deeper ones are known memory bombs and are exercised only in
a memory-limited subprocess (test_bombs.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SCHEMA_CLASSES = ("SleepStudy", "PatientProfile", "TitrationLog", "Message", "Appointment", "AuditLog")
SCHEMA_FIELDS = ("objectId", "createdAt", "updatedAt", "ACL", "patient", "studyDate", "results", "status",
                 "attachments", "user", "isActive", "metadata", "body", "startAt", "from", "to", "dateOfBirth")
ODD_NAMES = ("", " ", "a.b", "$x", "_rperm", "_wperm", "_hashed_password", "__proto__", "constructor",
             "prototype", "authData", "sessionToken", "password", "ünïcødé", "名字", "a" * 300, "0", "-1",
             "a-b", "a b", "\x00", "__type", "__op", "_acl", "$where", "ACL.*", "results.$", "a..b", ".a", "a.")
FIELD_OPS = ("$lt", "$lte", "$gt", "$gte", "$ne", "$eq", "$in", "$nin", "$all", "$exists", "$select",
             "$dontSelect", "$inQuery", "$notInQuery", "$regex", "$options", "$containedBy", "$text", "$nearSphere",
             "$maxDistance", "$maxDistanceInRadians", "$maxDistanceInKilometers", "$maxDistanceInMiles", "$within",
             "$geoWithin", "$geoIntersects", "$relativeTime", "$not", "$elemMatch", "$size", "$type", "$mod",
             "$where", "$expr", "$foo", "$", "$or", "$and")
TOP_OPS = ("$or", "$and", "$nor", "$relatedTo", "$text", "$where", "$expr", "$comment")
TYPES = ("Date", "Pointer", "GeoPoint", "File", "Bytes", "Polygon", "Relation", "Object", "Code", "", None, 1)

HUGE_INTS = (2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**100))
ODD_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-0", "0x10", " 5", "５", "1_000", "")
ODD_STRINGS = ("", "x" * 3000, "\u202e", "\ud800", "'; DROP TABLE x; --", "%s", "{}", "null", "r:", "\x00",
               "😴" * 100, "a\nb", "\\", "/*", "NaN")

ints = st.integers() | st.sampled_from(HUGE_INTS)
floats = st.floats(allow_nan=True, allow_infinity=True)
texts = st.text(max_size=40) | st.sampled_from(ODD_STRINGS)
scalars = st.none() | st.booleans() | ints | floats | texts


def iso_dates() -> st.SearchStrategy[Any]:
    return st.sampled_from(("2026-01-02T03:04:05.000Z", "0000-00-00T00:00:00Z", "9999-12-31T23:59:59.999Z",
                            "-271821-04-20T00:00:00Z", "2026-13-45", "now", "")) | scalars


def typed_values() -> st.SearchStrategy[Any]:
    """Parse's `__type` encodings, valid and broken."""
    return st.one_of(
        st.fixed_dictionaries({"__type": st.just("Date"), "iso": iso_dates()}),
        st.fixed_dictionaries({"__type": st.just("Pointer"), "className": st.sampled_from(SCHEMA_CLASSES) | texts,
                               "objectId": st.sampled_from(("p000000001", "")) | scalars}),
        st.fixed_dictionaries({"__type": st.just("GeoPoint"), "latitude": floats | ints | texts,
                               "longitude": floats | ints | texts}),
        st.fixed_dictionaries({"__type": st.just("File"), "name": texts, "url": texts}),
        st.fixed_dictionaries({"__type": st.just("Bytes"), "base64": texts}),
        st.fixed_dictionaries({"__type": st.just("Polygon"),
                               "coordinates": st.lists(st.lists(floats | ints, max_size=3), max_size=5) | scalars}),
        st.fixed_dictionaries({"__type": st.just("Relation"), "className": texts}),
        st.fixed_dictionaries({"__type": st.sampled_from(TYPES)}, optional={"x": scalars}),
    )


json_values = st.recursive(
    scalars | typed_values(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(ODD_NAMES) | texts, inner,
                                                                 max_size=4),
    max_leaves=12,
)


def field_names(dotted: bool = True) -> st.SearchStrategy[str]:
    plain = st.sampled_from(SCHEMA_FIELDS) | st.sampled_from(ODD_NAMES) | st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}",
                                                                                         fullmatch=True)
    if not dotted:
        return plain
    path = st.lists(st.sampled_from(("a", "objectId", "0", "x", "$", "results")), min_size=1, max_size=3)
    return plain | st.builds(lambda head, rest: ".".join([head, *rest]), st.sampled_from(SCHEMA_FIELDS), path)


def relative_times() -> st.SearchStrategy[Any]:
    words = st.sampled_from(("in 1 day", "2 weeks ago", "now", "in 99999999999 years", "99999999999999999999 days ago",
                             "in 1e308 seconds", "in NaN hours", "in -5 minutes", "in 1 fortnight", "ago", "in",
                             "in 1.5 mins", "in 9223372036854775807 ms", "12 hrs ago"))
    return words | scalars


def subquery(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({"className": st.sampled_from(SCHEMA_CLASSES) | texts, "where": inner},
                                 optional={"limit": scalars, "keys": scalars})


def operand(op: str, inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    if op in ("$in", "$nin", "$all", "$containedBy"):
        return st.lists(scalars | typed_values(), max_size=6) | scalars
    if op in ("$inQuery", "$notInQuery"):
        return subquery(inner) | scalars
    if op in ("$select", "$dontSelect"):
        return st.fixed_dictionaries({"query": subquery(inner) | scalars, "key": texts | scalars}) | scalars
    if op == "$relativeTime":
        return relative_times()
    if op == "$regex":
        return st.sampled_from(("^a", "(a+)+$", "[", "\\", "(?i)x", ".*" * 50, "\\Q", "(?P<x>", "a{1000000}")) | texts
    if op == "$text":
        return st.fixed_dictionaries({"$search": st.fixed_dictionaries(
            {"$term": texts | scalars}, optional={"$language": texts, "$caseSensitive": scalars,
                                                  "$diacriticSensitive": scalars}) | scalars}) | scalars
    if op in ("$within", "$geoWithin", "$geoIntersects"):
        return st.dictionaries(st.sampled_from(("$box", "$polygon", "$centerSphere", "$point")),
                               st.lists(typed_values() | st.lists(floats | ints, max_size=3), max_size=4) | scalars,
                               max_size=2) | scalars
    if op in ("$not", "$or", "$and"):
        return inner
    return scalars | typed_values() | json_values


def conditions(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value side of one key: an equality value or an operator object."""
    op_dict = st.sampled_from(FIELD_OPS).flatmap(
        lambda op: st.builds(lambda v, opts: {op: v, **opts}, operand(op, inner),
                             st.fixed_dictionaries({}, optional={"$options": texts | scalars})))
    return scalars | typed_values() | op_dict


def _leaf_where() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(field_names(), conditions(st.just({})), max_size=3)


def _extend_where(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    combos = st.builds(lambda op, items: {op: items}, st.sampled_from(("$or", "$and", "$nor")),
                       st.lists(inner, max_size=3) | scalars)
    related = st.fixed_dictionaries({"$relatedTo": st.fixed_dictionaries(
        {"object": typed_values(), "key": texts})})
    nested = st.dictionaries(field_names(), conditions(inner), min_size=1, max_size=2)
    return combos | related | nested | st.builds(lambda a, b: {**a, **b}, combos, nested)


wheres = st.recursive(_leaf_where(), _extend_where, max_leaves=8)

OPTION_VALUES = st.sampled_from(("0", "1", "-1", "100", "10000", "10001", "99999999999999999999", "1e100", "abc",
                                 "1.5", "true", "null", "[]", "{}", "createdAt", "-createdAt,results", "a.b.c",
                                 "patient", "patient.user", ",,,", "$where")) | st.sampled_from(ODD_NUMBERS) | texts
OPTION_NAMES = ("limit", "skip", "order", "keys", "excludeKeys", "include", "count", "readPreference",
                "includeReadPreference", "subqueryReadPreference", "redirectClassNameForKey", "explain", "hint",
                "includeAll", "comment")
options = st.dictionaries(st.sampled_from(OPTION_NAMES), OPTION_VALUES, max_size=4)

# ---- write bodies ----

POINTER = {"__type": "Pointer", "className": "PatientProfile", "objectId": "p000000001"}
VALID_STUDY = {"patient": POINTER, "studyDate": {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"},
               "results": "AHI 12", "status": "final"}
OPS = ("Increment", "Add", "AddUnique", "Remove", "Delete", "AddRelation", "RemoveRelation", "Batch", "SetOnInsert",
       "Explode", "", None)


def write_ops() -> st.SearchStrategy[Any]:
    ops = st.sampled_from(OPS)
    payload = st.fixed_dictionaries({}, optional={"amount": scalars, "objects": st.lists(
        scalars | typed_values(), max_size=3) | scalars, "ops": st.lists(json_values, max_size=2) | scalars})
    return st.builds(lambda op, p: {"__op": op, **p}, ops, payload)


def acls() -> st.SearchStrategy[Any]:
    perms = st.fixed_dictionaries({}, optional={"read": scalars, "write": scalars, "admin": scalars})
    keys = st.sampled_from(("*", "role:admin", "role:", "role:a b", "u123", "", "__proto__")) | texts
    return st.dictionaries(keys, perms | scalars, max_size=3) | scalars


write_values = scalars | typed_values() | write_ops() | json_values
write_fields = st.dictionaries(field_names(), write_values, max_size=4)


def write_bodies() -> st.SearchStrategy[Any]:
    """Mostly a valid SleepStudy with a few hostile fields, so some writes succeed and reach storage."""
    mutated = st.builds(lambda extra, acl: {**VALID_STUDY, **extra, **acl}, write_fields,
                        st.fixed_dictionaries({}, optional={"ACL": acls()}))
    return mutated | write_fields | json_values


# ---- admin bodies ----

FIELD_TYPES = ("String", "Number", "Boolean", "Date", "Object", "Array", "Pointer", "Relation", "GeoPoint", "File",
               "Bytes", "Polygon", "ACL", "Blob", "", "string", None, 1)
CLP_OPS = ("find", "get", "count", "create", "update", "delete", "addField", "protectedFields", "readUserFields",
           "writeUserFields", "explode", "")


def field_specs() -> st.SearchStrategy[Any]:
    spec = st.fixed_dictionaries({"type": st.sampled_from(FIELD_TYPES) | scalars}, optional={
        "targetClass": st.sampled_from(SCHEMA_CLASSES + ("_User", "", "Nope")) | scalars,
        "required": scalars, "defaultValue": scalars | typed_values()})
    return spec | st.just({"__op": "Delete"}) | scalars


def clps() -> st.SearchStrategy[Any]:
    perms = st.dictionaries(st.sampled_from(("*", "requiresAuthentication", "role:x", "pointerFields", "")) | texts,
                            scalars | st.lists(texts, max_size=2), max_size=3)
    return st.dictionaries(st.sampled_from(CLP_OPS), perms | scalars, max_size=3) | scalars


def schema_bodies(class_name: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional={
        "className": st.just(class_name) | texts | scalars,
        "fields": st.dictionaries(field_names(dotted=False), field_specs(), max_size=4) | scalars,
        "classLevelPermissions": clps(),
        "indexes": st.dictionaries(texts, st.dictionaries(field_names(), st.sampled_from((1, -1, "text", 0, "x"))
                                                          | scalars, max_size=2) | scalars, max_size=2) | scalars,
    }) | json_values


config_bodies = st.fixed_dictionaries({}, optional={
    "params": st.dictionaries(field_names(dotted=False), json_values | st.just({"__op": "Delete"}), max_size=3)
    | scalars,
    "masterKeyOnly": st.dictionaries(field_names(dotted=False), scalars, max_size=3) | scalars,
}) | json_values

# ---- /batch ----

BATCH_PATHS = ("/parse/classes/SleepStudy", "/classes/SleepStudy", "/parse/classes/SleepStudy/nope", "/parse/batch",
               "/parse/users", "/parse/login", "/parse/schemas/SleepStudy", "/parse/config", "/parse/../etc",
               "http://evil/parse/classes/X", "/parse/classes/", "/parse/functions/x", "parse/classes/SleepStudy", "")


def batch_bodies() -> st.SearchStrategy[Any]:
    sub = st.fixed_dictionaries({}, optional={
        "method": st.sampled_from(("GET", "POST", "PUT", "DELETE", "PATCH", "get", "")) | scalars,
        "path": st.sampled_from(BATCH_PATHS) | texts | scalars,
        "body": write_bodies() | scalars,
    }) | scalars
    return st.fixed_dictionaries({"requests": st.lists(sub, max_size=6) | scalars},
                                 optional={"transaction": scalars}) | json_values
