"""The per-class SDL Parse Server 9.10 generates (16 types, 2 queries, 3 mutations per class), from the live schema."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.graphql.base_sdl import BASE_SDL
from engine.graphql.names import find_field_name, get_field_name, type_name
from engine.schema.model import MASTER_ONLY_CLASSES, ClassDef, FieldDef, FieldType

GRAPHQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
BASE_TYPES = frozenset(re.findall(r"^(?:type|input|enum|scalar|interface|union) (\w+)", BASE_SDL, flags=re.M)) | {
    "Query", "Mutation", "Subscription", "ArrayResult", "CloudCodeFunction", "CallCloudCodeInput",
    "LogInWithInput", "UserLoginWithInput",
    "String", "Int", "Float", "Boolean", "ID"}
ROOT_FIELDS = frozenset({"node", "health", "viewer", "signUp", "logIn", "logOut", "resetPassword",
                         "confirmResetPassword", "sendVerificationEmail", "callCloudCode", "class", "classes",
                         "cloudConfig", "createFile", "logInWith", "createClass", "updateClass", "deleteClass",
                         "updateCloudConfig"})
BUILTIN = ("objectId", "createdAt", "updatedAt", "ACL")
# Parse's own bookkeeping classes never appear in the GraphQL API.
HIDDEN_CLASSES = MASTER_ONLY_CLASSES | {"_JobStatus", "_PushStatus", "_Product"}
FIND_ARGS = ("where: {t}WhereInput, order: [{t}Order!], skip: Int, after: String, first: Int, before: String, "
             "last: Int, options: ReadOptionsInput")
SCALAR_OUT = {FieldType.STRING: "String", FieldType.NUMBER: "Float", FieldType.BOOLEAN: "Boolean",
              FieldType.DATE: "Date", FieldType.OBJECT: "Object", FieldType.ARRAY: "[ArrayResult]",
              FieldType.FILE: "FileInfo", FieldType.GEOPOINT: "GeoPoint", FieldType.POLYGON: "[GeoPoint!]",
              FieldType.BYTES: "Bytes", FieldType.ACL: "ACL"}
SCALAR_IN = {FieldType.STRING: "String", FieldType.NUMBER: "Float", FieldType.BOOLEAN: "Boolean",
             FieldType.DATE: "Date", FieldType.OBJECT: "Object", FieldType.ARRAY: "[Any]",
             FieldType.FILE: "FileInput", FieldType.GEOPOINT: "GeoPointInput", FieldType.POLYGON: "[GeoPointInput!]",
             FieldType.BYTES: "Bytes", FieldType.ACL: "ACLInput"}
WHERE_IN = {FieldType.STRING: "StringWhereInput", FieldType.NUMBER: "NumberWhereInput",
            FieldType.BOOLEAN: "BooleanWhereInput", FieldType.DATE: "DateWhereInput",
            FieldType.OBJECT: "ObjectWhereInput", FieldType.ARRAY: "ArrayWhereInput",
            FieldType.FILE: "FileWhereInput", FieldType.GEOPOINT: "GeoPointWhereInput",
            FieldType.POLYGON: "PolygonWhereInput", FieldType.BYTES: "BytesWhereInput",
            FieldType.ACL: "ObjectWhereInput"}
# Secrets and internal columns never become GraphQL fields (Parse drops `_auth_data_*` and never outputs passwords).
HIDDEN_OUTPUT = {"_User": frozenset({"password"})}
# logInWith's `fields` are the sign-up fields minus the credentials authData replaces.
NOT_LOGIN_WITH = frozenset({"authData", "password", "username"})


@dataclass(frozen=True, slots=True)
class ClassInfo:
    class_name: str
    type_name: str
    get_name: str
    find_name: str
    cls: ClassDef

    def fields(self) -> list[tuple[str, FieldDef]]:
        """Every field GraphQL can name, sorted as Parse sorts them."""
        return sorted((n, f) for n, f in self.cls.fields.items() if GRAPHQL_NAME.match(n))


@dataclass(frozen=True, slots=True)
class Generated:
    sdl: str
    classes: dict[str, ClassInfo]  # by Parse class name
    by_type: dict[str, ClassInfo]  # by GraphQL type name
    functions: tuple[str, ...]


def _derived(t: str) -> tuple[str, ...]:
    return (t, f"{t}Edge", f"{t}Connection", f"{t}WhereInput", f"{t}RelationWhereInput", f"{t}Order",
            f"{t}PointerInput", f"{t}RelationInput", f"Create{t}FieldsInput", f"Update{t}FieldsInput",
            f"Create{t}Input", f"Create{t}Payload", f"Update{t}Input", f"Update{t}Payload", f"Delete{t}Input",
            f"Delete{t}Payload")


def select_classes(classes: Iterable[ClassDef]) -> dict[str, ClassInfo]:
    """Classes that get a GraphQL API; one whose names would clash with another type or root field is left out."""
    taken_types = set(BASE_TYPES)
    taken_fields = set(ROOT_FIELDS)
    out: dict[str, ClassInfo] = {}
    ordered = sorted(classes, key=lambda c: (not c.name.startswith("_"), c.name))
    for cls in ordered:
        if cls.name in HIDDEN_CLASSES:
            continue
        t = type_name(cls.name)
        info = ClassInfo(cls.name, t, get_field_name(cls.name), find_field_name(cls.name), cls)
        names = _derived(t)
        roots = (info.get_name, info.find_name, f"create{t}", f"update{t}", f"delete{t}")
        if (not GRAPHQL_NAME.match(t) or info.get_name == info.find_name or taken_types.intersection(names)
                or taken_fields.intersection(roots)):
            continue
        taken_types.update(names)
        taken_fields.update(roots)
        out[cls.name] = info
    return out


def _target(classes: dict[str, ClassInfo], fdef: FieldDef) -> ClassInfo | None:
    return classes.get(fdef.target_class or "")


def _out_type(classes: dict[str, ClassInfo], fdef: FieldDef) -> str | None:
    if fdef.type is FieldType.POINTER:
        target = _target(classes, fdef)
        return target.type_name if target else "Object"
    if fdef.type is FieldType.RELATION:
        target = _target(classes, fdef)
        return None if target is None else f"{target.type_name}Connection!"
    return SCALAR_OUT[fdef.type]


def _in_type(classes: dict[str, ClassInfo], fdef: FieldDef) -> str | None:
    if fdef.type in (FieldType.POINTER, FieldType.RELATION):
        target = _target(classes, fdef)
        if target is None:
            return None
        return f"{target.type_name}{'PointerInput' if fdef.type is FieldType.POINTER else 'RelationInput'}"
    return SCALAR_IN[fdef.type]


def _where_type(classes: dict[str, ClassInfo], name: str, fdef: FieldDef) -> str | None:
    if name == "objectId":
        return "IdWhereInput"
    if fdef.type in (FieldType.POINTER, FieldType.RELATION):
        target = _target(classes, fdef)
        return None if target is None else f"{target.type_name}RelationWhereInput"
    return WHERE_IN[fdef.type]


def _class_sdl(info: ClassInfo, classes: dict[str, ClassInfo]) -> str:
    t = info.type_name
    hidden = HIDDEN_OUTPUT.get(info.class_name, frozenset())
    fields = info.fields()
    out = ["id: ID!", "objectId: ID!", "createdAt: Date!", "updatedAt: Date!", "ACL: ACL!"]
    inputs: list[str] = []
    where: list[str] = []
    order: list[str] = []
    for name, fdef in fields:
        w = _where_type(classes, name, fdef)
        if w is not None:
            where.append(f"{name}: {w}")
            order += [f"{name}_ASC", f"{name}_DESC"]
        if name in ("objectId", "createdAt", "updatedAt"):
            continue
        i = _in_type(classes, fdef)
        if i is not None:
            inputs.append(f"{name}: {i}")
        if name == "ACL" or name in hidden:
            continue
        o = _out_type(classes, fdef)
        if o is None:
            continue
        if fdef.type is FieldType.RELATION:
            target = _target(classes, fdef)
            assert target is not None
            o = f"({FIND_ARGS.format(t=target.type_name)}): {o}"
            out.append(f"{name}{o}")
        else:
            out.append(f"{name}: {o}")
    where += ["id: IdWhereInput", f"OR: [{t}WhereInput!]", f"AND: [{t}WhereInput!]", f"NOR: [{t}WhereInput!]"]
    order += ["id_ASC", "id_DESC"]
    field_inputs = "\n  ".join(inputs) or "_placeholder: Boolean"  # an input type must have a field
    return "\n".join([
        f"type {t} implements ParseObject & Node {{\n  " + "\n  ".join(out) + "\n}",
        f"type {t}Edge {{\n  node: {t}\n  cursor: String!\n}}",
        f"type {t}Connection {{\n  pageInfo: PageInfo!\n  edges: [{t}Edge]\n  count: Int!\n}}",
        f"input {t}WhereInput {{\n  " + "\n  ".join(where) + "\n}",
        f"input {t}RelationWhereInput {{\n  have: {t}WhereInput\n  haveNot: {t}WhereInput\n  exists: Boolean\n}}",
        f"enum {t}Order {{\n  " + "\n  ".join(order) + "\n}",
        f"input {t}PointerInput {{\n  link: ID\n  createAndLink: Create{t}FieldsInput\n}}",
        f"input {t}RelationInput {{\n  add: [ID!]\n  remove: [ID!]\n  createAndAdd: [Create{t}FieldsInput!]\n}}",
        f"input Create{t}FieldsInput {{\n  {field_inputs}\n}}",
        f"input Update{t}FieldsInput {{\n  {field_inputs}\n}}",
        f"input Create{t}Input {{\n  fields: Create{t}FieldsInput\n  clientMutationId: String\n}}",
        f"type Create{t}Payload {{\n  {info.get_name}: {t}!\n  clientMutationId: String\n}}",
        f"input Update{t}Input {{\n  id: ID!\n  fields: Update{t}FieldsInput\n  clientMutationId: String\n}}",
        f"type Update{t}Payload {{\n  {info.get_name}: {t}!\n  clientMutationId: String\n}}",
        f"input Delete{t}Input {{\n  id: ID!\n  clientMutationId: String\n}}",
        f"type Delete{t}Payload {{\n  {info.get_name}: {t}!\n  clientMutationId: String\n}}",
    ])


def _login_with_sdl(user: ClassInfo, classes: dict[str, ClassInfo]) -> str:
    fields = [f"{n}: {i}" for n, f in user.fields()
              if n not in NOT_LOGIN_WITH and n not in BUILTIN[:3] and (i := _in_type(classes, f)) is not None]
    return "\n".join([
        "input UserLoginWithInput {\n  " + ("\n  ".join(fields) or "_placeholder: Boolean") + "\n}",
        "input LogInWithInput {\n  authData: Object!\n  fields: UserLoginWithInput\n  clientMutationId: String\n}",
    ])


def generate(classes: Iterable[ClassDef], function_names: Iterable[str]) -> Generated:
    selected = select_classes(classes)
    functions = tuple(sorted(n for n in function_names
                             if GRAPHQL_NAME.match(n) and n not in ("true", "false", "null")))
    parts = [BASE_SDL]
    queries = ["node(id: ID!): Node"]
    mutations: list[str] = []
    for info in selected.values():
        t = info.type_name
        parts.append(_class_sdl(info, selected))
        queries.append(f"{info.get_name}(id: ID!, options: ReadOptionsInput): {t}!")
        queries.append(f"{info.find_name}({FIND_ARGS.format(t=t)}): {t}Connection!")
        mutations.append(f"create{t}(input: Create{t}Input!): Create{t}Payload")
        mutations.append(f"update{t}(input: Update{t}Input!): Update{t}Payload")
        mutations.append(f"delete{t}(input: Delete{t}Input!): Delete{t}Payload")
    queries += ["health: Boolean!", "viewer: Viewer!", "class(name: String!): Class!", "classes: [Class!]!",
                "cloudConfig(paramName: String!): ConfigValue!"]
    mutations += ["createFile(input: CreateFileInput!): CreateFilePayload",
                  "createClass(input: CreateClassInput!): CreateClassPayload",
                  "updateClass(input: UpdateClassInput!): UpdateClassPayload",
                  "deleteClass(input: DeleteClassInput!): DeleteClassPayload",
                  "updateCloudConfig(input: UpdateCloudConfigInput!): UpdateCloudConfigPayload"]
    if "_User" in selected:
        parts.append(_login_with_sdl(selected["_User"], selected))
        mutations.append("logInWith(input: LogInWithInput!): LogInWithPayload")
    mutations += ["signUp(input: SignUpInput!): SignUpPayload", "logIn(input: LogInInput!): LogInPayload",
                  "logOut(input: LogOutInput!): LogOutPayload",
                  "resetPassword(input: ResetPasswordInput!): ResetPasswordPayload",
                  "confirmResetPassword(input: ConfirmResetPasswordInput!): ConfirmResetPasswordPayload",
                  "sendVerificationEmail(input: SendVerificationEmailInput!): SendVerificationEmailPayload"]
    if functions:
        parts.append("enum CloudCodeFunction {\n  " + "\n  ".join(functions) + "\n}")
        parts.append("input CallCloudCodeInput {\n  functionName: CloudCodeFunction!\n  params: Object\n"
                     "  clientMutationId: String\n}")
        mutations.append("callCloudCode(input: CallCloudCodeInput!): CallCloudCodePayload")
    members = " | ".join(["Element", *(i.type_name for i in selected.values())])
    parts.append(f"union ArrayResult = {members}")
    parts.append("type Query {\n  " + "\n  ".join(queries) + "\n}")
    parts.append("type Mutation {\n  " + "\n  ".join(mutations) + "\n}")
    by_type = {i.type_name: i for i in selected.values()}
    return Generated("\n\n".join(parts), selected, by_type, functions)
