"""Input limits on write bodies: caps a real app never reaches, checked before any work is done.

A hostile body is bounded by the HTTP body cap (20 MiB) alone otherwise, and some costs grow faster than its
size (a 10 MB username compiled into a case-insensitive uniqueness regex took 90 s and 2.6 GB). Every cap here
is refused with a Parse error naming the cap, and client-supplied names are echoed truncated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.wire import INT64_MAX, INT64_MIN

MAX_FIELD_NAME_LENGTH = 128  # a top-level field (column) name; also the class-name cap
MAX_NESTED_KEY_LENGTH = 1024  # a key inside an Object value
MAX_VALUE_DEPTH = 32  # nesting of Object/Array values inside one field
MAX_OBJECT_KEYS = 1000  # keys of one Object value
MAX_ARRAY_LENGTH = 10_000  # items of one Array value (or of one Add/AddUnique/Remove op)
MAX_VALUE_NODES = 100_000  # values in one whole body, counted through every nesting level
MAX_STRING_LENGTH = 1024 * 1024  # characters of one string value (1 Mi); files belong in /files
MAX_CLASS_FIELDS = 500  # columns of one class: a client with addField rights must not grow it without bound
MAX_BODY_FIELDS = MAX_CLASS_FIELDS  # top-level keys of one write body
MAX_USERNAME_LENGTH = 256
MAX_EMAIL_LENGTH = 320  # RFC 5321's 64 + 1 + 255
MAX_PASSWORD_LENGTH = 1024  # bcrypt reads only the first 72 bytes; more is refused before hashing
SHOWN_NAME_LENGTH = 64  # how much of a client-supplied name an error message echoes


def shown(name: object) -> str:
    """A client-supplied name as an error message may echo it: never megabytes."""
    text = name if isinstance(name, str) else repr(name)
    return text if len(text) <= SHOWN_NAME_LENGTH else text[:SHOWN_NAME_LENGTH] + "…"


def _too_large(what: str) -> ParseError:
    return ParseError(ErrorCode.OBJECT_TOO_LARGE, what)


class _Walk:
    """One pass over a body, counting every value so the total work is bounded too."""

    def __init__(self) -> None:
        self.nodes = 0

    def value(self, value: object, where: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_VALUE_NODES:
            raise _too_large(f"The request holds more than {MAX_VALUE_NODES} values.")
        if isinstance(value, str):
            if len(value) > MAX_STRING_LENGTH:
                raise _too_large(f"The value of {where} is longer than {MAX_STRING_LENGTH} characters.")
        elif isinstance(value, bool):
            return
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise ParseError(ErrorCode.INVALID_JSON, f"The number in {where} does not fit in 64 bits.")
        elif isinstance(value, Mapping):
            self.mapping(value, where, depth)
        elif isinstance(value, list | tuple):
            if depth >= MAX_VALUE_DEPTH:
                raise _too_large(f"The value of {where} is nested more than {MAX_VALUE_DEPTH} levels deep.")
            if len(value) > MAX_ARRAY_LENGTH:
                raise _too_large(f"The array in {where} has more than {MAX_ARRAY_LENGTH} items.")
            for item in value:
                self.value(item, where, depth + 1)

    def mapping(self, value: Mapping[Any, Any], where: str, depth: int) -> None:
        if depth >= MAX_VALUE_DEPTH:
            raise _too_large(f"The value of {where} is nested more than {MAX_VALUE_DEPTH} levels deep.")
        if len(value) > MAX_OBJECT_KEYS:
            raise _too_large(f"The object in {where} has more than {MAX_OBJECT_KEYS} keys.")
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > MAX_NESTED_KEY_LENGTH:
                raise ParseError(ErrorCode.INVALID_NESTED_KEY,
                                 f"The key {shown(key)} in {where} is longer than {MAX_NESTED_KEY_LENGTH} characters.")
            self.value(item, where, depth + 1)


def check_write_body(body: Mapping[str, Any]) -> None:
    """Refuse a create/update body beyond the caps above, in one linear pass, before anything is decoded."""
    if len(body) > MAX_BODY_FIELDS:
        # 255 like the per-class column cap it mirrors: no object can have more fields than its class.
        raise ParseError(ErrorCode.INVALID_SCHEMA_OPERATION,
                         f"An object cannot have more than {MAX_BODY_FIELDS} fields")
    walk = _Walk()
    for key, value in body.items():
        if not isinstance(key, str):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, "Invalid field name.")
        # Dotted keys (`meta.count`) name a path; each segment is a field or nested key.
        if len(key) > MAX_FIELD_NAME_LENGTH + MAX_VALUE_DEPTH * (MAX_NESTED_KEY_LENGTH + 1):
            raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Invalid field name: {shown(key)}.")
        walk.value(value, shown(key), 0)


def check_value(value: object, where: str) -> None:
    """The same caps for one value outside an object body (a config parameter, a default value)."""
    _Walk().value(value, shown(where), 0)
