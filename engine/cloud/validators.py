"""Parse's built-in hook validators (requireUser, requireMaster, fields, roles...) with Parse's 142 messages.

Semantics and wording follow parse-server's ``builtInTriggerValidator`` / ``maybeRunValidator`` (src/triggers.js).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from engine.cloud.objects import CloudObject
from engine.cloud.request import FunctionRequest, HookRequest, TriggerRequest
from engine.errors import ErrorCode, ParseError
from engine.wire import Bytes, File, GeoPoint, Pointer, Polygon

RoleSpec = tuple[str, ...] | Callable[[], Iterable[str] | Awaitable[Iterable[str]]]
OptionsSpec = Sequence[Any] | Callable[[Any], Any] | None
# A plain function validator (Parse allows one in place of the options object): raise to refuse.
ValidatorFn = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One entry of ``fields``: ``type`` is a Python type (str, int, float, bool, list, dict, datetime...) or a
    Parse type name ("String", "Number", "Boolean", "Array", "Object", "Date", "Pointer", "GeoPoint", "File")."""

    type: type | str | None = None
    required: bool = False
    default: Any = None
    constant: bool = False
    options: OptionsSpec = None
    error: str | None = None

    def __post_init__(self) -> None:
        # A typo in a type name should stop start-up, not surface as a 500 on the first request.
        if isinstance(self.type, str) and self.type.lower() not in _PARSE_TYPES:
            raise ValueError(f"unknown validator type {self.type!r}; use one of {', '.join(sorted(_PARSE_TYPES))}")
        if self.type is not None and not isinstance(self.type, str | type):
            raise ValueError(f"validator type must be a Python type or a Parse type name, got {self.type!r}")


@dataclass(frozen=True, slots=True)
class Validator:
    require_user: bool = False
    require_master: bool = False
    validate_master_key: bool = False
    skip_with_master_key: bool = False
    require_any_user_roles: RoleSpec = ()
    require_all_user_roles: RoleSpec = ()
    require_user_keys: tuple[str, ...] | Mapping[str, FieldRule] = ()
    fields: Mapping[str, FieldRule] = field(default_factory=lambda: MappingProxyType({}))
    # Kept for the HTTP layer (Parse turns it into a route rate limit); not enforced here.
    rate_limit: Mapping[str, Any] | None = None


# -- registration-time conversion of Parse's camelCase dict -------------------------------------------------------

_VALIDATOR_KEYS = {
    "requireUser": "require_user",
    "requireMaster": "require_master",
    "validateMasterKey": "validate_master_key",
    "skipWithMasterKey": "skip_with_master_key",
    "requireAnyUserRoles": "require_any_user_roles",
    "requireAllUserRoles": "require_all_user_roles",
    "requireUserKeys": "require_user_keys",
    "fields": "fields",
    "rateLimit": "rate_limit",
}
_RULE_KEYS = frozenset({"type", "required", "default", "constant", "options", "error"})


def _rule(name: str, spec: object) -> FieldRule:
    if isinstance(spec, FieldRule):
        return spec
    if isinstance(spec, str):
        return FieldRule(required=True)  # Parse's `fields: {x: "x"}` shorthand marks the field required
    if not isinstance(spec, Mapping):
        raise ValueError(f"validator rule for {name!r} must be a dict or FieldRule")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise ValueError(f"unknown validator rule option(s) for {name!r}: {', '.join(sorted(unknown))}")
    options = spec.get("options")
    if options is not None and not callable(options) and isinstance(options, list | set | frozenset):
        options = tuple(options)
    return FieldRule(
        type=spec.get("type"),
        required=bool(spec.get("required", False)),
        default=spec.get("default"),
        constant=bool(spec.get("constant", False)),
        options=options,
        error=spec.get("error"),
    )


def _rules(spec: object) -> Mapping[str, FieldRule]:
    if spec is None:
        return MappingProxyType({})
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Sequence):  # Parse's array form: every name is required
        return MappingProxyType({str(name): FieldRule(required=True) for name in spec})
    if isinstance(spec, Mapping):
        return MappingProxyType({str(name): _rule(str(name), rule) for name, rule in spec.items()})
    raise ValueError("validator fields must be a list of names or a dict of rules")


