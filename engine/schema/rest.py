"""ClassDef ⇄ Parse's REST schema JSON (`/schemas` and the schema file), with Parse's checks and codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.schema.clp_shape import validate_clp
from engine.schema.limits import MAX_CLASS_FIELDS, check_value, shown
from engine.schema.model import (
    RESERVED_FIELD_NAMES,
    ClassDef,
    FieldDef,
    FieldType,
    default_fields,
    is_valid_class_name,
    is_valid_field_name,
    public_clp,
    value_type,
)
from engine.wire import check_denylist, decode, encode

__all__ = ["class_from_json", "class_to_json", "class_to_rest_json", "field_from_json", "field_to_json", "validate_clp",
           "validate_index"]
_TYPES = {t.value: t for t in FieldType}


def invalid_class_name_message(name: str) -> str:
    return (f"Invalid classname: {shown(name)}, classnames can only have alphanumeric characters and _, "
            "and must start with an alpha character ")


def field_from_json(class_name: str, name: str, spec: object, *, strict: bool = True) -> FieldDef:
    if not isinstance(name, str) or not is_valid_field_name(name):
        raise ParseError(ErrorCode.INVALID_KEY_NAME, f"invalid field name: {shown(name)}")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ParseError(ErrorCode.INVALID_JSON, f"invalid field type for {class_name}.{name}")
    kind = _TYPES.get(spec["type"])
    if kind is None or (kind is FieldType.ACL and name != "ACL"):
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"invalid field type: {shown(spec['type'])}")
    target = spec.get("targetClass")
    if kind in (FieldType.POINTER, FieldType.RELATION):
        if not target or not isinstance(target, str):
            # Parse answers 135 for a missing one; this engine has always answered 103, which tests pin.
            raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"type {kind} needs a class name")
        if not is_valid_class_name(target):
            raise ParseError(ErrorCode.INVALID_CLASS_NAME, invalid_class_name_message(target))
    else:
        target = None
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"required of {class_name}.{name} must be a boolean")
    fdef = FieldDef(kind, target, required)
    if not strict:
        return FieldDef(kind, target, required, decode(spec["defaultValue"]) if "defaultValue" in spec else None)
    if "defaultValue" in spec and spec["defaultValue"] is not None:
        return FieldDef(kind, target, required, _default_value(class_name, name, fdef, spec["defaultValue"]))
    if required and kind is FieldType.RELATION:
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"The 'required' option is not applicable for {fdef.type_label()}")
    return fdef


def _default_value(class_name: str, name: str, fdef: FieldDef, raw: object) -> object:
    """Parse's rule: a default value must have exactly the field's type (and a pointer its target class)."""
    if fdef.type is FieldType.RELATION:
        raise ParseError(ErrorCode.INCORRECT_TYPE,
                         f"The 'default value' option is not applicable for {fdef.type_label()}")
    check_value(raw, f"{class_name}.{name} default value")
    value = decode(raw)
    found = value_type(value)
    if found is None or found.type is not fdef.type or found.target_class != fdef.target_class:
        raise ParseError(
            ErrorCode.INCORRECT_TYPE,
            f"schema mismatch for {class_name}.{name} default value; "
            f"expected {fdef.type_label()} but got {found.type_label() if found else 'null'}",
        )
    return value


def field_to_json(fdef: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {"type": fdef.type.value}
    if fdef.target_class:
        out["targetClass"] = fdef.target_class
    if fdef.required:
        out["required"] = True
    if fdef.default is not None:
        out["defaultValue"] = encode(fdef.default)
    return out


def validate_index(cls_fields: Mapping[str, FieldDef], name: str, spec: object) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not spec:
        raise ParseError(ErrorCode.INVALID_QUERY, f"invalid index {shown(name)}")
    for key, direction in spec.items():
        if key == "unique" and isinstance(direction, bool):
            continue
        if key not in cls_fields and key != "_id":
            raise ParseError(ErrorCode.INVALID_QUERY, f"Field {shown(key)} does not exist, cannot add index.")
        if direction not in (1, -1, "text", "2d", "2dsphere"):
            raise ParseError(ErrorCode.INVALID_QUERY, f"invalid index direction for {shown(name)}.{shown(key)}")
    return dict(spec)


def class_from_json(data: Mapping[str, Any], class_name: str | None = None, *, strict: bool = False) -> ClassDef:
    """A class in Parse's JSON; builtin columns are merged in.

    ``strict`` (POST/PUT /schemas, the schema file) adds Parse's checks of default values and of the CLP's
    shape. Without it (a class read back from storage or a peer process) those are trusted as stored: a schema
    saved before a check existed must still load, or the server would not start."""
    check_denylist(data)
    name = data.get("className", class_name)
    if class_name is not None and name != class_name:
        raise ParseError(ErrorCode.INVALID_CLASS_NAME,
                         f"Class name mismatch between {shown(name)} and {shown(class_name)}.")
    if not isinstance(name, str) or not name:
        raise ParseError(ErrorCode.MISSING_REQUIRED_FIELD, "POST /schemas needs a class name.")
    if not is_valid_class_name(name):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, invalid_class_name_message(name))
    raw_fields = data.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise ParseError(ErrorCode.INVALID_JSON, "fields must be an object")
    if len(raw_fields) > MAX_CLASS_FIELDS:
        raise ParseError(ErrorCode.INVALID_SCHEMA_OPERATION, f"{name} cannot have more than {MAX_CLASS_FIELDS} fields")
    fields = default_fields(name)
    for fname, spec in raw_fields.items():
        fdef = field_from_json(name, fname, spec, strict=strict)
        if fname in fields:
            # The template lists objectId/createdAt/updatedAt itself; accept them when the type agrees.
            if fields[fname].type != fdef.type or fields[fname].target_class != fdef.target_class:
                raise ParseError(ErrorCode.CHANGED_IMMUTABLE_FIELD, f"field {fname} cannot be changed")
            continue
        if fname in RESERVED_FIELD_NAMES:
            raise ParseError(ErrorCode.CHANGED_IMMUTABLE_FIELD, f"field {fname} cannot be changed")
        fields[fname] = fdef
    geo = [f for f, d in fields.items() if d.type is FieldType.GEOPOINT]
    if len(geo) > 1:
        raise ParseError(
            ErrorCode.INCORRECT_TYPE,
            f"currently, only one GeoPoint field may exist in an object. Adding {geo[1]} when {geo[0]} already exists.",
        )
    raw_clp = data.get("classLevelPermissions")
    if raw_clp is None:
        clp = public_clp()
    elif strict:
        clp = validate_clp(raw_clp, fields)
    elif isinstance(raw_clp, Mapping):
        clp = dict(raw_clp)
    else:
        raise ParseError(ErrorCode.INVALID_JSON, "classLevelPermissions must be an object")
    indexes: dict[str, Any] = {"_id_": {"_id": 1}}
    raw_indexes = data.get("indexes") or {}
    if not isinstance(raw_indexes, Mapping):
        raise ParseError(ErrorCode.INVALID_QUERY, "indexes must be an object")
    for iname, spec in raw_indexes.items():
        indexes[iname] = validate_index(fields, iname, spec)
    return ClassDef(name).with_fields(fields).with_clp(clp).with_indexes(indexes)


def class_to_json(cls: ClassDef) -> dict[str, Any]:
    return {
        "className": cls.name,
        "fields": {name: field_to_json(f) for name, f in cls.fields.items()},
        "classLevelPermissions": dict(cls.clp),
        "indexes": {name: dict(spec) for name, spec in cls.indexes.items()},
    }


def class_to_rest_json(cls: ClassDef, *, id_index: str = "when-others") -> dict[str, Any]:
    """The class as Parse's `/schemas` answers it (``class_to_json`` is the stored form).

    Every store keeps the primary-key index ``_id_``, but Parse lists ``indexes`` only once the class has been given
    some: a class without its own indexes has no ``indexes`` key. ``id_index`` says how ``_id_`` shows:
    "when-others" (GET, the listing) with the class's own indexes; "always" (a PUT that touched indexes: Parse
    seeds ``_id_`` then and keeps it even when the last index is deleted); "never" (POST: the create answer lists
    only the indexes given)."""
    out = class_to_json(cls)
    indexes: dict[str, Any] = out.pop("indexes")
    own = {name: spec for name, spec in indexes.items() if name != "_id_"}
    if id_index == "always" or (id_index == "when-others" and own):
        out["indexes"] = indexes
    elif id_index == "never" and own:
        out["indexes"] = own
    return out
