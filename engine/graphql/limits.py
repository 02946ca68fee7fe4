"""Bounds on one GraphQL document, checked before execution: depth, fields, aliases, introspection.

Fragments are expanded while counting (so a fragment cannot hide cost), and the walk stops as soon as a bound is
passed, so checking a hostile document costs at most the bound, never the document's expanded size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

MAX_TOKENS = 20_000  # lexer tokens in one document (graphql-core stops parsing past it)
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class LimitExceeded(Exception):
    """A document over one of the bounds; the message names the bound."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_fields: int
    max_aliases: int
    max_complexity: int = 0  # 0: no cost bound
    default_page: int = 100  # rows a connection returns without first/last (the find's default limit)
    max_page: int = 10_000  # the largest page a find honours


@dataclass(frozen=True, slots=True)
class Shape:
    depth: int
    fields: int
    aliases: int
    introspection: bool


def measure(document: DocumentNode, operation: OperationDefinitionNode, limits: Limits | None) -> Shape:
    """Depth, field count and aliases of `operation` with fragments expanded; raises LimitExceeded past `limits`."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    counts = {"fields": 0, "aliases": 0, "depth": 0}
    introspection = False

    def visit(selection: SelectionSetNode, depth: int, spreads: tuple[str, ...]) -> None:
        nonlocal introspection
        for node in selection.selections:
            counts["fields"] += 1
            if limits is not None and counts["fields"] > limits.max_fields:
                raise LimitExceeded(f"Number of fields selected exceeds maximum allowed ({limits.max_fields})")
            if isinstance(node, FieldNode):
                if node.name.value in INTROSPECTION_FIELDS:
                    introspection = True
                if node.alias is not None:
                    counts["aliases"] += 1
                    if limits is not None and counts["aliases"] > limits.max_aliases:
                        raise LimitExceeded(f"Number of aliases exceeds maximum allowed ({limits.max_aliases})")
                if node.selection_set is not None:
                    if node.name.value.startswith("__"):
                        continue  # introspection depth is the schema's, not the caller's; it is gated apart
                    counts["depth"] = max(counts["depth"], depth + 1)
                    if limits is not None and depth + 1 > limits.max_depth:
                        raise LimitExceeded(f"Query depth exceeds maximum allowed depth ({limits.max_depth})")
                    visit(node.selection_set, depth + 1, spreads)
            elif isinstance(node, InlineFragmentNode):
                visit(node.selection_set, depth, spreads)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in spreads:  # cycles are a validation error anyway
                    visit(fragment.selection_set, depth, (*spreads, name))

    visit(operation.selection_set, 0, ())
    return Shape(counts["depth"], counts["fields"], counts["aliases"], introspection)


def _page(node: FieldNode, variables: Mapping[str, Any], limits: Limits) -> int:
    """Rows one connection may return: the smaller of `first`/`last` as the find clamps it, else the default."""
    sizes: list[int] = []
    for arg in node.arguments or ():
        if arg.name.value not in ("first", "last"):
            continue
        value: Any = None
        if isinstance(arg.value, IntValueNode):
            value = int(arg.value.value)
        elif isinstance(arg.value, VariableNode):
            value = variables.get(arg.value.name.value)
        if isinstance(value, int) and not isinstance(value, bool):
            sizes.append(min(max(value, 0), limits.max_page))
    return min(sizes) if sizes else limits.default_page


def _fields(t: GraphQLNamedType | None) -> Mapping[str, GraphQLField]:
    return t.fields if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) else {}


def complexity(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
               variables: Mapping[str, Any] | None, limits: Limits) -> int:
    """Every selected field weighs the rows it is resolved for: the fields under a connection's `edges` count once
    per row its `first`/`last` (or the default page) allows, so nested relations multiply. Raises LimitExceeded as
    soon as the sum passes `limits.max_complexity`; run after validation, so names resolve."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    # A variable left out takes its declared default, which the find will use too.
    values: dict[str, Any] = {d.variable.name.value: int(d.default_value.value)
                              for d in operation.variable_definitions or ()
                              if isinstance(d.default_value, IntValueNode)}
    values.update(variables or {})
    total = 0

    def visit(selection: SelectionSetNode, parent: GraphQLNamedType | None, weight: int, page: int,
              spreads: tuple[str, ...]) -> None:
        nonlocal total
        for node in selection.selections:
            if isinstance(node, FieldNode):
                total += weight
                if limits.max_complexity and total > limits.max_complexity:
                    raise LimitExceeded(f"Query complexity exceeds maximum allowed ({limits.max_complexity}); "
                                        "ask for fewer rows with first/last")
                field = _fields(parent).get(node.name.value)
                if node.selection_set is None or field is None:
                    continue
                inner = weight * page if node.name.value == "edges" else weight
                child_page = _page(node, values, limits) if "first" in field.args else 1
                visit(node.selection_set, get_named_type(field.type), inner, child_page, spreads)
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                visit(node.selection_set, schema.get_type(cond.name.value) if cond else parent, weight, page,
                      spreads)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in spreads:
                    visit(fragment.selection_set, schema.get_type(fragment.type_condition.name.value), weight,
                          page, (*spreads, name))

    visit(operation.selection_set, schema.get_root_type(operation.operation), 1, 1, ())
    return total
