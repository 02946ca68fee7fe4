"""`$text` folded and searched in SQL agrees with the engine's matcher (match.text_matches) string by string."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from engine.query.match import text_matches
from engine.query.where import Text
from engine.storage import postgres_text

SUBJECTS = [
    "", "Sleep apnea", "sleep-apnea study", "CAFÉ au lait", "cafe", "Café", "naïve résumé", "déjà vu", "deja-vu",
    "e\u0301clair", "ÉCLAIR", "x_y z", "foo.bar@example.com", "REM stage 3", "stage3", "Σίσυφος", "日本語 テキスト",
    "नमस्ते दुनिया", "over\nlines", "tab\tseparated", "apnea, hypopnea; rem!", "Straße", "ﬁne ﬂow",
]
TERMS: list[tuple[str, bool, bool]] = [
    ("apnea", False, False), ("REM", True, False), ("Sleep", True, False), ("cafe", False, False),
    ("café", False, True), ("CAFÉ", True, True), ("eclair", False, False), ("éclair", False, True),
    ("deja vu", False, False), ('"deja vu"', False, False), ('"sleep apnea" -study', False, False),
    ("stage -study", False, False), ("x_y", False, False), ("example", False, False), ("σίσυφος", False, False),
    ("日本語", False, False), ("दुनिया", False, False), ("lines", False, False), ("-apnea", False, False),
    ("STRASSE", False, False), ("ﬁne", False, False),
    ("", False, False), ("resume", False, False), ("hypopnea rem", False, False),
]


@pytest.fixture
async def conn(pg_uri: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_uri)
    yield connection
    await connection.close()


@pytest.mark.parametrize(("term", "case", "diacritics"), TERMS, ids=[repr(t) for t in TERMS])
async def test_text_search_in_sql_matches_as_the_engine_does(conn: asyncpg.Connection, term: str, case: bool,
                                                             diacritics: bool) -> None:
    node = Text(("f",), term, None, case, diacritics)
    params: list[object] = [SUBJECTS]

    def bind(value: object, cast: str) -> str:
        params.append(value)
        return f"${len(params)}::{cast}"

    inner = postgres_text.folded("s", node, bind)
    test = postgres_text.predicate("f.t", node, bind)
    got = await conn.fetchval(f"SELECT array_agg((SELECT {test} FROM (SELECT {inner} AS t) AS f) ORDER BY i) "
                              "FROM unnest($1::text[]) WITH ORDINALITY AS u(s, i)", *params)
    expected = [text_matches([s], node) for s in SUBJECTS]
    assert [(s, g) for s, g, e in zip(SUBJECTS, got, expected, strict=True) if g != e] == []
    assert any(expected) or term.startswith("-") or not term  # each term finds something, or is meant not to
