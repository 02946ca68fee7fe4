"""Parse's built-in validators: every rule, Parse's 142 messages, the master-key bypass, the dict form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.cloud import CloudObject, DataApi, FieldRule, FunctionRequest, ParseError, TriggerRequest, TriggerType
from engine.cloud.validators import Validator, check, skips_hook, to_validator
from engine.wire import Pointer
from tests.cloud.fakes import FakeAccess

USER = CloudObject("_User", "u1", {"email": "ada@example.com"})


def fn(
    params: dict[str, Any] | None = None, *, user: CloudObject | None = USER, master: bool = False
) -> FunctionRequest:
    return FunctionRequest(function_name="f", params=params if params is not None else {}, user=user, master=master,
                           data=DataApi(FakeAccess(), master=master))


def save(obj: CloudObject, original: CloudObject | None = None, *, user: CloudObject | None = USER,
         master: bool = False) -> TriggerRequest:
    return TriggerRequest(trigger_name=TriggerType.BEFORE_SAVE, class_name=obj.class_name, object=obj,
                          original=original, user=user, master=master, data=DataApi(FakeAccess(), master=master))


async def refused(validator: Any, request: Any, roles: frozenset[str] = frozenset()) -> str:
    with pytest.raises(ParseError) as err:
        await check(to_validator(validator), request, roles)
    assert err.value.code == 142
    return err.value.message


async def test_require_user_and_master() -> None:
    assert await refused({"requireUser": True}, fn(user=None)) == "Validation failed. Please login to continue."
    await check(Validator(require_user=True), fn(), frozenset())
    assert await refused({"requireMaster": True}, fn()) == (
        "Validation failed. Master key is required to complete this request."
    )
    await check(Validator(require_master=True), fn(master=True), frozenset())


async def test_signing_up_user_counts_as_the_user() -> None:
    new_user = CloudObject("_User", None, {"username": "ada"})
    await check(Validator(require_user=True), save(new_user, user=None), frozenset())
    stored = CloudObject("_User", "u2", {"username": "bob"}, created_at=datetime.now(UTC))
    assert await refused({"requireUser": True}, save(stored, stored.copy(), user=None)) == (
        "Validation failed. Please login to continue."
    )


async def test_master_skips_validators_unless_validate_master_key() -> None:
    strict = {"requireUser": True, "fields": {"n": {"required": True}}}
    await check(to_validator(strict), fn(user=None, master=True), frozenset())
    message = await refused({**strict, "validateMasterKey": True}, fn(user=None, master=True))
    assert message == "Validation failed. Please login to continue."


def test_skip_with_master_key() -> None:
    v = to_validator({"skipWithMasterKey": True})
    assert skips_hook(v, fn(master=True)) and not skips_hook(v, fn())
    assert not skips_hook(to_validator({"requireUser": True}), fn(master=True))


async def test_required_fields_list_and_dict_forms() -> None:
    assert await refused({"fields": ["a", "b"]}, fn({"a": 1})) == "Validation failed. Please specify data for b."
    assert await refused({"fields": {"a": {"required": True}}}, fn({"a": None})) == (
        "Validation failed. Please specify data for a."
    )
    await check(to_validator({"fields": {"a": {"required": True}}}), fn({"a": 0}), frozenset())
    obj = CloudObject("Night", None, {"m": 1})
    assert await refused({"fields": ["minutes"]}, save(obj)) == "Validation failed. Please specify data for minutes."


@pytest.mark.parametrize(
    ("rule_type", "good", "bad", "name"),
    [
        (str, "x", 1, "string"),
        ("String", "x", b"x", "string"),
        (int, 1.5, True, "number"),
        ("Number", 3, "3", "number"),
        (bool, False, 0, "boolean"),
        (list, [1], "[1]", "array"),
        (dict, {"a": 1}, [1], "object"),
        ("Date", datetime.now(UTC), "2024-01-01", "date"),
        ("Pointer", Pointer("_User", "u1"), "u1", "pointer"),
    ],
)
async def test_field_types(rule_type: Any, good: Any, bad: Any, name: str) -> None:
    validator = to_validator({"fields": {"x": {"type": rule_type}}})
    await check(validator, fn({"x": good}), frozenset())
    await check(validator, fn({}), frozenset())  # optional and absent: not type-checked
    assert await refused(validator, fn({"x": bad})) == f"Validation failed. Invalid type for x. Expected: {name}"


def test_unknown_type_name_stops_registration() -> None:
    with pytest.raises(ValueError, match="unknown validator type"):
        to_validator({"fields": {"x": {"type": "Strng"}}})
    with pytest.raises(ValueError, match="unknown validator rule option"):
        to_validator({"fields": {"x": {"requird": True}}})


async def test_defaults_fill_params_and_objects() -> None:
    params: dict[str, Any] = {}
    await check(to_validator({"fields": {"tz": {"default": "UTC", "required": True}}}), fn(params), frozenset())
    assert params == {"tz": "UTC"}
    obj = CloudObject("Night", None, {})
    await check(to_validator({"fields": {"tz": {"default": "UTC"}}}), save(obj), frozenset())
    assert obj["tz"] == "UTC" and "tz" in obj.dirty_keys()


async def test_constant_fields() -> None:
    rule = {"fields": {"owner": {"constant": True, "default": "system"}}}
    created = CloudObject("Night", None, {"owner": "mallory"})
    await check(to_validator(rule), save(created), frozenset())
    assert created["owner"] == "system"  # on create a constant takes its default
    original = CloudObject("Night", "n1", {"owner": "ada"}, created_at=datetime.now(UTC))
    updated = original.copy()
    updated["owner"] = "mallory"
    await check(to_validator(rule), save(updated, original), frozenset())
    assert updated["owner"] == "ada"  # on update the stored value is put back
    sneaky = original.copy()
    sneaky["extra"] = 1
    await check(to_validator({"fields": {"extra": {"constant": True}}}), save(sneaky, original), frozenset())
    assert "extra" not in sneaky


async def test_options_list_scalar_and_callable() -> None:
    v = to_validator({"fields": {"stage": {"options": ["N1", "N2", "REM"]}}})
    await check(v, fn({"stage": "REM"}), frozenset())
    assert await refused(v, fn({"stage": "W"})) == "Validation failed. Invalid option for stage. Expected: N1, N2, REM"
    assert await refused({"fields": {"s": {"options": "only"}}}, fn({"s": "x"})) == (
        "Validation failed. Invalid option for s. Expected: only"
    )
    custom = {"fields": {"s": {"options": ["a"], "error": "pick a"}}}
    assert await refused(custom, fn({"s": "b"})) == "pick a"

    async def positive(value: Any) -> bool:
        return value > 0

    v = to_validator({"fields": {"n": {"options": positive}}})
    await check(v, fn({"n": 1}), frozenset())
    assert await refused(v, fn({"n": -1})) == "Validation failed. Invalid value for n."
    await check(to_validator({"fields": {"n": {"options": lambda value: None}}}), fn({"n": 1}), frozenset())

    def raises(value: Any) -> bool:
        raise ValueError("too big")

    assert await refused({"fields": {"n": {"options": raises}}}, fn({"n": 1})) == "too big"
    assert await refused(Validator(fields={"n": FieldRule(options=raises, error="nope")}), fn({"n": 1})) == "nope"


async def test_roles() -> None:
    any_of = {"requireAnyUserRoles": ["Clinician", "Admin"]}
    await check(to_validator(any_of), fn(), frozenset({"Admin"}))
    await check(to_validator(any_of), fn(), frozenset({"role:Clinician"}))
    assert await refused(any_of, fn(), frozenset({"Patient"})) == (
        "Validation failed. User does not match the required roles."
    )
    assert await refused(any_of, fn(user=None)) == "Validation failed. Please login to continue."
    all_of = {"requireAllUserRoles": ["Clinician", "Admin"]}
    await check(to_validator(all_of), fn(), frozenset({"Admin", "Clinician", "Other"}))
    assert await refused(all_of, fn(), frozenset({"Admin"})) == (
        "Validation failed. User does not match all the required roles."
    )

    async def dynamic() -> list[str]:
        return ["Night"]

    await check(to_validator({"requireAnyUserRoles": dynamic}), fn(), frozenset({"Night"}))
    assert await refused({"requireAllUserRoles": lambda: ["Day"]}, fn(), frozenset({"Night"})) == (
        "Validation failed. User does not match all the required roles."
    )


async def test_require_user_keys() -> None:
    await check(to_validator({"requireUserKeys": ["email"]}), fn(), frozenset())
    assert await refused({"requireUserKeys": ["phone"]}, fn()) == (
        "Validation failed. Please set data for phone on your account."
    )
    assert await refused({"requireUserKeys": ["phone"]}, fn(user=None)) == "Please login to make this request."
    with_options = {"requireUserKeys": {"email": {"options": ["bob@example.com"]}}}
    assert await refused(with_options, fn()) == (
        "Validation failed. Invalid option for email. Expected: bob@example.com"
    )


async def test_function_validator() -> None:
    def only_even(req: FunctionRequest) -> None:
        if req.params.get("n", 0) % 2:
            raise ValueError("n must be even")

    await check(to_validator(only_even), fn({"n": 2}), frozenset())
    assert await refused(only_even, fn({"n": 3})) == "n must be even"

    def custom_code(req: FunctionRequest) -> None:
        raise ParseError(119, "nope")

    with pytest.raises(ParseError) as err:
        await check(to_validator(custom_code), fn(), frozenset())
    assert err.value.code == 119


def test_dict_form_converts_once_to_the_dataclass() -> None:
    v = to_validator({
        "requireUser": True, "requireMaster": False, "validateMasterKey": True, "skipWithMasterKey": False,
        "requireAnyUserRoles": ["A"], "requireAllUserRoles": "B", "requireUserKeys": ["email"],
        "fields": {"n": {"type": "Number", "required": True, "default": 1, "constant": False,
                         "options": [1, 2], "error": "bad n"}},
        "rateLimit": {"requestCount": 10, "requestTimeWindow": 60000},
    })
    assert v == Validator(
        require_user=True, validate_master_key=True, require_any_user_roles=("A",), require_all_user_roles=("B",),
        require_user_keys=("email",),
        fields={"n": FieldRule(type="Number", required=True, default=1, options=(1, 2), error="bad n")},
        rate_limit={"requestCount": 10, "requestTimeWindow": 60000},
    )
    with pytest.raises(ValueError):
        to_validator(42)
