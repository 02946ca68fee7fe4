"""Geo constraints on Parse's native ``point`` (x = longitude) and ``polygon`` columns, as SQL.

Distances are the haversine formula match.py uses (geo.distance_radians), written in plain SQL: the same numbers
on every store, with or without PostGIS, so `$maxDistance` and `$centerSphere` keep MongoDB's boundary.
Boxes and polygons use PostgreSQL's geometric operators (`<@`, `@>`), which count the boundary as inside, as
match.py does (PostgreSQL compares with a 1e-6 tolerance, i.e. about 0.1 m).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asyncpg.types import Box as PgBox, Point as PgPoint, Polygon as PgPolygon

from engine.wire import GeoPoint

Bind = Callable[[object, str], str]


def distance(ref: str, point: GeoPoint, bind: Bind) -> str:
    """Great-circle distance in radians between the point column and ``point``."""
    lat = f"radians({bind(point.latitude, 'float8')})"
    lng = f"radians({bind(point.longitude, 'float8')})"
    row_lat, row_lng = f"radians(({ref})[1])", f"radians(({ref})[0])"
    h = (f"power(sin(({lat} - {row_lat}) / 2), 2) + "
         f"cos({row_lat}) * cos({lat}) * power(sin(({lng} - {row_lng}) / 2), 2)")
    # Clamped (rounding can push it a hair past 1 for antipodal points) with CASE, not least/greatest, which
    # would turn a row without the point (NULL) into a distance.
    return f"(2 * asin(sqrt(CASE WHEN {h} > 1.0 THEN 1.0 WHEN {h} < 0.0 THEN 0.0 ELSE {h} END)))"


def within_distance(ref: str, point: GeoPoint, radians: float, bind: Bind) -> str:
    return f"{distance(ref, point, bind)} <= {bind(radians, 'float8')}"


def within_box(ref: str, southwest: GeoPoint, northeast: GeoPoint, bind: Bind) -> str:
    box = PgBox(PgPoint(northeast.longitude, northeast.latitude), PgPoint(southwest.longitude, southwest.latitude))
    return f"{ref} <@ {bind(box, 'box')}"


def within_polygon(ref: str, points: Sequence[GeoPoint], bind: Bind) -> str:
    polygon = PgPolygon(*[PgPoint(p.longitude, p.latitude) for p in points])
    return f"{bind(polygon, 'polygon')} @> {ref}"


def intersects(ref: str, point: GeoPoint, bind: Bind) -> str:
    return f"{ref} @> {bind(PgPoint(point.longitude, point.latitude), 'point')}"