def _roles(spec: object) -> RoleSpec:
    if spec is None:
        return ()
    if callable(spec):
        return spec
    if isinstance(spec, str):
        return (spec,)
    return tuple(str(role) for role in spec)  # type: ignore[attr-defined]


def to_validator(spec: object) -> Validator | ValidatorFn | None:
    """Normalise what a decorator received (None, Validator, Parse-style dict or a function) once, at registration."""
    if spec is None or isinstance(spec, Validator):
        return spec
    if isinstance(spec, Mapping):
        unknown = set(spec) - set(_VALIDATOR_KEYS)
        if unknown:
            raise ValueError(f"unknown validator option(s): {', '.join(sorted(unknown))}")
        user_keys = spec.get("requireUserKeys") or ()
        return Validator(
            require_user=bool(spec.get("requireUser", False)),
            require_master=bool(spec.get("requireMaster", False)),
            validate_master_key=bool(spec.get("validateMasterKey", False)),
            skip_with_master_key=bool(spec.get("skipWithMasterKey", False)),
            require_any_user_roles=_roles(spec.get("requireAnyUserRoles")),
            require_all_user_roles=_roles(spec.get("requireAllUserRoles")),
            require_user_keys=_rules(user_keys) if isinstance(user_keys, Mapping) else tuple(user_keys),
            fields=_rules(spec.get("fields")),
            rate_limit=spec.get("rateLimit"),
        )
    if callable(spec):
        return spec
    raise ValueError("validator must be a Validator, a dict of Parse validator options or a function")


# -- checking -------------------------------------------------------------------------------------------------------

_PARSE_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "string": ("string", (str,)),
    "number": ("number", (int, float)),
    "boolean": ("boolean", (bool,)),
    "array": ("array", (list, tuple)),
    "object": ("object", (Mapping,)),
    "date": ("date", (datetime,)),
    "pointer": ("pointer", (Pointer, CloudObject)),
    "geopoint": ("geopoint", (GeoPoint,)),
    "file": ("file", (File,)),
    "bytes": ("bytes", (Bytes,)),
    "polygon": ("polygon", (Polygon,)),
}
_PY_TYPES: dict[type, str] = {str: "string", int: "number", float: "number", bool: "boolean", list: "array",
                              tuple: "array", dict: "object", datetime: "date", Pointer: "pointer",
                              CloudObject: "pointer", GeoPoint: "geopoint", File: "file", Bytes: "bytes",
                              Polygon: "polygon"}  # fmt: skip


def _type_ok(expected: type | str, value: Any) -> tuple[bool, str]:
    """(matches, name for the message). Numbers follow JS: int and float are one type, bool is not a number."""
    key = expected.lower() if isinstance(expected, str) else _PY_TYPES.get(expected)
    if key is not None and key in _PARSE_TYPES:
        name, types = _PARSE_TYPES[key]
        if key == "number" and isinstance(value, bool):
            return False, name
        return isinstance(value, types), name
    if isinstance(expected, type):
        return isinstance(value, expected), expected.__name__.lower()
    raise ValueError(f"unknown validator type {expected!r}")


def _fail(message: str) -> ParseError:
    return ParseError(ErrorCode.VALIDATION_ERROR, message)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _option_list(options: Any) -> list[Any]:
    if isinstance(options, list | tuple | set | frozenset):
        return list(options)
    return [options]  # Parse wraps a single value: {options: "a"} means exactly "a"


async def _check_options(rule: FieldRule, key: str, value: Any) -> None:
    if callable(rule.options):
        try:
            result = await _maybe_await(rule.options(value))
        except ParseError:
            raise
        except Exception as exc:
            raise _fail(rule.error or str(exc) or f"Validation failed. Invalid value for {key}.") from exc
        # Parse: a falsy result other than null/undefined refuses; returning nothing accepts.
        if result is not None and not result:
            raise _fail(rule.error or f"Validation failed. Invalid value for {key}.")
        return
    allowed = _option_list(rule.options)
    if value not in allowed:
        expected = ", ".join(str(o) for o in allowed)
        raise _fail(rule.error or f"Validation failed. Invalid option for {key}. Expected: {expected}")


