"""Class rules no CLP can express: master-only system classes, `_Installation` listing, server-only classes,
append-only classes.

Parse Server checks these in `rest.js` (enforceRoleSecurity) before anything else, whatever the class's CLP
says; here they are one function every entry point reaches (the pipeline's door, and LiveQuery's subscribe).
"""

from __future__ import annotations

from engine.errors import ErrorCode, ParseError
from engine.schema.model import MASTER_ONLY_CLASSES
from engine.security.auth import Auth
from engine.security.clp import Op

_WRITES = (Op.CREATE, Op.UPDATE, Op.DELETE)


def _operation(op: Op) -> str:
    # Parse names a count and a get by the REST method that reached it.
    return {Op.COUNT: "find", Op.GET: "get"}.get(op, op.value)


def check_class_access(class_name: str, op: Op, auth: Auth, server_only: tuple[str, ...] = ()) -> None:
    """119 when this caller may never do `op` on the class; CLP and ACL are checked afterwards as usual."""
    if auth.is_master:
        return
    if class_name in MASTER_ONLY_CLASSES:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"Clients aren't allowed to perform the {_operation(op)} operation on the {class_name} "
                         "collection.")
    if class_name == "_Installation" and op in (Op.FIND, Op.COUNT, Op.DELETE):
        # Device tokens are push credentials: a client reads its own installation by id, never the list.
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"Clients aren't allowed to perform the {_operation(op)} operation on the installation "
                         "collection.")
    if class_name in server_only and op in _WRITES:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN, f"Clients may not write {class_name}; the server does.")


def check_append_only(class_name: str, op: Op, append_only: tuple[str, ...]) -> None:
    """119 for any change or removal of an append-only class's rows (an audit trail), master key included.

    Checked before the master-key bypass on purpose: the master key is exactly what an insider would use to
    rewrite history. Creates and reads stay governed by the other rules.
    """
    if class_name in append_only and op in (Op.UPDATE, Op.DELETE):
        verb = "update" if op is Op.UPDATE else "delete"
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"{class_name} is append-only: its objects cannot be {verb}d, even with the master key.")


def check_append_only_schema(class_name: str, append_only: tuple[str, ...], what: str) -> None:
    """119 for schema changes that would destroy an append-only class's data (drop the class, delete a field)."""
    if class_name in append_only:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                         f"{class_name} is append-only: {what} is refused, even with the master key.")
