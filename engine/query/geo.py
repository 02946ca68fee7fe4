"""Plane and sphere geometry for geo queries: haversine distance, boxes and point-in-polygon tests."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from engine.wire import GeoPoint, Polygon, Value


def distance_radians(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance on the unit sphere (haversine), i.e. in radians."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlng = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    # Rounding can push h a hair past 1 for antipodal points, and asin would then raise.
    return 2.0 * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def in_box(point: GeoPoint, southwest: GeoPoint, northeast: GeoPoint) -> bool:
    return (
        southwest.latitude <= point.latitude <= northeast.latitude
        and southwest.longitude <= point.longitude <= northeast.longitude
    )


def _on_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if abs(cross) > 1e-12:
        return False
    return min(ax, bx) - 1e-12 <= px <= max(ax, bx) + 1e-12 and min(ay, by) - 1e-12 <= py <= max(ay, by) + 1e-12


def in_polygon(point: tuple[float, float], vertices: Sequence[tuple[float, float]]) -> bool:
    """Ray casting on the flat (lat, lng) plane, as Mongo's legacy $polygon does; edges count as inside."""
    if len(vertices) < 3:
        return False
    px, py = point
    inside = False
    n = len(vertices)
    for i in range(n):
        ax, ay = vertices[i]
        bx, by = vertices[(i + 1) % n]
        if _on_segment(px, py, ax, ay, bx, by):
            return True
        if (ay > py) != (by > py):
            x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
            if px < x_cross:
                inside = not inside
    return inside


# The operators below take the field's values with arrays already flattened; non-geo values never match.

def near(values: Iterable[Value], point: GeoPoint, max_distance: float | None) -> bool:
    for v in values:
        if isinstance(v, GeoPoint) and (max_distance is None or distance_radians(v, point) <= max_distance):
            return True
    return False


def within_box(values: Iterable[Value], southwest: GeoPoint, northeast: GeoPoint) -> bool:
    return any(isinstance(v, GeoPoint) and in_box(v, southwest, northeast) for v in values)


def within_polygon(values: Iterable[Value], polygon: Sequence[GeoPoint]) -> bool:
    vertices = [(p.latitude, p.longitude) for p in polygon]
    return any(isinstance(v, GeoPoint) and in_polygon((v.latitude, v.longitude), vertices) for v in values)


def within_sphere(values: Iterable[Value], center: GeoPoint, radius: float) -> bool:
    return any(isinstance(v, GeoPoint) and distance_radians(v, center) <= radius for v in values)


def intersects(values: Iterable[Value], point: GeoPoint) -> bool:
    """A Polygon value (``(lat, lng)`` vertices) that contains the point, edges included."""
    target = (point.latitude, point.longitude)
    return any(isinstance(v, Polygon) and in_polygon(target, v.coordinates) for v in values)