def _request_user(request: HookRequest) -> CloudObject | None:
    user = request.user if isinstance(request, TriggerRequest | FunctionRequest) else None
    if user is None and isinstance(request, TriggerRequest):
        obj = request.object
        # A _User being signed up counts as the user (Parse: object.className === '_User' && !object.existed()).
        if obj is not None and obj.class_name == "_User" and request.original is None and not obj.existed():
            return obj
    return user


async def _check_fields(validator: Validator, request: HookRequest) -> None:
    obj = request.object if isinstance(request, TriggerRequest) else None
    params: Any = obj if obj is not None else (request.params if isinstance(request, FunctionRequest) else {})
    original = request.original if isinstance(request, TriggerRequest) else None
    pending: list[tuple[FieldRule, str, Any]] = []
    for key, rule in validator.fields.items():
        value = params.get(key)
        if rule.default is not None and value is None:
            value = rule.default
            params[key] = value  # a function's params or the trigger's object both take the default
        if rule.constant and obj is not None:
            if original is not None:
                # The client may not change it: put back the stored value.
                if key in original:
                    obj[key] = original[key]
                elif key in obj:
                    obj.unset(key)
                value = obj.get(key)
            elif rule.default is not None:
                obj[key] = value = rule.default
        if rule.required and value is None:
            raise _fail(f"Validation failed. Please specify data for {key}.")
        if value is None:
            continue  # optional and absent: nothing more to check (Parse skips type and options too)
        if rule.type is not None:
            ok, name = _type_ok(rule.type, value)
            if not ok:
                raise _fail(f"Validation failed. Invalid type for {key}. Expected: {name}")
        if rule.options is not None:
            pending.append((rule, key, value))
    # Parse checks every type first, then options (which may be async), as here.
    for rule, key, value in pending:
        await _check_options(rule, key, value)


async def _resolve_roles(spec: RoleSpec) -> tuple[str, ...]:
    if callable(spec):
        return tuple(await _maybe_await(spec()))
    return spec


async def check(validator: Validator | ValidatorFn | None, request: HookRequest, user_roles: frozenset[str]) -> None:
    """Raise ParseError 142 when ``request`` fails ``validator``; ``user_roles`` are the caller's role names.

    A function validator runs for every request; raising refuses it (a ParseError keeps its code).
    """
    if validator is None:
        return
    if not isinstance(validator, Validator):
        try:
            await _maybe_await(validator(request))
        except ParseError:
            raise
        except Exception as exc:
            raise _fail(str(exc) or "Validation failed.") from exc
        return
    master = request.master
    if master and not validator.validate_master_key:
        return
    user = _request_user(request)
    needs_user = validator.require_user or validator.require_any_user_roles or validator.require_all_user_roles
    if needs_user and user is None:
        raise _fail("Validation failed. Please login to continue.")
    if validator.require_master and not master:
        raise _fail("Validation failed. Master key is required to complete this request.")
    await _check_fields(validator, request)
    # Roles may be given with or without Parse's "role:" prefix.
    held = {r.removeprefix("role:") for r in user_roles}
    any_roles = await _resolve_roles(validator.require_any_user_roles)
    if any_roles and not any(r in held for r in any_roles):
        raise _fail("Validation failed. User does not match the required roles.")
    for role in await _resolve_roles(validator.require_all_user_roles):
        if role not in held:
            raise _fail("Validation failed. User does not match all the required roles.")
    await _check_user_keys(validator, user)


async def _check_user_keys(validator: Validator, user: CloudObject | None) -> None:
    keys = validator.require_user_keys
    if isinstance(keys, Mapping):
        for key, rule in keys.items():
            if rule.options is not None:
                await _check_options(rule, key, user.get(key) if user is not None else None)
        return
    for key in keys:
        if user is None:
            raise _fail("Please login to make this request.")  # sic: Parse has no "Validation failed." here
        if user.get(key) is None:
            raise _fail(f"Validation failed. Please set data for {key} on your account.")


def skips_hook(validator: Validator | ValidatorFn | None, request: HookRequest) -> bool:
    """Parse's ``skipWithMasterKey``: a master request bypasses the trigger itself (not for functions)."""
    return isinstance(validator, Validator) and validator.skip_with_master_key and request.master
