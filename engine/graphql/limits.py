"""Bounds on one GraphQL document, checked before execution: depth, fields, aliases, introspection.

Fragments are expanded while counting (so a fragment cannot hide cost), and the walk stops as soon as a bound is
passed, so checking a hostile document costs at most the bound, never the document's expanded size.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
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
