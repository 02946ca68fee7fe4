"""The executable schema: generated SDL built with graphql-core, resolvers attached, cached by schema fingerprint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, GraphQLUnionType, build_schema

from engine.graphql import admin, resolvers as r
from engine.graphql.scalars import install_scalars
from engine.graphql.sdl import Generated, generate
from engine.schema.model import ClassDef, FieldType

Fingerprint = tuple[Any, ...]


def fingerprint(classes: Iterable[ClassDef], function_names: Iterable[str]) -> Fingerprint:
    """Everything the generated schema depends on: class names, field names, types and targets, function names."""
    shape = tuple(sorted(
        (c.name, tuple(sorted((n, f.type.value, f.target_class or "") for n, f in c.fields.items())))
        for c in classes))
    return shape, tuple(sorted(function_names))


@dataclass(frozen=True, slots=True)
class Built:
    schema: GraphQLSchema
    gen: Generated


def _object(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    found = schema.type_map[name]
    assert isinstance(found, GraphQLObjectType)
    return found


def build(classes: Iterable[ClassDef], function_names: Iterable[str]) -> Built:
    gen = generate(classes, function_names)
    schema = build_schema(gen.sdl)
    install_scalars(schema.type_map)
    resolve_type = r.resolve_class_type(gen)
    for name in ("Node", "ParseObject"):
        iface = schema.type_map[name]
        assert isinstance(iface, GraphQLInterfaceType)
        iface.resolve_type = resolve_type
    union = schema.type_map["ArrayResult"]
    assert isinstance(union, GraphQLUnionType)
    union.resolve_type = resolve_type
    query, mutation = _object(schema, "Query"), _object(schema, "Mutation")
    for info in gen.classes.values():
        t = info.type_name
        obj = _object(schema, t)
        obj.fields["id"].resolve = r.resolve_id
        obj.fields["ACL"].resolve = r.resolve_acl
        for fname, fdef in info.fields():
            field = obj.fields.get(fname)
            if field is None:
                continue
            if fdef.type is FieldType.POINTER and fdef.target_class in gen.classes:
                field.resolve = r.resolve_pointer
            elif fdef.type is FieldType.RELATION and fdef.target_class in gen.classes:
                field.resolve = r.resolve_relation(info, fname, gen.classes[fdef.target_class])
            elif fdef.type is FieldType.ARRAY:
                field.resolve = r.resolve_array
            elif fdef.type is FieldType.POLYGON:
                field.resolve = r.resolve_polygon
        query.fields[info.get_name].resolve = r.resolve_get(info)
        query.fields[info.find_name].resolve = r.resolve_find(info)
        mutation.fields[f"create{t}"].resolve = r.resolve_create(info)
        mutation.fields[f"update{t}"].resolve = r.resolve_update(info)
        mutation.fields[f"delete{t}"].resolve = r.resolve_delete(info)
    schema_field = schema.type_map["SchemaField"]
    assert isinstance(schema_field, GraphQLInterfaceType)
    schema_field.resolve_type = admin.schema_field_type
    query.fields["class"].resolve = admin.resolve_class
    query.fields["classes"].resolve = admin.resolve_classes
    query.fields["cloudConfig"].resolve = admin.resolve_cloud_config
    query.fields["node"].resolve = r.resolve_node
    query.fields["health"].resolve = r.resolve_health
    query.fields["viewer"].resolve = r.resolve_viewer
    for name, fn in (("signUp", r.resolve_sign_up), ("logIn", r.resolve_log_in), ("logOut", r.resolve_log_out),
                     ("resetPassword", r.resolve_reset_password), ("confirmResetPassword", r.resolve_confirm_reset),
                     ("sendVerificationEmail", r.resolve_send_verification),
                     ("callCloudCode", r.resolve_call_cloud_code), ("createFile", r.resolve_create_file),
                     ("logInWith", r.resolve_log_in_with), ("createClass", admin.resolve_create_class),
                     ("updateClass", admin.resolve_update_class), ("deleteClass", admin.resolve_delete_class),
                     ("updateCloudConfig", admin.resolve_update_cloud_config)):
        if name in mutation.fields:
            mutation.fields[name].resolve = fn
    return Built(schema, gen)


class SchemaCache:
    """One built schema per app, rebuilt on the first request after a class, field or cloud function changed."""

    def __init__(self) -> None:
        self._key: Fingerprint | None = None
        self._built: Built | None = None

    def get(self, classes: list[ClassDef], function_names: list[str]) -> Built:
        key = fingerprint(classes, function_names)
        if self._built is None or key != self._key:
            self._built = build(classes, function_names)
            self._key = key
        return self._built
