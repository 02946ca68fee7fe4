"""Read and validate a schema file (the template's format or Parse's /schemas format) into ClassDefs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from engine.errors import ParseError
from engine.schema.model import ClassDef
from engine.schema.rest import class_from_json

_FIELD = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["String", "Number", "Boolean", "Date", "Object", "Array", "GeoPoint", "File", "Bytes",
                          "Polygon", "Pointer", "Relation", "ACL"]},
        "required": {"type": "boolean"},
        "targetClass": {"type": "string", "minLength": 1},
        "defaultValue": {},
    },
    "allOf": [{"if": {"properties": {"type": {"enum": ["Pointer", "Relation"]}}},
               "then": {"required": ["targetClass"]}}],
}
_CLASS = {
    "type": "object",
    "required": ["className"],
    "properties": {
        "className": {"type": "string", "pattern": "^(_?[A-Za-z][A-Za-z0-9_]*)$"},
        "fields": {"type": "object", "additionalProperties": _FIELD},
        "classLevelPermissions": {"type": ["object", "null"]},
        "indexes": {"type": ["object", "null"], "additionalProperties": {"type": "object"}},
    },
}
# One file may hold {"classes": [...]} (the template), {"results": [...]} (GET /schemas) or a bare list.
SCHEMA_FILE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "required": ["classes"], "properties": {"classes": {"type": "array", "items": _CLASS}}},
        {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": _CLASS}}},
        {"type": "array", "items": _CLASS},
    ]
}


class SchemaFileError(Exception):
    """The schema file is unusable; ``problems`` lists each issue with its JSON path."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def _json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _entries(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    return list(data.get("classes") or data.get("results") or [])


def _problems(data: Any) -> list[str]:
    """Every jsonschema violation with its JSON path (oneOf hides the detail, so check the chosen branch)."""
    if isinstance(data, Mapping) and "classes" in data:
        schema: Any = SCHEMA_FILE_SCHEMA["oneOf"][0]
    elif isinstance(data, Mapping) and "results" in data:
        schema = SCHEMA_FILE_SCHEMA["oneOf"][1]
    elif isinstance(data, list):
        schema = SCHEMA_FILE_SCHEMA["oneOf"][2]
    else:
        return ['$: expected {"classes": [...]}, {"results": [...]} or a list of classes']
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def parse_schema_document(data: Any, source: str = "<schema>") -> list[ClassDef]:
    problems = _problems(data)
    if problems:
        raise SchemaFileError(source, problems)
    classes: list[ClassDef] = []
    seen: set[str] = set()
    for i, entry in enumerate(_entries(data)):
        key = "classes" if isinstance(data, Mapping) and "classes" in data else "results"
        where = f"$[{i}]" if isinstance(data, list) else f"$.{key}[{i}]"
        name = entry["className"]
        if name in seen:
            problems.append(f"{where}.className: class {name} is declared twice")
        seen.add(name)
        try:
            classes.append(class_from_json(entry, strict=True))
        except ParseError as exc:
            problems.append(f"{where}: {exc.message}")
    if problems:
        raise SchemaFileError(source, problems)
    return classes


def load_schema_file(path: str | Path) -> list[ClassDef]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaFileError(source, [f"$: cannot read file ({exc.strerror})"]) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(source, [f"$: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from exc
    return parse_schema_document(data, source)
