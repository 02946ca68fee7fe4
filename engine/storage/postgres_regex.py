"""A `$regex` (PCRE as the SDK sends it, Python's `regex` as match.py runs it) spelled as a PostgreSQL ARE.

Only constructs whose meaning is the same in both engines are translated; anything else (lookbehind, named or
atomic groups, possessive quantifiers, inline flags, POSIX classes, repeat counts past ARE's 255, ...) makes
``to_are`` answer None and the adapter keeps that node for the exact Python matcher. Existence of a match is
all a query asks, so greedy/lazy differences between the engines do not matter. Output grows linearly with the
pattern (at most ~12 characters per input character), and the pattern is already bounded by the parser.
"""

from __future__ import annotations

import re

from engine.query.where import translate_regex

_ARE_DUPMAX = 255  # PostgreSQL refuses a bound above this
_BOUND_RE = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
# Escapes that mean the same in both engines (outside brackets).
_SAME_ESCAPES = frozenset("dDsSntrfvaA")
_CLASS_ESCAPES = frozenset("dsntrfva")  # ARE refuses \D \S \W inside brackets; \w differs (see _escape)
_QUANTIFIERS = frozenset("*+?")


class _Untranslatable(Exception):
    pass


def to_are(pattern: str, options: str) -> str | None:
    """The ARE (with its embedded options) matching exactly what match.py's regex matches, or None."""
    try:
        body = _Translator(translate_regex(pattern), "m" in options, "s" in options, "x" in options).run()
    except _Untranslatable:
        return None
    # ARE's newline-sensitive modes would also keep `[^...]` off newlines, which Python's never does: the ARE runs
    # insensitive, and `.`, `^` and `$` are spelled out for the options instead.
    return "(?i)" + body if "i" in options else body


class _Translator:
    def __init__(self, pattern: str, multiline: bool, dotall: bool, verbose: bool) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        self.multiline = multiline
        self.dotall = dotall
        self.verbose = verbose
        self.backrefs = False
        self.lookaround = False

    def run(self) -> str:
        src = self.src
        while self.i < len(src):
            ch = src[self.i]
            if self.verbose and ch.isspace():
                self.i += 1
            elif self.verbose and ch == "#":
                end = src.find("\n", self.i)
                self.i = len(src) if end < 0 else end + 1
            elif ch == "\\":
                self._escape()
            elif ch == "[":
                self._bracket()
            elif ch == "(":
                self._group()
            elif ch == "{":
                self._brace()
            elif ch == "$":
                # Python's `$` also matches before a final newline (with m, before any); ARE's only at the very end.
                self.out.append(r"(?=\n|\Z)" if self.multiline else r"(?=\n?\Z)")
                self.lookaround = True
                self.i += 1
            elif ch == "^" and self.multiline:
                self.out.append(r"(?:^|(?<=\n))")
                self.lookaround = True
                self.i += 1
            elif ch == "." and not self.dotall:
                self.out.append(r"[^\n]")
                self.i += 1
            elif ch in _QUANTIFIERS:
                self.out.append(ch)
                self.i += 1
                self._no_possessive()
            else:
                self.out.append(ch)
                self.i += 1
        if self.backrefs and self.lookaround:
            raise _Untranslatable  # ARE refuses back references in a regex that has lookahead constraints
        return "".join(self.out)

    def _no_possessive(self) -> None:
        if self.i < len(self.src) and self.src[self.i] == "+":
            raise _Untranslatable

    def _escape(self) -> None:
        src = self.src
        if self.i + 1 >= len(src):
            raise _Untranslatable
        ch = src[self.i + 1]
        self.i += 2
        if ch.isdigit():
            if ch == "0" or (self.i < len(src) and src[self.i].isdigit()):
                raise _Untranslatable  # octal, or a back reference past 9
            self.backrefs = True
            self.out.append("\\" + ch)
        elif ch in "wWbB":
            # Python's word characters include combining marks and joiners, ICU's do not (e.g. Hindi vowel signs).
            raise _Untranslatable
        elif ch == "Z":
            self.out.append(r"\Z")  # Python's \Z is the very end, as ARE's
        elif ch in _SAME_ESCAPES:
            self.out.append("\\" + ch)
        elif ch in "xuU":
            self.out.append(self._code_point(ch))
        elif ch.isalnum() or not ch.isascii():
            raise _Untranslatable
        else:
            self.out.append("\\" + ch)

    def _code_point(self, kind: str) -> str:
        width = {"x": 2, "u": 4, "U": 8}[kind]
        digits = self.src[self.i:self.i + width]
        if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise _Untranslatable
        self.i += width
        value = int(digits, 16)
        if value == 0 or value > 0x10FFFF:
            raise _Untranslatable  # PostgreSQL text cannot hold NUL
        # ARE's \x reads every hex digit that follows: spell it with a fixed width instead.
        return f"\\U{value:08x}"

    def _bracket(self) -> None:
        src = self.src
        start = self.i
        self.i += 1
        parts = ["["]
        if self.i < len(src) and src[self.i] == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(src):
                raise _Untranslatable
            ch = src[self.i]
            if ch == "]" and not first:
                parts.append("]")
                self.i += 1
                break
            if ch == "[":
                raise _Untranslatable  # POSIX classes and nested sets differ between the engines
            if ch == "\\":
                if self.i + 1 >= len(src):
                    raise _Untranslatable
                esc = src[self.i + 1]
                self.i += 2
                if esc in _CLASS_ESCAPES:
                    parts.append("\\" + esc)
                elif esc == "b":
                    parts.append(r"\U00000008")  # backspace inside a class, in Python
                elif esc in "xuU":
                    parts.append(self._code_point(esc))
                elif esc.isalnum() or not esc.isascii():
                    raise _Untranslatable
                else:
                    parts.append("\\" + esc)
            else:
                parts.append(ch)
                self.i += 1
            first = False
        if self.i - start < 2:
            raise _Untranslatable
        self.out.append("".join(parts))

    def _group(self) -> None:
        src = self.src
        if src.startswith("(?:", self.i):
            self.out.append("(?:")
            self.i += 3
        elif src.startswith("(?=", self.i) or src.startswith("(?!", self.i):
            self.lookaround = True
            self.out.append(src[self.i:self.i + 3])
            self.i += 3
        elif src.startswith("(?", self.i):
            raise _Untranslatable  # lookbehind, named/atomic groups, comments, conditionals, inline flags
        else:
            self.out.append("(")
            self.i += 1

    def _brace(self) -> None:
        found = _BOUND_RE.match(self.src, self.i)
        if found is None or (not found.group(1) and not found.group(2)) or not found.group(1):
            if found is not None and not found.group(1) and found.group(2):
                raise _Untranslatable  # `{,n}`: a bound to `regex`, a literal to `re`
            self.out.append(r"\{")  # not a bound: a literal brace, as PCRE and Python read it
            self.i += 1
            return
        low = int(found.group(1))
        high = found.group(3)
        if low > _ARE_DUPMAX or (high and int(high) > _ARE_DUPMAX):
            raise _Untranslatable
        self.out.append(found.group(0))
        self.i = found.end()
        self._no_possessive()
