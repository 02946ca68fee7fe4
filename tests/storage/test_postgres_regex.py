"""The `$regex` → PostgreSQL ARE translation agrees with the engine's matcher (match.py) on every pattern it
translates: each pattern below is run by PostgreSQL and by Python over the same strings."""

from __future__ import annotations

import asyncpg
import pytest

from engine.query.match import regex_matches
from engine.query.where import Regex
from engine.storage.postgres_regex import to_are

SUBJECTS = [
    "", "a", "abc", "ABC", "aBc\n", "line one\nline two", "line one\nline two\n", "tab\there", "x_y z", "42", "٤٢",
    "café", "CAFÉ", "naïve", "déjà vu", "Straße", "ǅemal", "a{2}", "a{", "{}", "a.b", "a\\b", "a$b", "[x]", "a]b",
    "é\u0301", "नमस्ते दुनिया", "日本語", "emoji 😀!", "aaaa", "abab", "1+1=2", "foo.bar@example.com",
    "end\n", "\nstart", "A\u0008B",
]
PATTERNS: list[tuple[str, str]] = [
    ("abc", ""), ("abc", "i"), ("^a", ""), ("^line", "m"), ("two$", ""), ("one$", ""), ("one$", "m"), ("^$", ""),
    ("^$", "m"), ("line.two", ""), ("line.two", "s"), ("one.line", "ms"), ("\\bvu\\b", ""), ("\\Bb", ""),
    ("\\d+", ""), ("\\D", ""), ("\\w+é", ""), ("\\W", ""), ("\\s", ""), ("\\S+$", ""), ("caf[eé]", "i"),
    ("[^a-z]", ""), ("[a-c]{2,3}", ""), ("a{2}", ""), ("a\\{2\\}", ""), ("a{", ""), ("{}", ""), ("a{,2}b", ""),
    ("(ab)\\1", ""), ("(a|b)+$", ""), ("a.b", ""), ("a\\.b", ""), ("a\\\\b", ""), ("a\\$b", ""), ("\\[x\\]", ""),
    ("[]a]", ""), ("[\\]]b", ""), ("\\x41", "i"), ("\\x41B", ""), ("\\u00e9", ""), ("[\\u00e0-\\u00ff]", ""),
    ("[\\b]", ""), ("\\Qa.b\\E", ""), ("\\Qa{\\E", ""), ("a b c", "x"), ("a\\ b # comment\n", "x"),
    ("[ ]x", "x"), ("(?:ab)+", ""), ("a(?=b)", ""), ("a(?!b)", ""), ("x*?y", ""), ("\\Aa", ""), ("b\\Z", ""),
    ("STRASSE", "i"), ("日本", ""), ("😀", ""), ("\\d\\d", ""), ("[[:alpha:]]", ""), ("(?<=a)b", ""),
    ("é", "i"), ("É", "i"), ("(?i)a", ""), ("a++", ""), ("^\\n", "m"), ("\\t", ""), ("=2$", ""),
    ("", ""), ("|", ""), ("a|", ""), ("()", ""),
]


@pytest.fixture
async def conn(pg_uri: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(pg_uri)
    yield connection
    await connection.close()


@pytest.mark.parametrize(("pattern", "options"), PATTERNS, ids=[f"{p!r}/{o}" for p, o in PATTERNS])
async def test_translated_patterns_match_as_the_engine_does(conn: asyncpg.Connection, pattern: str,
                                                            options: str) -> None:
    are = to_are(pattern, options)
    if are is None:
        pytest.skip("kept for the engine's matcher")
    got = await conn.fetchval('SELECT array_agg((s COLLATE "und-x-icu") ~ $2 ORDER BY i) '
                              "FROM unnest($1::text[]) WITH ORDINALITY AS t(s, i)", SUBJECTS, are)
    node = Regex(("f",), pattern, options)
    expected = [regex_matches([s], node) for s in SUBJECTS]
    mismatches = [(s, g, e) for s, g, e in zip(SUBJECTS, got, expected, strict=True) if g != e]
    assert mismatches == []


def test_only_the_constructs_postgres_cannot_spell_stay_with_the_matcher() -> None:
    kept = {p for p, o in PATTERNS if to_are(p, o) is None}
    # word classes (Python counts combining marks as word characters, ICU does not), `{,n}`, POSIX classes,
    # lookbehind, inline flags, possessive quantifiers
    assert kept == {"\\bvu\\b", "\\Bb", "\\w+é", "\\W", "a{,2}b", "[[:alpha:]]", "(?<=a)b", "(?i)a", "a++"}
