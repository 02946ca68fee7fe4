"""`$text` as SQL: the words and phrases match.py looks for (match.search_terms), over text folded in SQL.

Parse on PostgreSQL uses to_tsvector/to_tsquery, which stems words and drops stop words, so it answers
differently from MongoDB and from match.py (the reference). Here the row's text is folded in SQL the way
match.py folds it -- NFD, combining marks removed, NFC, lower-cased under ICU -- and each search word must be a
whole ``\\w+`` token of it (ARE's ``\\m``/``\\M`` word boundaries, Unicode-aware under ICU), each phrase a
substring. The SQL grows linearly with the term (bounded by where.MAX_TEXT_TERM).
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable

from engine.query.match import search_terms
from engine.query.where import Text

ICU = '"und-x-icu"'
Bind = Callable[[object, str], str]
# A whole token: ARE word boundaries (the word itself is \w characters only, nothing to escape).
_WORD_START, _WORD_END = "(?s)\\m", "\\M"


@functools.cache
def combining_class() -> str:
    """An ARE bracket expression of every code point unicodedata calls combining (what match.py strips)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in ranges) + "]"


def folded(ref: str, node: Text, bind: Bind) -> str:
    text = f"({ref} COLLATE {ICU})"
    if not node.diacritic_sensitive:
        stripped = f"regexp_replace(normalize({text}, NFD), {bind(combining_class(), 'text')}, '', 'g')"
        text = f"(normalize({stripped}, NFC) COLLATE {ICU})"
    return text if node.case_sensitive else f"lower({text})"


def predicate(text: str, node: Text, bind: Bind) -> str:
    """Whether the folded string ``text`` satisfies the search, as match.text_matches decides for one string."""
    positives, phrases, negations = search_terms(node.term, node.case_sensitive, node.diacritic_sensitive)
    if not positives and not phrases:
        return "FALSE"

    def word(w: str) -> str:
        return f"{text} ~ {bind(_WORD_START + w + _WORD_END, 'text')}"

    if phrases:
        wanted = " AND ".join(f"strpos({text}, {bind(p, 'text')}) > 0" for p in phrases)
    else:
        wanted = " OR ".join(word(w) for w in dict.fromkeys(positives))
    if negations:
        refused = " OR ".join(word(w) for w in dict.fromkeys(negations))
        return f"({wanted}) AND NOT ({refused})"
    return f"({wanted})"
