"""Parse's custom scalars (Date, Object, Any, Bytes, File, Upload): REST wire JSON in, GraphQL values out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, ValueNode, value_from_ast_untyped
from graphql.language import ObjectValueNode, StringValueNode

from engine.graphql.uploads import UploadedFile


def _iso(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def serialize_date(value: Any) -> str:
    if isinstance(value, dict) and value.get("__type") == "Date":
        return str(value.get("iso"))
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, str):
        return value
    raise GraphQLError("Date cannot represent value")


def parse_date(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise GraphQLError("Date must be an ISO-8601 string") from exc
        return {"__type": "Date", "iso": value}
    if isinstance(value, dict) and value.get("__type") == "Date" and isinstance(value.get("iso"), str):
        return parse_date(value["iso"])
    raise GraphQLError("Date must be an ISO-8601 string or {__type: Date, iso}")


def _literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _date_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, StringValueNode | ObjectValueNode):
        return parse_date(_literal(node, variables))
    raise GraphQLError("Date must be an ISO-8601 string")


def _json_only(value: Any) -> Any:
    """An uploaded file is only an Upload: placed (or spliced by a variable) inside JSON it would reach storage."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, UploadedFile):
            raise GraphQLError("Upload value invalid.")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def _object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise GraphQLError("Object must be a JSON object")
    return _json_only(value)


def _bytes_out(value: Any) -> str:
    if isinstance(value, dict) and value.get("__type") == "Bytes":
        return str(value.get("base64"))
    if isinstance(value, str):
        return value
    raise GraphQLError("Bytes cannot represent value")


def _bytes_in(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"__type": "Bytes", "base64": value}
    if isinstance(value, dict) and value.get("__type") == "Bytes" and isinstance(value.get("base64"), str):
        return value
    raise GraphQLError("Bytes must be a base64 string")


def _file_in(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and value.get("__type") == "File" and isinstance(value.get("name"), str):
        _json_only(value)
        return value
    if isinstance(value, str):
        return {"__type": "File", "name": value}
    raise GraphQLError("File must be {__type: File, name, url}")


def _upload(value: Any) -> Any:
    # Only a file part placed by the multipart request (uploads.py) is an Upload; JSON cannot forge one.
    if isinstance(value, UploadedFile):
        return value
    raise GraphQLError("Upload value invalid.")


def _same(value: Any) -> Any:
    return value


def _untyped_literal(fn: Any) -> Any:
    def parse(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
        return fn(_literal(node, variables))
    return parse


SCALARS: dict[str, GraphQLScalarType] = {
    "Date": GraphQLScalarType("Date", serialize=serialize_date, parse_value=parse_date, parse_literal=_date_literal),
    "Object": GraphQLScalarType("Object", serialize=_same, parse_value=_object,
                                parse_literal=_untyped_literal(_object)),
    "Any": GraphQLScalarType("Any", serialize=_same, parse_value=_json_only,
                             parse_literal=_untyped_literal(_json_only)),
    "Bytes": GraphQLScalarType("Bytes", serialize=_bytes_out, parse_value=_bytes_in,
                               parse_literal=_untyped_literal(_bytes_in)),
    "File": GraphQLScalarType("File", serialize=_same, parse_value=_file_in, parse_literal=_untyped_literal(_file_in)),
    "Upload": GraphQLScalarType("Upload", serialize=_same, parse_value=_upload,
                                parse_literal=_untyped_literal(_upload)),
}


def install_scalars(type_map: dict[str, Any]) -> None:
    """build_schema makes opaque scalars; give them Parse's coercions."""
    for name, impl in SCALARS.items():
        target = type_map.get(name)
        if isinstance(target, GraphQLScalarType):
            for attr in ("serialize", "parse_value", "parse_literal", "coerce_output_value", "coerce_input_value",
                         "coerce_input_literal", "value_to_literal"):
                setattr(target, attr, getattr(impl, attr))
