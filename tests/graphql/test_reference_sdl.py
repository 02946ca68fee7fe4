"""Our generated SDL for the reference's classes against Parse Server 9.10's (shared/reference/graphql)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from engine.graphql.schema import build
from engine.schema.model import FieldDef, FieldType, new_class

# A copy of shared/reference/graphql/parse-9.10-schema.graphql (printed from a live Parse Server 9.10).
REFERENCE = Path(__file__).resolve().parent / "parse-9.10-schema.graphql"
S, N, D, P, R = FieldType.STRING, FieldType.NUMBER, FieldType.DATE, FieldType.POINTER, FieldType.RELATION

# Differences we keep (each listed in README's compatibility table); anything else is a regression.
KNOWN_MISSING_TYPES = {
    # MFA challenges are not served over GraphQL
    "ChallengeInput", "ChallengePayload",
}
KNOWN_ROOT_MISSING = {"challenge"}


def _ours() -> GraphQLSchema:
    sleep = new_class("SleepStudy", {
        "title": FieldDef(S), "hours": FieldDef(N), "startedAt": FieldDef(D), "subject": FieldDef(P, "_User"),
        "tags": FieldDef(FieldType.ARRAY), "metrics": FieldDef(FieldType.OBJECT), "recording": FieldDef(FieldType.FILE),
        "completed": FieldDef(FieldType.BOOLEAN), "reviewers": FieldDef(R, "_User")})
    device = new_class("Device", {"battery": FieldDef(N), "model": FieldDef(S), "owner": FieldDef(P, "_User")})
    secret = new_class("Secret", {"note": FieldDef(S)})
    classes = [new_class("_User"), new_class("_Role"), new_class("_Session"), device, secret, sleep]
    return build(classes, ["hello", "echo", "fail"]).schema


def _shape(t: Any) -> set[str]:
    """A type's structure without descriptions or order: fields with types and arguments, enum values, members."""
    if isinstance(t, GraphQLEnumType):
        return {v for v in t.values if not v.startswith(("_rperm", "_wperm"))}
    if isinstance(t, GraphQLUnionType):
        return {m.name for m in t.types}
    if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        out = set()
        for name, field in t.fields.items():
            if name in ("_rperm", "_wperm"):
                continue  # Postgres-only columns Parse exposes
            args = sorted(f"{a}: {v.type}" for a, v in getattr(field, "args", {}).items())
            out.add(f"{name}({', '.join(args)}): {field.type}")
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            out |= {f"implements {i.name}" for i in t.interfaces}
        return out
    return {t.name}


def test_generated_sdl_matches_the_reference() -> None:
    ref = build_schema(REFERENCE.read_text(encoding="utf-8"))
    ours = _ours()
    missing = sorted(n for n in ref.type_map if n not in ours.type_map and not n.startswith("__"))
    assert missing == sorted(KNOWN_MISSING_TYPES)
    extra = sorted(n for n in ours.type_map if n not in ref.type_map)
    assert extra == []
    differing = {}
    for name, ref_type in ref.type_map.items():
        if name.startswith("__") or name not in ours.type_map or name in ("Query", "Mutation"):
            continue
        a, b = _shape(ref_type), _shape(ours.type_map[name])
        if a != b:
            differing[name] = (sorted(a - b), sorted(b - a))
    assert differing == KNOWN_TYPE_DIFFERENCES
    for root in ("Query", "Mutation"):
        ref_fields = set(ref.type_map[root].fields)  # type: ignore[union-attr]
        our_fields = set(ours.type_map[root].fields)  # type: ignore[union-attr]
        assert ref_fields - our_fields == KNOWN_ROOT_MISSING & ref_fields
        assert our_fields - ref_fields == set()


# Parse returns `authDataResponse` (third-party auth challenges) on User; we serve no such providers' responses.
KNOWN_TYPE_DIFFERENCES: dict[str, tuple[list[str], list[str]]] = {"User": (["authDataResponse(): Object"], [])}
