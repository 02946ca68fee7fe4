"""Dotted keys into an Object (jsonb) column as SQL/JSON path predicates, with match.py's semantics.

jsonpath's lax mode reads ``a.b`` through an array of objects as each element's ``b`` -- MongoDB's rule, which
match.py follows. Every step keeps only objects, and refuses those carrying ``__type`` (a Date, Pointer,
GeoPoint... is a value to match.py, not an object to walk into); the final test skips nested arrays, which lax
mode would otherwise unwrap a second time. Values are passed as jsonpath variables, never spliced in; the path
text is built from keys the parser already restricted to ``[A-Za-z0-9_]``, and grows linearly with the key and
the value list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.query.where import Path
from engine.storage.sqlite_codec import dumps
from engine.wire import Value

# Only plain objects are walked into: lax mode would also step through a nested array (which match.py does not)
# and into a Parse-encoded value.
_GUARD = '? (@.type() == "object" && !exists(@."__type"))'
_JSON_OPS = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def plain(value: Value) -> bool:
    """A value jsonpath (and jsonb's `@>`/`<@`) compares exactly as match.py does: a string, a finite number, or a
    boolean (1 == 1.0, true != 1)."""
    if isinstance(value, bool | str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)


def walkable(rest: Path) -> bool:
    # A numeric part is an array index *and* a key to match.py; jsonpath can only say one of them.
    return bool(rest) and all(not part.isdigit() for part in rest)


def steps(rest: Path) -> str:
    return "lax $ " + _GUARD + "".join(f' ."{part}"' + (f" {_GUARD}" if i < len(rest) - 1 else "")
                                        for i, part in enumerate(rest))


def test(rest: Path, op: str, count: int) -> str:
    """The path, filtered to values ``op`` any of ``$v0..$v{count-1}`` (jsonpath variables)."""
    tests = " || ".join(f"@ {_JSON_OPS[op]} $v{i}" for i in range(count))
    return f'{steps(rest)} ? (@.type() != "array" && ({tests}))'


def variables(values: Sequence[Value]) -> str:
    return dumps({f"v{i}": v for i, v in enumerate(values)})
