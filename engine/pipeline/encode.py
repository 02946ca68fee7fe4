"""StoredObject → Parse JSON as clients see it (top-level dates as ISO strings, relations from the schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.schema.model import ClassDef, FieldType
from engine.storage.base import StoredObject
from engine.storage.encoded import EncodedObject
from engine.wire import encode, format_date

Json = dict[str, Any]


def object_to_json(cls: ClassDef, obj: StoredObject, file_url: Callable[[str], str] | None = None) -> Json:
    out: Json = {
        "objectId": obj.object_id,
        "createdAt": format_date(obj.created_at),
        "updatedAt": format_date(obj.updated_at),
    }
    if obj.acl is not None:
        out["ACL"] = obj.acl.to_json()
    for key, value in obj.fields.items():
        out[key] = encode(value, file_url)
    for key, fdef in cls.fields.items():
        if fdef.type is FieldType.RELATION:
            out[key] = {"__type": "Relation", "className": fdef.target_class}
    if cls.name == "_User":
        # Parse keeps each provider in `_auth_data_<provider>`; clients see them gathered as `authData`
        # (engine.security.redact removes it for anyone but the user and the master key).
        auth_data = {k.removeprefix("_auth_data_"): encode(v) for k, v in obj.internal.items()
                     if k.startswith("_auth_data_") and v is not None}
        if auth_data:
            out["authData"] = auth_data
        out.pop("password", None)
    return out


def relation_fields(cls: ClassDef) -> list[tuple[str, str | None]]:
    """The class's Relation fields and their targets: asked once per read, not once per object served."""
    return [(key, fdef.target_class) for key, fdef in cls.fields.items() if fdef.type is FieldType.RELATION]


def encoded_to_json(cls: ClassDef, obj: EncodedObject, file_url: Callable[[str], str] | None = None,
                    relations: list[tuple[str, str | None]] | None = None) -> Json:
    """What object_to_json gives for the same object, built from the JSON the store holds: only Files (urls),
    relations (from the schema, or ``relations`` = relation_fields(cls)) and `_User`'s secrets and authData
    differ from the stored form."""
    out = obj.json
    if obj.has_files:
        for key, value in out.items():
            out[key] = _with_urls(value, file_url)
    for key, target in relation_fields(cls) if relations is None else relations:
        out[key] = {"__type": "Relation", "className": target}
    if cls.name == "_User":
        auth_data = {k.removeprefix("_auth_data_"): v for k, v in obj.internal.items()
                     if k.startswith("_auth_data_") and v is not None}
        if auth_data:
            out["authData"] = auth_data
        out.pop("password", None)
    return out


def _with_urls(value: Any, file_url: Callable[[str], str] | None) -> Any:
    """Stored Parse JSON with every File as encode() serves it (name, then the url when there is one)."""
    if isinstance(value, list):
        return [_with_urls(v, file_url) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("__type") == "File" and "name" in value:
        name = str(value["name"])
        stored = value.get("url")
        url = file_url(name) if file_url is not None else (stored if isinstance(stored, str) else None)
        out: Json = {"__type": "File", "name": name}
        if url:
            out["url"] = url
        return out
    return {k: _with_urls(v, file_url) for k, v in value.items()}
