"""Per-object ACLs compiled into storage constraints, so reads and writes are filtered in the store."""

from __future__ import annotations

from engine.query.where import MATCH_ALL, Exists, In, Or, Where
from engine.security.auth import Auth


def _constraint(field: str, auth: Auth) -> Where:
    if auth.is_master:
        return MATCH_ALL
    # An object without an ACL is public, exactly as in Parse Server.
    return Or((Exists((field,), False), In((field,), auth.principals())))


def read_constraint(auth: Auth) -> Where:
    """Rows this caller may read."""
    return _constraint("_rperm", auth)


def write_constraint(auth: Auth) -> Where:
    """Rows this caller may update or delete."""
    return _constraint("_wperm", auth)
