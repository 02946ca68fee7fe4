"""The complexity cap: fields under a connection weigh once per row its first/last (or the default page) allows."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_operation_ast, parse

from engine.graphql.limits import LimitExceeded, Limits, complexity
from engine.graphql.schema import build
from engine.schema.model import FieldDef, FieldType, new_class
from tests.graphql.helpers import data, error, make_night_class

NIGHT = new_class("Night", {"title": FieldDef(FieldType.STRING),
                            "reviewers": FieldDef(FieldType.RELATION, "_User")})
SCHEMA = build([new_class("_User"), new_class("_Role"), NIGHT], []).schema
LIMITS = Limits(99, 9999, 99, 0, default_page=100, max_page=10_000)
NESTED = "{ nights(first: 10) { count edges { node { title reviewers(first: 5) { edges { node { objectId } } } } } } }"


def _cost(query: str, variables: dict[str, Any] | None = None, limits: Limits = LIMITS) -> int:
    doc = parse(query)
    op = get_operation_ast(doc)
    assert op is not None
    return complexity(SCHEMA, doc, op, variables, limits)


def test_rows_multiply_down_the_tree() -> None:
    assert _cost("{ health }") == 1
    # nights, count, edges: 1 each; node + title: 10 each; reviewers, its edges: 10 each; node + objectId: 50 each
    assert _cost(NESTED) == 3 + 10 * 2 + 10 * 2 + 50 * 2
    # Without first/last a connection weighs its default page; with both, the smaller; clamped to max_page.
    assert _cost("{ nights { edges { node { title } } } }") == 2 + 100 * 2
    assert _cost("{ nights(first: 50, last: 3) { edges { node { title } } } }") == 2 + 3 * 2
    assert _cost("{ nights(first: 99999999) { edges { node { title } } } }") == 2 + 10_000 * 2
    # Variables, declared defaults and fragments count the same as literals.
    q = "query($n: Int = 7) { nights(first: $n) { edges { ...N } } } fragment N on NightEdge { node { title } }"
    assert _cost(q) == 2 + 7 * 2 and _cost(q, {"n": 2}) == 2 + 2 * 2


def test_the_cap_stops_the_walk() -> None:
    with pytest.raises(LimitExceeded, match="complexity"):
        _cost("{ nights { edges { node { reviewers { edges { node { objectId } } } } } } }",
              limits=Limits(99, 9999, 99, 20_000))


async def test_over_http_the_cap_binds_non_master_callers(app_factory: Any) -> None:
    _, api = await app_factory(graphql_max_complexity=500)
    await make_night_class(api)
    heavy = "{ nights { edges { node { reviewers { edges { node { objectId } } } } } } }"
    err = await error(api, heavy)
    assert err["status"] == 400 and err["extensions"]["code"] == 155 and "complexity" in err["message"]
    light = "{ nights(first: 5) { edges { node { reviewers(first: 5) { edges { node { objectId } } } } } } }"
    assert (await data(api, light)) == {"nights": {"edges": []}}
    assert (await data(api, heavy, master=True)) == {"nights": {"edges": []}}  # the master key is exempt
