"""Cloud: one app's registry of triggers, functions and jobs (no process-global store), plus the loader binding."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.cloud.request import (
    AfterFindRequest,
    ConnectRequest,
    DeleteRequest,
    FileRequest,
    FindRequest,
    FunctionRequest,
    JobRequest,
    LiveEventRequest,
    LoginRequest,
    SaveRequest,
    SubscribeRequest,
)
from engine.cloud.triggers import CONNECT_CLASS, FILE_CLASS, FILE_TRIGGERS, TriggerType, check_trigger_class
from engine.cloud.validators import Validator, ValidatorFn, to_validator
from engine.errors import ErrorCode, ParseError

log = logging.getLogger("engine.cloud")

HookFn = Callable[[Any], Any]
F = TypeVar("F", bound=HookFn)
# What each decorator accepts: a hook whose parameter is not the request its trigger passes is a type error
# (a hook may be sync or async; what it returns is checked at run time).
SaveHook = TypeVar("SaveHook", bound=Callable[[SaveRequest], object])
DeleteHook = TypeVar("DeleteHook", bound=Callable[[DeleteRequest], object])
FindHook = TypeVar("FindHook", bound=Callable[[FindRequest], object])
AfterFindHook = TypeVar("AfterFindHook", bound=Callable[[AfterFindRequest], object])
LoginHook = TypeVar("LoginHook", bound=Callable[[LoginRequest], object])
FunctionHook = TypeVar("FunctionHook", bound=Callable[[FunctionRequest], object])
JobHook = TypeVar("JobHook", bound=Callable[[JobRequest], object])
FileHook = TypeVar("FileHook", bound=Callable[[FileRequest], object])
# LiveQuery triggers
ConnectHook = TypeVar("ConnectHook", bound=Callable[[ConnectRequest], object])
SubscribeHook = TypeVar("SubscribeHook", bound=Callable[[SubscribeRequest], object])
LiveEventHook = TypeVar("LiveEventHook", bound=Callable[[LiveEventRequest], object])
ValidatorSpec = Validator | Mapping[str, Any] | ValidatorFn | None

# Parse's triggers.js refuses names with quotes and walks dotted paths through plain objects; we allow a
# conservative charset and look names up by exact dict key, never attribute access (security catalog S06).
_FUNCTION_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_CLASS_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_NAME = 128


def valid_function_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= _MAX_NAME and bool(_FUNCTION_NAME_RE.match(name))


def quoted_name(name: object) -> str:
    """The name as Parse echoes it in errors, cut short so a huge path segment is not reflected whole."""
    text = name if isinstance(name, str) else repr(name)
    return text if len(text) <= _MAX_NAME else text[:_MAX_NAME] + "…"


def invalid_function(name: object) -> ParseError:
    return ParseError(ErrorCode.SCRIPT_FAILED, f'Invalid function: "{quoted_name(name)}"')


@dataclass(frozen=True, slots=True)
class Hook:
    """A registered callable: ``kind`` is a TriggerType value, ``"function"`` or ``"job"``; ``name`` the class or
    function name."""

    kind: str
    name: str
    fn: HookFn
    validator: Validator | ValidatorFn | None = None
    url: str | None = None  # a webhook's URL (engine.cloud.webhooks); None for the app's own Python code


class Cloud:
    """One app's hooks. ``@cloud.before_save("Night")`` registers directly; hook modules use the module-level
    decorators of ``engine.cloud``, which register into the Cloud the loader binds (see ``binding``)."""

    def __init__(self, name: str = "app") -> None:
        self.name = name
        self._triggers: dict[tuple[TriggerType, str], Hook] = {}
        self._functions: dict[str, Hook] = {}
        self._jobs: dict[str, Hook] = {}
        self._on_start: list[Hook] = []

    def __repr__(self) -> str:
        return (
            f"Cloud({self.name!r}, triggers={len(self._triggers)}, functions={len(self._functions)}, "
            f"jobs={len(self._jobs)})"
        )

    # -- registration ---------------------------------------------------------------------------------------------

    def register_trigger(self, kind: TriggerType, class_name: str, fn: HookFn, validator: ValidatorSpec = None) -> Hook:
        kind = TriggerType(kind)
        _check_class(kind, class_name)
        _check_callable(fn, f"{kind} {class_name}")
        hook = Hook(str(kind), class_name, fn, to_validator(validator))
        key = (kind, class_name)
        if key in self._triggers:
            log.warning("Duplicate %s trigger for %s in %s: only the last one will be used", kind, class_name, self)
        self._triggers[key] = hook
        return hook

    def register_function(self, name: str, fn: HookFn, validator: ValidatorSpec = None) -> Hook:
        if not valid_function_name(name):
            raise invalid_function(name)
        _check_callable(fn, f"function {name}")
        hook = Hook("function", name, fn, to_validator(validator))
        if name in self._functions:
            log.warning("Duplicate cloud function %s in %s: only the last one will be used", name, self)
        self._functions[name] = hook
        return hook

    def register_job(self, name: str, fn: HookFn) -> Hook:
        if not valid_function_name(name):
            raise ParseError(ErrorCode.SCRIPT_FAILED, f'Invalid job: "{quoted_name(name)}"')
        _check_callable(fn, f"job {name}")
        hook = Hook("job", name, fn)
        if name in self._jobs:
            log.warning("Duplicate cloud job %s in %s: only the last one will be used", name, self)
        self._jobs[name] = hook
        return hook

    # -- webhooks (stored in `_Hooks`, registered at run time). The app's Python code always wins: Parse loads cloud
    # code after the stored hooks at start, so a same-named webhook is never the one that runs there; here it is
    # refused up front (143) rather than stored and silently shadowed. --------------------------------------------

    def add_webhook_function(self, name: str, fn: HookFn, url: str) -> Hook:
        if not valid_function_name(name):
            raise ParseError(ErrorCode.WEBHOOK_ERROR, "invalid hook declaration")
        existing = self._functions.get(name)
        if existing is not None and existing.url is None:
            raise ParseError(ErrorCode.WEBHOOK_ERROR, f"function name: {name} is defined in cloud code")
        hook = Hook("function", name, fn, None, url)
        self._functions[name] = hook
        return hook

    def add_webhook_trigger(self, kind: TriggerType, class_name: str, fn: HookFn, url: str) -> Hook:
        if not isinstance(class_name, str) or not _CLASS_NAME_RE.match(class_name) or len(class_name) > _MAX_NAME:
            raise ParseError(ErrorCode.WEBHOOK_ERROR, "invalid hook declaration")
        kind = TriggerType(kind)
        existing = self._triggers.get((kind, class_name))
        if existing is not None and existing.url is None:
            raise ParseError(ErrorCode.WEBHOOK_ERROR, f"class {class_name} has a {kind} trigger in cloud code")
        hook = Hook(str(kind), class_name, fn, None, url)
        self._triggers[(kind, class_name)] = hook
        return hook

    def remove_webhook_function(self, name: str) -> None:
        hook = self._functions.get(name)
        if hook is not None and hook.url is not None:
            del self._functions[name]

    def remove_webhook_trigger(self, kind: TriggerType, class_name: str) -> None:
        key = (TriggerType(kind), class_name)
        hook = self._triggers.get(key)
        if hook is not None and hook.url is not None:
            del self._triggers[key]

    # -- decorators (Parse.Cloud.beforeSave & co.) ----------------------------------------------------------------

    def _trigger(self, kind: TriggerType, class_name: str, validator: ValidatorSpec) -> Callable[[F], F]:
        # Checked at the decorator line, so a bad class name or validator fails before any function is seen.
        _check_class(kind, class_name)
        validator = to_validator(validator)

        def decorate(fn: F) -> F:
            self.register_trigger(kind, class_name, fn, validator)
            return fn

        return decorate

    def _fixed_class(self, kind: TriggerType, class_name: str, fn: Any, validator: ValidatorSpec) -> Any:
        # Login/logout triggers have an implied class; allow both @before_login and @before_login(validator=...).
        if fn is not None and not callable(fn):  # @before_login({"requireUser": True}): a validator, positionally
            fn, validator = None, fn
        if fn is not None:
            self.register_trigger(kind, class_name, fn, validator)
            return fn
        return self._trigger(kind, class_name, validator)

    def before_save(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[SaveHook], SaveHook]:
        return self._trigger(TriggerType.BEFORE_SAVE, class_name, validator)

    def after_save(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[SaveHook], SaveHook]:
        return self._trigger(TriggerType.AFTER_SAVE, class_name, validator)

    def before_delete(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[DeleteHook], DeleteHook]:
        return self._trigger(TriggerType.BEFORE_DELETE, class_name, validator)

    def after_delete(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[DeleteHook], DeleteHook]:
        return self._trigger(TriggerType.AFTER_DELETE, class_name, validator)

    def before_find(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[FindHook], FindHook]:
        return self._trigger(TriggerType.BEFORE_FIND, class_name, validator)

    def after_find(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[AfterFindHook], AfterFindHook]:
        return self._trigger(TriggerType.AFTER_FIND, class_name, validator)

    def before_login(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._fixed_class(TriggerType.BEFORE_LOGIN, "_User", fn, validator)

    def after_login(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._fixed_class(TriggerType.AFTER_LOGIN, "_User", fn, validator)

    def after_logout(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._fixed_class(TriggerType.AFTER_LOGOUT, "_Session", fn, validator)

    # -- file triggers (Parse.Cloud.beforeSave(Parse.File) & co.): no class name, always FILE_CLASS ---------------

    def _file_trigger(self, kind: TriggerType, fn: Any, validator: ValidatorSpec) -> Any:
        if fn is not None and not callable(fn):  # @before_save_file({"requireUser": True})
            fn, validator = None, fn
        validator = to_validator(validator)

        def decorate(hook: FileHook) -> FileHook:
            self.register_trigger(kind, FILE_CLASS, hook, validator)
            return hook

        return decorate(fn) if fn is not None else decorate

    def before_save_file(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._file_trigger(TriggerType.BEFORE_SAVE_FILE, fn, validator)

    def after_save_file(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._file_trigger(TriggerType.AFTER_SAVE_FILE, fn, validator)

    def before_delete_file(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._file_trigger(TriggerType.BEFORE_DELETE_FILE, fn, validator)

    def after_delete_file(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        return self._file_trigger(TriggerType.AFTER_DELETE_FILE, fn, validator)

    # -- LiveQuery triggers (Parse.Cloud.beforeConnect, beforeSubscribe, afterLiveQueryEvent) ----------------------

    def before_connect(self, fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
        """``@before_connect`` or ``@before_connect(validator=...)``: every LiveQuery `connect`."""
        return self._fixed_class(TriggerType.BEFORE_CONNECT, CONNECT_CLASS, fn, validator)

    def before_subscribe(self, class_name: str,
                         validator: ValidatorSpec = None) -> Callable[[SubscribeHook], SubscribeHook]:
        return self._trigger(TriggerType.BEFORE_SUBSCRIBE, class_name, validator)

    def after_event(self, class_name: str, validator: ValidatorSpec = None) -> Callable[[LiveEventHook], LiveEventHook]:
        return self._trigger(TriggerType.AFTER_EVENT, class_name, validator)

    def define(self, name: str, validator: ValidatorSpec = None) -> Callable[[FunctionHook], FunctionHook]:
        if callable(name):
            raise TypeError('@define needs the function name: @define("hello")')
        if not valid_function_name(name):
            raise invalid_function(name)
        validator = to_validator(validator)

        def decorate(fn: FunctionHook) -> FunctionHook:
            self.register_function(name, fn, validator)
            return fn

        return decorate

    def job(self, name: str) -> Callable[[JobHook], JobHook]:
        if callable(name):
            raise TypeError('@job needs the job name: @job("nightly")')

        def decorate(fn: JobHook) -> JobHook:
            self.register_job(name, fn)
            return fn

        return decorate

    def on_start(self, fn: JobHook) -> JobHook:
        """Runs once per server start, after the schema is provisioned, with the master key (a JobRequest named
        ``on_start``), e.g. to make sure the roles the CLPs name exist. A failure stops the start."""
        _check_callable(fn, "on_start")
        self._on_start.append(Hook("job", "on_start", fn))
        return fn

    def start_hooks(self) -> list[Hook]:
        return list(self._on_start)

    # -- lookup (exact dict keys; request-supplied names never reach getattr) --------------------------------------

    def trigger(self, kind: TriggerType, class_name: str) -> Hook | None:
        return self._triggers.get((TriggerType(kind), class_name)) if isinstance(class_name, str) else None

    def has_trigger(self, kind: TriggerType, class_name: str) -> bool:
        return self.trigger(kind, class_name) is not None

    def function(self, name: str) -> Hook | None:
        """The function registered under exactly ``name``; None when unknown or not a valid name."""
        return self._functions.get(name) if valid_function_name(name) else None

    def job_fn(self, name: str) -> Hook | None:
        return self._jobs.get(name) if valid_function_name(name) else None

    def function_names(self) -> list[str]:
        return sorted(self._functions)

    def job_names(self) -> list[str]:
        return sorted(self._jobs)

    def triggers(self) -> list[Hook]:
        return list(self._triggers.values())

    def webhooks(self) -> list[Hook]:
        """Every registered webhook (a hook served by a URL), functions and triggers alike."""
        return [h for h in (*self._functions.values(), *self._triggers.values()) if h.url is not None]


def _snake(kind: TriggerType) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", str(kind)).lower()


def _check_class(kind: TriggerType, class_name: object) -> None:
    if (kind in FILE_TRIGGERS and class_name == FILE_CLASS) or (
            kind is TriggerType.BEFORE_CONNECT and class_name == CONNECT_CLASS):
        return
    if not isinstance(class_name, str) or not _CLASS_NAME_RE.match(class_name):
        raise TypeError(f'@{_snake(kind)} needs a class name, e.g. @{_snake(kind)}("Night"); got {class_name!r}')
    check_trigger_class(kind, class_name)


def _check_callable(fn: object, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what}: hook must be callable, got {fn!r}")


# -- binding: module-level decorators register into the Cloud the loader is importing for --------------------------

_bound: ContextVar[Cloud | None] = ContextVar("engine_cloud_bound_registry", default=None)


@contextmanager
def binding(cloud: Cloud) -> Iterator[Cloud]:
    """While active, ``engine.cloud.before_save`` & co. register into ``cloud`` (the loader wraps imports in it)."""
    if not isinstance(cloud, Cloud):
        raise TypeError("binding() needs a Cloud")
    token = _bound.set(cloud)
    try:
        yield cloud
    finally:
        _bound.reset(token)


def bound_cloud() -> Cloud:
    cloud = _bound.get()
    if cloud is None:
        raise RuntimeError(
            "engine.cloud decorators register into the app whose hooks are being loaded, and none is: load this "
            "module with engine.cloud.loader.load_hooks(cloud, spec), wrap the import in `with binding(cloud):`, "
            "or register on a Cloud directly (@cloud.before_save(...))."
        )
    return cloud
