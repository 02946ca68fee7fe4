"""Render aggregate output the way Parse Server's MongoDB adapter answers it (`_id` → `objectId`, pointers, dates)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from engine.query.aggregate_pipeline import normalize_pipeline
from engine.wire import encode, format_date


def to_parse_results(docs: list[dict[str, Any]], pipeline: object = None, *, pointer_fields: Collection[str] = (),
                     file_url: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Render pipeline output as Parse Server's MongoDB adapter does.

    ``_id`` becomes ``objectId`` (null, empty strings and empty objects/arrays as null); when a ``$group`` keys on
    a pointer (``"$_p_x"``, or ``"$x"`` with x in ``pointer_fields``) the key is cut to the objectId after ``$``.
    Top-level ``createdAt``/``updatedAt`` dates become ISO strings, ``_p_x`` becomes pointer ``x``, and every other
    value is Parse-encoded (dates as ``{"__type": "Date"}``; ``file_url(name)`` gives File urls), nested too.
    """
    stages = normalize_pipeline(pipeline) if pipeline is not None else []
    by_pointer = any(_groups_by_pointer(stage, pointer_fields) for stage in stages)
    return [_render(doc, by_pointer, pointer_fields, file_url) for doc in docs]


def _groups_by_pointer(stage: Mapping[str, Any], pointer_fields: Collection[str]) -> bool:
    group = stage.get("$group")
    key = group.get("_id") if isinstance(group, Mapping) else None
    return isinstance(key, str) and ("$_p_" in key or (key.startswith("$") and key[1:] in pointer_fields))


def _render_object_id(value: Any, by_pointer: bool, file_url: Callable[[str], str] | None) -> Any:
    if by_pointer and isinstance(value, str) and value:
        parts = value.split("$")
        value = parts[1] if len(parts) > 1 else None
    if value is None or (isinstance(value, str | Mapping | list) and not value):
        return None
    return encode(value, file_url)


def _pointer_json(value: str) -> dict[str, str]:
    class_name, _, object_id = value.partition("$")
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def _render(doc: Mapping[str, Any], by_pointer: bool, pointer_fields: Collection[str],
            file_url: Callable[[str], str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "_id":
            out["objectId"] = _render_object_id(value, by_pointer, file_url)
        elif key == "objectId" and "_id" in doc:
            continue  # Parse's rename overwrites it with the group key
        elif key.startswith("_p_"):
            if isinstance(value, str) and "$" in value:
                out[key[3:]] = _pointer_json(value)
            # Parse drops a null or malformed pointer column
        elif f"_p_{key}" in doc:
            continue  # the _p_ column renders this pointer
        elif key in ("createdAt", "updatedAt") and isinstance(value, datetime):
            out[key] = format_date(value)
        elif key in pointer_fields and isinstance(value, str) and "$" in value:
            out[key] = _pointer_json(value)
        else:
            out[key] = encode(value, file_url)
    return out
