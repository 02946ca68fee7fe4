"""`$text` as SQL: the words and phrases match.py looks for (match.search_terms), over text folded in SQL.

Parse on PostgreSQL uses to_tsvector/to_tsquery, which stems words and drops stop words, so it answers
differently from MongoDB and from match.py (the reference). Here the row's text is folded in SQL the way
match.py folds it -- NFD, combining marks removed, NFC, lower-cased under ICU -- and each search word must be a
whole ``\\w+`` token of it (ARE's ``\\m``/``\\M`` word boundaries, Unicode-aware under ICU), each phrase a
substring. The SQL grows linearly with the term (bounded by where.MAX_TEXT_TERM).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable

from engine.query.match import search_terms
from engine.query.where import Text

ICU = '"und-x-icu"'
Bind = Callable[[object, str], str]
# Past the supplementary multilingual plane no character is cased or combining: the tables stop there.
_LAST_CODE_POINT = 0x1FFFF
# A whole token: ARE word boundaries (the word itself is \w characters only, nothing to escape).
_WORD_START, _WORD_END = "(?s)\\m", "\\M"


@functools.cache
def combining_class() -> str:
    """An ARE bracket expression of every code point unicodedata calls combining (what match.py strips)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(_LAST_CODE_POINT + 1):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in ranges) + "]"


def warm() -> None:
    """Builds the Unicode tables (about a second of CPU) so no query pays for them on the event loop."""
    combining_class()
    casefold_tables(True)
    casefold_tables(False)


def _strip(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text)
                                                if not unicodedata.combining(c)))


@functools.cache
def casefold_tables(diacritic_sensitive: bool) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Where casefold differs from lower (what SQL's lower leaves): (from, to) for translate(), and the characters
    folding to several (ß -> ss, ligatures), for replace(). Only characters the folded text can still hold."""
    one: dict[str, str] = {}
    many: dict[str, str] = {}
    for cp in range(_LAST_CODE_POINT + 1):
        char = chr(cp)
        for low in (char if diacritic_sensitive else _strip(char)).lower():
            fold = low.casefold()
            if fold != low:
                (one if len(fold) == 1 else many)[low] = fold
    return "".join(one), "".join(one.values()), tuple(many.items())


def _literal(text: str) -> str:
    # Unicode data, not user input; still quoted as a standard SQL literal.
    return "'" + text.replace("'", "''") + "'"


def folded(ref: str, node: Text, bind: Bind) -> str:
    """The string as match.py folds it before searching: diacritics stripped, then case folded."""
    text = f"({ref} COLLATE {ICU})"
    plain = text if node.case_sensitive else f"lower({text})"
    if node.case_sensitive and node.diacritic_sensitive:
        return plain
    full = _unicode_fold(text, node, bind)
    # ASCII text (byte length = character length in UTF-8) has no marks and no casefold extras: skip the work.
    return f"(CASE WHEN octet_length({ref}) = char_length({ref}) THEN {plain} ELSE {full} END)"


def _unicode_fold(text: str, node: Text, bind: Bind) -> str:
    if not node.diacritic_sensitive:
        stripped = f"regexp_replace(normalize({text}, NFD), {bind(combining_class(), 'text')}, '', 'g')"
        text = f"(normalize({stripped}, NFC) COLLATE {ICU})"
    if node.case_sensitive:
        return text
    source, target, many = casefold_tables(node.diacritic_sensitive)
    out = f"translate(lower({text}), {_literal(source)}, {_literal(target)})"
    for char, fold in many:
        out = f"replace({out}, {_literal(char)}, {_literal(fold)})"
    return out


def predicate(text: str, node: Text, bind: Bind) -> str:
    """Whether the folded string ``text`` satisfies the search, as match.text_matches decides for one string.
    Each list is one array parameter, so a where's parameter count does not grow with its words."""
    positives, phrases, negations = search_terms(node.term, node.case_sensitive, node.diacritic_sensitive)
    if not positives and not phrases:
        return "FALSE"

    def words(items: tuple[str, ...]) -> str:
        patterns = [_WORD_START + w + _WORD_END for w in dict.fromkeys(items)]
        return f"{text} ~ ANY({bind(patterns, 'text[]')})"

    if phrases:
        found = bind(list(dict.fromkeys(phrases)), "text[]")
        wanted = f"(SELECT bool_and(strpos({text}, p) > 0) FROM unnest({found}) AS p)"
    else:
        wanted = words(positives)
    if negations:
        return f"({wanted}) AND NOT ({words(negations)})"
    return f"({wanted})"
