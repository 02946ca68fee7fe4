"""In-memory matching of parsed `where` JSON mirrors Parse on MongoDB, operator by operator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.match import distance_radians, matches, near_node, resolve_path, sort_objects
from engine.query.options import SortKey
from engine.query.where import EARTH_RADIUS_KM, InQuery, MatchNone, Near, RelatedTo, parse_where
from engine.storage.base import StoredObject
from engine.wire import ACL, Bytes, File, GeoPoint, Pointer, Polygon, now

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SF = GeoPoint(37.7749, -122.4194)
OAKLAND = GeoPoint(37.8044, -122.2712)  # ~13 km from SF
LA = GeoPoint(34.0522, -118.2437)  # ~559 km / ~347 miles from SF


def obj(_id: str = "o1", *, acl: ACL | None = None, created: datetime = T0, **fields: Any) -> StoredObject:
    return StoredObject("Thing", _id, created, created, acl).with_fields(fields)


def m(where: dict[str, Any], o: StoredObject, *, master: bool = False) -> bool:
    return matches(parse_where(where, master=master), o)


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def gp(p: GeoPoint) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": p.latitude, "longitude": p.longitude}


# ---- equality ----

def test_equality_basics() -> None:
    o = obj(name="ann", n=3, f=2.5, flag=True, nothing=None)
    assert m({"name": "ann"}, o)
    assert not m({"name": "bob"}, o)
    assert m({"n": 3.0}, o)  # int and float compare equal
    assert m({"f": 2.5}, o)
    assert m({"flag": True}, o)
    assert not m({"n": True}, obj(n=1))  # booleans are not numbers
    assert not m({"flag": 1}, o)
    assert not m({"name": 3}, o)
    assert m({"name": {"$eq": "ann"}}, o)
    assert m({}, o)


def test_null_matches_missing_and_null() -> None:
    o = obj(nothing=None, x=1)
    assert m({"nothing": None}, o)
    assert m({"absent": None}, o)
    assert not m({"x": None}, o)
    assert m({"x": {"$ne": None}}, o)
    assert not m({"absent": {"$ne": None}}, o)
    assert not m({"nothing": {"$ne": None}}, o)


def test_ne_is_the_negation_of_eq() -> None:
    o = obj(name="ann", tags=["a", "b"])
    assert m({"name": {"$ne": "bob"}}, o)
    assert not m({"name": {"$ne": "ann"}}, o)
    assert m({"absent": {"$ne": "x"}}, o)
    assert not m({"tags": {"$ne": "a"}}, o)  # the array contains it
    assert m({"tags": {"$ne": "c"}}, o)


def test_array_contains_and_whole_array_equality() -> None:
    o = obj(tags=["a", "b", 3], nested=[[1, 2], [3]])
    assert m({"tags": "a"}, o)
    assert m({"tags": 3}, o)
    assert not m({"tags": "c"}, o)
    assert m({"tags": ["a", "b", 3]}, o)
    assert not m({"tags": ["b", "a", 3]}, o)  # order matters for whole-array equality
    assert m({"nested": [1, 2]}, o)  # element equality on an array of arrays
    assert not m({"nested": 1}, o)  # only one level of array expansion


def test_object_equality_is_deep() -> None:
    o = obj(meta={"a": 1, "b": {"c": [1, 2]}})
    assert m({"meta": {"a": 1.0, "b": {"c": [1, 2]}}}, o)
    assert m({"meta": {"b": {"c": [1, 2]}, "a": 1}}, o)
    assert not m({"meta": {"a": 1}}, o)


def test_pointers_compare_by_class_and_id() -> None:
    o = obj(owner=Pointer("_User", "u1"), friends=[Pointer("_User", "u2"), Pointer("_User", "u3")])
    assert m({"owner": ptr("_User", "u1")}, o)
    assert not m({"owner": ptr("_User", "u2")}, o)
    assert not m({"owner": ptr("Other", "u1")}, o)
    assert m({"friends": ptr("_User", "u3")}, o)
    assert m({"owner": {"$in": [ptr("_User", "u9"), ptr("_User", "u1")]}}, o)
    assert m({"friends": {"$all": [ptr("_User", "u2"), ptr("_User", "u3")]}}, o)
    assert m({"owner": {"$ne": ptr("_User", "u2")}}, o)


def test_files_and_bytes_compare_by_content() -> None:
    o = obj(pic=File("a.png", "http://x/a.png"), raw=Bytes(b"\x01\x02"))
    assert m({"pic": {"__type": "File", "name": "a.png"}}, o)
    assert not m({"pic": {"__type": "File", "name": "b.png"}}, o)
    assert m({"raw": {"__type": "Bytes", "base64": "AQI="}}, o)


# ---- ordering comparisons ----

def test_number_and_string_comparisons() -> None:
    o = obj(n=5, s="m")
    assert m({"n": {"$gt": 4}}, o)
    assert m({"n": {"$gte": 5}}, o)
    assert not m({"n": {"$gt": 5}}, o)
    assert m({"n": {"$lt": 5.5}}, o)
    assert m({"n": {"$lte": 5, "$gt": 1}}, o)
    assert m({"s": {"$gt": "a", "$lt": "z"}}, o)
    assert not m({"s": {"$lt": "a"}}, o)


def test_comparisons_stay_within_a_type_bracket() -> None:
    o = obj(n=5, s="5", b=True)
    assert not m({"n": {"$lt": "9"}}, o)
    assert not m({"s": {"$lt": 9}}, o)
    assert not m({"s": {"$gt": 1}}, o)
    assert not m({"n": {"$lt": date("2030-01-01T00:00:00.000Z")}}, o)
    assert not m({"b": {"$gt": 0}}, o)
    assert m({"b": {"$gt": False}}, o)


def test_comparisons_on_missing_and_arrays() -> None:
    o = obj(scores=[1, 10], nothing=None)
    assert not m({"absent": {"$lt": 10}}, o)
    assert not m({"absent": {"$gt": 10}}, o)
    assert m({"scores": {"$gt": 5}}, o)  # any element
    assert m({"scores": {"$lt": 5}}, o)
    assert not m({"scores": {"$gt": 10}}, o)
    assert m({"nothing": {"$lte": None}}, o)
    assert m({"absent": {"$gte": None}}, o)
    assert not m({"nothing": {"$lt": None}}, o)


def test_dates_and_builtin_timestamps() -> None:
    o = obj(created=T0, due=datetime(2024, 6, 1, tzinfo=UTC))
    assert m({"due": date("2024-06-01T00:00:00.000Z")}, o)
    assert m({"due": {"$gt": date("2024-05-31T23:59:59.999Z")}}, o)
    assert not m({"due": {"$gt": date("2024-06-01T00:00:00.000Z")}}, o)
    assert m({"createdAt": {"$lte": date("2024-01-01T00:00:00.000Z")}}, o)
    assert m({"updatedAt": {"$gte": date("2023-12-31T00:00:00.000Z")}}, o)
    assert not m({"createdAt": {"$lt": date("2023-01-01T00:00:00.000Z")}}, o)
    assert not m({"due": {"$gt": "2024"}}, o)


def test_relative_time() -> None:
    recent = obj(created=now() - timedelta(hours=1))
    old = obj(created=now() - timedelta(days=10))
    assert m({"createdAt": {"$gt": {"$relativeTime": "3 days ago"}}}, recent)
    assert not m({"createdAt": {"$gt": {"$relativeTime": "3 days ago"}}}, old)
    assert m({"createdAt": {"$lt": {"$relativeTime": "in 1 hour"}}}, old)
    with pytest.raises(ParseError) as exc:
        parse_where({"createdAt": {"$gt": {"$relativeTime": "3 days"}}})
    assert exc.value.code == ErrorCode.INVALID_JSON


# ---- $in, $nin, $exists ----

def test_in_and_nin() -> None:
    o = obj(n=2, tags=["a", "b"], nothing=None)
    assert m({"n": {"$in": [1, 2]}}, o)
    assert not m({"n": {"$in": [3]}}, o)
    assert not m({"n": {"$in": []}}, o)
    assert m({"tags": {"$in": ["x", "b"]}}, o)  # array contains
    assert m({"absent": {"$in": [None, 1]}}, o)
    assert m({"nothing": {"$in": [None]}}, o)
    assert m({"n": {"$nin": [1, 3]}}, o)
    assert not m({"n": {"$nin": [2]}}, o)
    assert not m({"tags": {"$nin": ["a"]}}, o)
    assert m({"absent": {"$nin": [1]}}, o)
    assert not m({"absent": {"$nin": [None]}}, o)
    assert m({"n": {"$nin": []}}, o)


def test_exists_counts_null_as_present() -> None:
    o = obj(x=1, nothing=None)
    assert m({"x": {"$exists": True}}, o)
    assert m({"nothing": {"$exists": True}}, o)
    assert not m({"absent": {"$exists": True}}, o)
    assert m({"absent": {"$exists": False}}, o)
    assert not m({"nothing": {"$exists": False}}, o)


# ---- arrays ----

def test_all() -> None:
    o = obj(tags=["apple", "banana", "cherry"], n=5)
    assert m({"tags": {"$all": ["apple", "cherry"]}}, o)
    assert not m({"tags": {"$all": ["apple", "kiwi"]}}, o)
    assert not m({"tags": {"$all": []}}, o)
    assert not m({"absent": {"$all": ["apple"]}}, o)
    assert m({"n": {"$all": [5]}}, o)  # a scalar behaves like one-element array


def test_all_with_regex_is_contains_all_starting_with() -> None:
    o = obj(tags=["apple", "banana", "cherry"])
    assert m({"tags": {"$all": [{"$regex": r"^\Qap\E"}, {"$regex": r"^\Qba\E"}]}}, o)
    assert not m({"tags": {"$all": [{"$regex": r"^\Qap\E"}, {"$regex": r"^\Qki\E"}]}}, o)
    assert m({"tags": {"$all": [{"$regex": "^AP", "$options": "i"}]}}, o)


def test_contained_by() -> None:
    values = ["a", "b", "c"]
    assert m({"tags": {"$containedBy": values}}, obj(tags=["a", "c"]))
    assert m({"tags": {"$containedBy": values}}, obj(tags=[]))
    assert not m({"tags": {"$containedBy": values}}, obj(tags=["a", "z"]))
    assert m({"tags": {"$containedBy": values}}, obj())  # missing field
    assert m({"tags": {"$containedBy": values}}, obj(tags="b"))
    assert not m({"tags": {"$containedBy": values}}, obj(tags="z"))
    assert m({"n": {"$containedBy": [1, 2]}}, obj(n=[1.0, 2]))


# ---- paths ----

def test_dotted_keys_into_objects() -> None:
    o = obj(meta={"count": 3, "inner": {"name": "x"}, "nothing": None})
    assert m({"meta.count": 3}, o)
    assert m({"meta.count": {"$gt": 2}}, o)
    assert m({"meta.inner.name": "x"}, o)
    assert m({"meta.absent": None}, o)
    assert m({"meta.nothing": {"$exists": True}}, o)
    assert not m({"meta.absent": {"$exists": True}}, o)
    assert not m({"meta.count.deeper": {"$exists": True}}, o)
    assert m({"missing.deeper": None}, o)


def test_dotted_keys_traverse_arrays_of_objects() -> None:
    o = obj(items=[{"name": "a", "qty": 1}, {"name": "b", "qty": 5}, {"other": 1}], tags=["x", "y"])
    assert m({"items.name": "b"}, o)
    assert not m({"items.name": "c"}, o)
    assert m({"items.qty": {"$gt": 4}}, o)
    assert m({"items.name": {"$exists": True}}, o)
    assert m({"items.name": None}, o)  # the third element lacks the key
    assert m({"tags.0": "x"}, o)  # numeric part indexes
    assert not m({"tags.0": "y"}, o)
    assert m({"items.1.name": "b"}, o)
    assert resolve_path(o, ("items", "name")) == (True, ["a", "b"])


def test_builtin_paths() -> None:
    o = obj("abc", acl=ACL(frozenset({"*", "u1"}), frozenset({"u1"})))
    assert m({"objectId": "abc"}, o)
    assert m({"objectId": {"$in": ["x", "abc"]}}, o)
    assert not m({"objectId": "abd"}, o)
    assert resolve_path(o, ("_rperm",)) == (True, ["*", "u1"])
    assert m({"_rperm": {"$in": [None, "*"]}}, o)
    assert m({"_wperm": "u1"}, o)
    assert not m({"_wperm": {"$in": [None, "*"]}}, o)
    no_acl = obj()
    assert resolve_path(no_acl, ("_rperm",)) == (False, None)
    assert m({"_rperm": {"$in": [None, "*"]}}, no_acl)  # Parse's public-read shortcut
    assert m({"_rperm": {"$exists": False}}, no_acl)


def test_master_queries_read_internal_columns() -> None:
    o = StoredObject("_User", "u1", T0, T0, internal={"_email_verify_token": "tok"})
    assert m({"_email_verify_token": "tok"}, o, master=True)
    assert not m({"_email_verify_token": "other"}, o, master=True)


# ---- regex ----

def test_regex_basics_and_options() -> None:
    o = obj(name="Hello World", lines="first\nsecond", tags=["alpha", "beta"], n=5)
    assert m({"name": {"$regex": "^Hello"}}, o)
    assert not m({"name": {"$regex": "^hello"}}, o)
    assert m({"name": {"$regex": "^hello", "$options": "i"}}, o)
    assert m({"lines": {"$regex": "^second$", "$options": "m"}}, o)
    assert not m({"lines": {"$regex": "^second$"}}, o)
    assert m({"lines": {"$regex": "first.second", "$options": "s"}}, o)
    assert m({"name": {"$regex": "hello\\ world  # a comment", "$options": "ix"}}, o)
    assert m({"tags": {"$regex": "^be"}}, o)  # any element
    assert not m({"n": {"$regex": "5"}}, o)  # strings only
    assert not m({"absent": {"$regex": "."}}, o)


def test_regex_quoted_sections_from_the_js_sdk() -> None:
    o = obj(name="a.b*c (1)")
    assert m({"name": {"$regex": r"^\Qa.b*c\E"}}, o)  # startsWith
    assert m({"name": {"$regex": r"\Q(1)\E$"}}, o)  # endsWith
    assert m({"name": {"$regex": r"\Qb*c\E"}}, o)
    assert not m({"name": {"$regex": r"^\Qb*c\E"}}, o)
    assert not m({"name": {"$regex": r"^\Qa.b\E"}}, obj(name="axb"))  # the dot is literal


def test_regex_catastrophic_backtracking_returns_false_fast() -> None:
    o = obj(name="aaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
    start = time.monotonic()
    assert not m({"name": {"$regex": "^(a+)+$"}}, o)
    # This one really does blow up in a backtracking engine, so it exercises the timeout.
    assert not m({"name": {"$regex": "^(a|a)+$"}}, obj(name="a" * 40 + "!"))
    assert time.monotonic() - start < 1.5


# ---- text ----

def test_text_search_words() -> None:
    o = obj(subject="Coffee shop near the Café Bleu")
    assert m({"subject": {"$text": {"$search": {"$term": "coffee"}}}}, o)
    assert m({"subject": {"$text": {"$search": {"$term": "tea coffee"}}}}, o)  # any word
    assert not m({"subject": {"$text": {"$search": {"$term": "tea"}}}}, o)
    assert not m({"subject": {"$text": {"$search": {"$term": "cof"}}}}, o)  # whole words only
    assert m({"subject": {"$text": {"$search": {"$term": "cafe"}}}}, o)  # diacritics folded
    assert not m({"subject": {"$text": {"$search": {"$term": "cafe", "$diacriticSensitive": True}}}}, o)
    assert m({"subject": {"$text": {"$search": {"$term": "café", "$diacriticSensitive": True}}}}, o)
    assert not m({"subject": {"$text": {"$search": {"$term": "coffee", "$caseSensitive": True}}}}, o)
    assert m({"subject": {"$text": {"$search": {"$term": "Coffee", "$caseSensitive": True}}}}, o)


def test_text_search_phrases_and_negations() -> None:
    o = obj(subject="Coffee shop near the Café Bleu")
    assert m({"subject": {"$text": {"$search": {"$term": '"coffee shop"'}}}}, o)
    assert not m({"subject": {"$text": {"$search": {"$term": '"shop coffee"'}}}}, o)
    assert m({"subject": {"$text": {"$search": {"$term": '"coffee shop" tea'}}}}, o)  # the phrase decides
    assert not m({"subject": {"$text": {"$search": {"$term": "coffee -bleu"}}}}, o)
    assert m({"subject": {"$text": {"$search": {"$term": "coffee -tea"}}}}, o)
    assert not m({"subject": {"$text": {"$search": {"$term": "-tea"}}}}, o)  # negations alone match nothing
    assert not m({"subject": {"$text": {"$search": {"$term": "coffee"}}}}, obj(subject=5))


# ---- geo ----

def test_distance_radians() -> None:
    assert distance_radians(SF, SF) == 0
    km = distance_radians(SF, LA) * EARTH_RADIUS_KM
    assert 550 < km < 570
    assert distance_radians(GeoPoint(0, 0), GeoPoint(0, 180)) == pytest.approx(3.141592653589793)


@pytest.mark.parametrize(
    ("unit", "near", "far"),
    [
        ("$maxDistance", 0.01, 0.001),  # radians; SF–Oakland is ~0.002
        ("$maxDistanceInRadians", 0.01, 0.001),
        ("$maxDistanceInKilometers", 20, 5),
        ("$maxDistanceInMiles", 10, 3),
    ],
)
def test_near_sphere_with_each_unit(unit: str, near: float, far: float) -> None:
    oakland, la = obj(loc=OAKLAND), obj(loc=LA)
    assert m({"loc": {"$nearSphere": gp(SF), unit: near}}, oakland)
    assert not m({"loc": {"$nearSphere": gp(SF), unit: near}}, la)
    assert not m({"loc": {"$nearSphere": gp(SF), unit: far}}, oakland)


def test_near_sphere_without_limit_and_non_points() -> None:
    assert m({"loc": {"$nearSphere": gp(SF)}}, obj(loc=LA))
    assert m({"loc": {"$nearSphere": gp(SF), "$maxDistanceInMiles": 400}}, obj(loc=LA))
    assert not m({"loc": {"$nearSphere": gp(SF)}}, obj(loc="here"))
    assert not m({"loc": {"$nearSphere": gp(SF)}}, obj())


def test_within_box() -> None:
    box = {"$within": {"$box": [gp(GeoPoint(37, -123)), gp(GeoPoint(38, -122))]}}
    assert m({"loc": box}, obj(loc=SF))
    assert m({"loc": box}, obj(loc=OAKLAND))
    assert not m({"loc": box}, obj(loc=LA))
    assert m({"loc": box}, obj(loc=GeoPoint(37, -122)))  # corner counts
    # Any two opposite corners, as MongoDB's $box reads them (Parse passes the corners through).
    swapped = {"$within": {"$box": [gp(GeoPoint(38, -123)), gp(GeoPoint(37, -122))]}}
    assert m({"loc": swapped}, obj(loc=SF)) and not m({"loc": swapped}, obj(loc=LA))


def test_within_polygon() -> None:
    square = [gp(GeoPoint(0, 0)), gp(GeoPoint(0, 10)), gp(GeoPoint(10, 10)), gp(GeoPoint(10, 0))]
    where = {"loc": {"$geoWithin": {"$polygon": square}}}
    assert m(where, obj(loc=GeoPoint(5, 5)))
    assert m(where, obj(loc=GeoPoint(0, 5)))  # edge
    assert m(where, obj(loc=GeoPoint(10, 10)))  # vertex
    assert not m(where, obj(loc=GeoPoint(11, 5)))
    assert not m(where, obj(loc=GeoPoint(5, -0.1)))
    # A concave "L": the notch is outside.
    ell = {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [5, 10], [5, 5], [10, 5], [10, 0]]}
    where = {"loc": {"$geoWithin": {"$polygon": ell}}}
    assert m(where, obj(loc=GeoPoint(2, 8)))
    assert m(where, obj(loc=GeoPoint(8, 2)))
    assert not m(where, obj(loc=GeoPoint(8, 8)))


def test_within_center_sphere() -> None:
    radius = 20 / EARTH_RADIUS_KM
    assert m({"loc": {"$geoWithin": {"$centerSphere": [gp(SF), radius]}}}, obj(loc=OAKLAND))
    assert not m({"loc": {"$geoWithin": {"$centerSphere": [gp(SF), radius]}}}, obj(loc=LA))
    # The [lng, lat] array form.
    center = [SF.longitude, SF.latitude]
    assert m({"loc": {"$geoWithin": {"$centerSphere": [center, radius]}}}, obj(loc=OAKLAND))


def test_geo_intersects() -> None:
    area = Polygon(((0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)))
    o = obj(area=area)
    assert m({"area": {"$geoIntersects": {"$point": gp(GeoPoint(5, 5))}}}, o)
    assert m({"area": {"$geoIntersects": {"$point": gp(GeoPoint(0, 3))}}}, o)
    assert not m({"area": {"$geoIntersects": {"$point": gp(GeoPoint(20, 20))}}}, o)
    assert not m({"area": {"$geoIntersects": {"$point": gp(GeoPoint(5, 5))}}}, obj(area=GeoPoint(5, 5)))


def test_near_node_finds_the_first_near() -> None:
    where = parse_where({"a": 1, "$or": [{"b": 2}, {"loc": {"$nearSphere": gp(SF)}}]})
    found = near_node(where)
    assert isinstance(found, Near) and found.point == SF
    assert near_node(parse_where({"a": 1})) is None


# ---- logic ----

def test_and_or_nor() -> None:
    o = obj(a=1, b=2)
    assert m({"a": 1, "b": 2}, o)
    assert not m({"a": 1, "b": 3}, o)
    assert m({"$or": [{"a": 9}, {"b": 2}]}, o)
    assert not m({"$or": [{"a": 9}, {"b": 9}]}, o)
    assert m({"$and": [{"a": 1}, {"b": {"$gt": 1}}]}, o)
    assert m({"$nor": [{"a": 9}, {"b": 9}]}, o)
    assert not m({"$nor": [{"a": 1}, {"b": 9}]}, o)
    assert not matches(MatchNone(), o)


def test_subquery_nodes_are_refused() -> None:
    o = obj()
    for node in (RelatedTo(Pointer("A", "x"), "rel"), InQuery(("p",), "A", parse_where({}))):
        with pytest.raises(ParseError) as exc:
            matches(node, o)
        assert exc.value.code == ErrorCode.INVALID_QUERY


# ---- sorting ----

def test_sort_mixed_types_follows_mongo_brackets() -> None:
    values = [
        ("date", T0), ("bool", True), ("bytes", Bytes(b"x")), ("list", [1]), ("dict", {"a": 1}),
        ("str", "abc"), ("num", 2), ("float", 1.5), ("null", None),
        ("pointer", Pointer("A", "x")), ("geo", GeoPoint(1, 2)),
    ]
    objs = [obj(name, v=value) for name, value in values] + [obj("missing")]
    ordered = [o.object_id for o in sort_objects(objs, (SortKey(("v",)),))]
    assert ordered[:2] == ["null", "missing"]  # stable within the null bracket
    # Pointers and GeoPoints sort as their {"__type": ...} objects, so before {"a": 1}.
    assert ordered[2:] == ["float", "num", "str", "geo", "pointer", "dict", "list", "bytes", "bool", "date"]
    descending = [o.object_id for o in sort_objects(objs, (SortKey(("v",), descending=True),))]
    assert descending[0] == "date" and descending[-2:] == ["null", "missing"]


def test_sort_multi_key_and_stable() -> None:
    objs = [obj("a", g=1, n=3), obj("b", g=2, n=1), obj("c", g=1, n=1), obj("d", g=2, n=1), obj("e", g=1, n=3)]
    got = sort_objects(objs, (SortKey(("g",)), SortKey(("n",), descending=True)))
    assert [o.object_id for o in got] == ["a", "e", "c", "b", "d"]
    got = sort_objects(objs, (SortKey(("n",)),))
    assert [o.object_id for o in got] == ["b", "c", "d", "a", "e"]
    by_date = sort_objects([obj("x", created=T0 + timedelta(days=1)), obj("y")], (SortKey(("createdAt",)),))
    assert [o.object_id for o in by_date] == ["y", "x"]


def test_sort_never_raises_on_odd_values() -> None:
    objs = [obj("a", v=float("nan")), obj("b", v=-1), obj("c", v=datetime(2024, 1, 1)), obj("d", v=T0)]
    got = [o.object_id for o in sort_objects(objs, (SortKey(("v",)),))]
    assert got[:2] == ["a", "b"]


# ---- the parser's refusals ----

@pytest.mark.parametrize(
    ("where", "code"),
    [
        ({"a": {"$foo": 1}}, ErrorCode.INVALID_QUERY),
        ({"a": {"$in": 5}}, ErrorCode.INVALID_JSON),
        ({"a": {"$nin": "x"}}, ErrorCode.INVALID_JSON),
        ({"$where": "this.a == 1"}, ErrorCode.INVALID_KEY_NAME),
        ({"ACL": {"*": {"read": True}}}, ErrorCode.INVALID_QUERY),
        ({"a": {"$regex": "x", "$options": "z"}}, ErrorCode.INVALID_QUERY),
        ({"a": {"$regex": "x" * 1025}}, ErrorCode.INVALID_QUERY),
        ({"a": {"$regex": "("}}, ErrorCode.INVALID_QUERY),
        ({"a": {"$exists": "yes"}}, ErrorCode.INVALID_JSON),
        ({"$or": []}, ErrorCode.INVALID_QUERY),
        ({"_hashed_password": "x"}, ErrorCode.INVALID_KEY_NAME),
    ],
)
def test_parser_refusals(where: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(ParseError) as exc:
        parse_where(where)
    assert exc.value.code == code
