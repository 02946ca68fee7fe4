"""What a selection set asks for: sub-fields across fragments, pointer includes, and whether counts are needed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from engine.graphql.sdl import ClassInfo
from engine.schema.model import FieldType

MAX_INCLUDE_DEPTH = 10

Fragments = Mapping[str, FragmentDefinitionNode]


def subfields(selection: SelectionSetNode | None, fragments: Fragments) -> dict[str, list[FieldNode]]:
    """Field nodes by field name (not alias), fragments flattened; a repeated spread is walked once."""
    out: dict[str, list[FieldNode]] = {}
    seen: set[str] = set()
    stack = [selection] if selection is not None else []
    while stack:
        current = stack.pop()
        for node in current.selections:
            if isinstance(node, FieldNode):
                out.setdefault(node.name.value, []).append(node)
            elif isinstance(node, InlineFragmentNode):
                stack.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = fragments.get(node.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)
    return out


def nested(nodes: list[FieldNode], name: str, fragments: Fragments) -> list[FieldNode]:
    """The `name` sub-fields of every node in `nodes`."""
    found: list[FieldNode] = []
    for node in nodes:
        found += subfields(node.selection_set, fragments).get(name, [])
    return found


def include_paths(classes: Mapping[str, ClassInfo], info: ClassInfo, nodes: list[FieldNode],
                  fragments: Fragments) -> list[str]:
    """Pointer fields selected with sub-fields become REST `include` paths, so each level is one query."""
    out: list[str] = []

    def walk(current: ClassInfo, at: list[FieldNode], prefix: str, depth: int) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            return
        merged: dict[str, list[FieldNode]] = {}
        for node in at:
            for name, found in subfields(node.selection_set, fragments).items():
                merged.setdefault(name, []).extend(found)
        for name, found in sorted(merged.items()):
            fdef = current.cls.field_def(name)
            if fdef is None or fdef.type is not FieldType.POINTER:
                continue
            target = classes.get(fdef.target_class or "")
            if target is None:
                continue
            path = f"{prefix}{name}"
            out.append(path)
            walk(target, found, path + ".", depth + 1)

    walk(info, nodes, "", 0)
    return out


@dataclass(frozen=True, slots=True)
class ConnectionNeeds:
    edges: bool
    count: bool
    nodes: list[FieldNode]


def connection_needs(nodes: list[FieldNode], fragments: Fragments) -> ConnectionNeeds:
    """Parse counts only when `count` or `hasNext/PreviousPage` is selected, and fetches rows only for edges."""
    edges = nested(nodes, "edges", fragments)
    page_info = nested(nodes, "pageInfo", fragments)
    count = bool(nested(nodes, "count", fragments) or nested(page_info, "hasNextPage", fragments)
                 or nested(page_info, "hasPreviousPage", fragments))
    return ConnectionNeeds(bool(edges or page_info), count, nested(edges, "node", fragments))
