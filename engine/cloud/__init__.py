"""The hook author's API: module-level decorators that register into the app being loaded, and request types.

```python
from engine.cloud import ErrorCode, ParseError, TriggerRequest, before_save

@before_save("Night")
async def check_minutes(req: TriggerRequest) -> None:
    if req.object["minutesAsleep"] > req.object["minutesInBed"]:
        raise ParseError(ErrorCode.VALIDATION_ERROR, "minutesAsleep exceeds minutesInBed")
```

The decorators look up the Cloud bound by ``binding(cloud)`` (the loader binds the app's own registry while it
imports hook modules), so there is no process-global store and two apps in one process keep separate hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.cloud.data import CloudQuery, DataAccess, DataApi
from engine.cloud.objects import CloudObject
from engine.cloud.registry import (
    AfterFindHook,
    Cloud,
    DeleteHook,
    FindHook,
    FunctionHook,
    Hook,
    JobHook,
    LiveEventHook,
    SaveHook,
    SubscribeHook,
    ValidatorSpec,
    binding,
    bound_cloud,
)
from engine.cloud.request import (
    AfterFindRequest,
    CloudFile,
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
    TriggerRequest,
)
from engine.cloud.triggers import TriggerType
from engine.cloud.validators import FieldRule, Validator
from engine.errors import ErrorCode, ParseError

__all__ = [
    "AfterFindRequest",
    "Cloud",
    "CloudFile",
    "CloudObject",
    "CloudQuery",
    "ConnectRequest",
    "DataAccess",
    "DataApi",
    "DeleteRequest",
    "ErrorCode",
    "FieldRule",
    "FileRequest",
    "FindRequest",
    "FunctionRequest",
    "Hook",
    "JobRequest",
    "LiveEventRequest",
    "LoginRequest",
    "ParseError",
    "SaveRequest",
    "SubscribeRequest",
    "TriggerRequest",
    "TriggerType",
    "Validator",
    "after_delete",
    "after_delete_file",
    "after_event",
    "after_find",
    "after_login",
    "after_logout",
    "after_save",
    "after_save_file",
    "before_connect",
    "before_delete",
    "before_delete_file",
    "before_find",
    "before_login",
    "before_save",
    "before_save_file",
    "before_subscribe",
    "binding",
    "define",
    "job",
    "on_start",
]


def before_save(class_name: str, validator: ValidatorSpec = None) -> Callable[[SaveHook], SaveHook]:
    return bound_cloud().before_save(class_name, validator)


def after_save(class_name: str, validator: ValidatorSpec = None) -> Callable[[SaveHook], SaveHook]:
    return bound_cloud().after_save(class_name, validator)


def before_delete(class_name: str, validator: ValidatorSpec = None) -> Callable[[DeleteHook], DeleteHook]:
    return bound_cloud().before_delete(class_name, validator)


def after_delete(class_name: str, validator: ValidatorSpec = None) -> Callable[[DeleteHook], DeleteHook]:
    return bound_cloud().after_delete(class_name, validator)


def before_find(class_name: str, validator: ValidatorSpec = None) -> Callable[[FindHook], FindHook]:
    return bound_cloud().before_find(class_name, validator)


def after_find(class_name: str, validator: ValidatorSpec = None) -> Callable[[AfterFindHook], AfterFindHook]:
    return bound_cloud().after_find(class_name, validator)


def before_login(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    """``@before_login`` or ``@before_login(validator=...)``: the class is always ``_User``."""
    return bound_cloud().before_login(fn, validator=validator)


def after_login(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    return bound_cloud().after_login(fn, validator=validator)


def after_logout(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    """``@after_logout``: the request's object is the ``_Session`` that ended."""
    return bound_cloud().after_logout(fn, validator=validator)


def define(name: str, validator: ValidatorSpec = None) -> Callable[[FunctionHook], FunctionHook]:
    return bound_cloud().define(name, validator)


def job(name: str) -> Callable[[JobHook], JobHook]:
    return bound_cloud().job(name)


def on_start(fn: JobHook) -> JobHook:
    """``@on_start``: run ``fn(JobRequest)`` with the master key each time the server starts."""
    return bound_cloud().on_start(fn)


# ---- file triggers: ``@before_save_file`` or ``@before_save_file(validator={...})``; the request is a FileRequest --


def before_save_file(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    """May refuse an upload (raise ParseError) or change ``req.file.name`` / ``metadata`` / ``tags``."""
    return bound_cloud().before_save_file(fn, validator=validator)


def after_save_file(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    return bound_cloud().after_save_file(fn, validator=validator)


def before_delete_file(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    return bound_cloud().before_delete_file(fn, validator=validator)


def after_delete_file(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    return bound_cloud().after_delete_file(fn, validator=validator)


# ---- LiveQuery triggers ----

def before_connect(fn: Any = None, *, validator: ValidatorSpec = None) -> Any:
    """``@before_connect``: every LiveQuery `connect`; raise a ParseError to refuse the connection."""
    return bound_cloud().before_connect(fn, validator=validator)


def before_subscribe(class_name: str, validator: ValidatorSpec = None) -> Callable[[SubscribeHook], SubscribeHook]:
    """``@before_subscribe("Night")``: raise to refuse a subscription, edit ``req.query`` to change it."""
    return bound_cloud().before_subscribe(class_name, validator)


def after_event(class_name: str, validator: ValidatorSpec = None) -> Callable[[LiveEventHook], LiveEventHook]:
    """``@after_event("Night")``: return False to drop an event, edit ``req.object`` to change what is sent."""
    return bound_cloud().after_event(class_name, validator)
