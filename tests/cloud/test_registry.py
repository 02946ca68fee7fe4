"""Hooks register into the app's own Cloud: module-level decorators bound by the loader, exact-name lookups."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

import engine.cloud as cloud_api
from engine.cloud import Cloud, ParseError, TriggerType, Validator, binding
from engine.cloud.loader import HookImportError, load_hook_modules, load_hooks

HOOK_MODULE = '''
from engine.cloud import ParseError, after_logout, before_login, before_save, define, job

CALLS = []

@before_save("Night")
def check(req):
    CALLS.append(req)

@define("hello", validator={"requireUser": True})
async def hello(req):
    return "hi"

@job("nightly")
def nightly(req):
    return None

@before_login
def login(req):
    return None

@after_logout()
def logout(req):
    return None
'''


def _write_hooks(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "night.py").write_text(HOOK_MODULE)
    return directory


def test_trigger_names_are_parse_names() -> None:
    assert [t.value for t in TriggerType] == [
        "beforeSave", "afterSave", "beforeDelete", "afterDelete", "beforeFind", "afterFind",
        "beforeLogin", "afterLogin", "afterLogout",
        "beforeSaveFile", "afterSaveFile", "beforeDeleteFile", "afterDeleteFile",
        "beforeConnect", "beforeSubscribe", "afterEvent",
    ]


def test_two_apps_loading_one_directory_each_get_the_hooks(tmp_path: Path) -> None:
    hooks = _write_hooks(tmp_path / "hooks")
    a, b = Cloud("a"), Cloud("b")
    (mod_a,) = load_hooks(a, str(hooks))
    (mod_b,) = load_hooks(b, str(hooks))
    for cloud in (a, b):
        assert cloud.trigger(TriggerType.BEFORE_SAVE, "Night") is not None
        assert cloud.function("hello") is not None
        assert cloud.job_fn("nightly") is not None
        assert cloud.trigger(TriggerType.BEFORE_LOGIN, "_User") is not None
        assert cloud.trigger(TriggerType.AFTER_LOGOUT, "_Session") is not None
    # Each app got its own execution of the module, so module state is not shared either.
    assert mod_a is not mod_b
    assert a.trigger(TriggerType.BEFORE_SAVE, "Night").fn is mod_a.check  # type: ignore[union-attr]
    assert b.trigger(TriggerType.BEFORE_SAVE, "Night").fn is mod_b.check  # type: ignore[union-attr]
    assert a.function("hello").validator == Validator(require_user=True)  # type: ignore[union-attr]


def test_single_file_spec_registers(tmp_path: Path) -> None:
    hooks = _write_hooks(tmp_path / "h")
    cloud = Cloud()
    load_hooks(cloud, str(hooks / "night.py"))
    assert cloud.function_names() == ["hello"]


def test_dotted_module_is_executed_again_for_each_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "hookpkg_for_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import night  # noqa: F401\n")
    (pkg / "night.py").write_text(HOOK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        a, b = Cloud("a"), Cloud("b")
        load_hooks(a, "hookpkg_for_test")
        first = sys.modules["hookpkg_for_test.night"]
        load_hooks(b, "hookpkg_for_test")
        assert a.function("hello") is not None and b.function("hello") is not None
        assert a.function("hello").fn is not b.function("hello").fn  # type: ignore[union-attr]
        # The process keeps its first copy in sys.modules (and as the package attribute).
        assert sys.modules["hookpkg_for_test.night"] is first
        assert sys.modules["hookpkg_for_test"].night is first
    finally:
        for name in [n for n in sys.modules if n.startswith("hookpkg_for_test")]:
            del sys.modules[name]


def test_decorator_without_a_bound_app_raises() -> None:
    with pytest.raises(RuntimeError, match="load_hooks"):
        cloud_api.before_save("Night")
    with pytest.raises(RuntimeError):
        cloud_api.define("x")


def test_plain_import_of_a_hook_module_fails_clearly(tmp_path: Path) -> None:
    hooks = _write_hooks(tmp_path / "hooks")
    with pytest.raises(HookImportError) as err:
        load_hook_modules(str(hooks))
    assert isinstance(err.value.__cause__, RuntimeError)


def test_binding_is_restored_after_use() -> None:
    a, b = Cloud("a"), Cloud("b")
    with binding(a):
        with binding(b):
            cloud_api.define("inner")(lambda req: 1)
        cloud_api.define("outer")(lambda req: 2)
    assert b.function_names() == ["inner"]
    assert a.function_names() == ["outer"]
    with pytest.raises(RuntimeError):
        cloud_api.define("after")


def test_duplicate_registration_replaces_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    cloud = Cloud()

    def first(req: object) -> None: ...
    def second(req: object) -> None: ...

    cloud.before_save("Night")(first)
    with caplog.at_level(logging.WARNING, logger="engine.cloud"):
        cloud.before_save("Night")(second)
        cloud.define("f")(first)
        cloud.define("f")(second)
    assert cloud.trigger(TriggerType.BEFORE_SAVE, "Night").fn is second  # type: ignore[union-attr]
    assert cloud.function("f").fn is second  # type: ignore[union-attr]
    assert sum("Duplicate" in r.getMessage() for r in caplog.records) == 2


def test_decorators_return_the_function_and_login_forms() -> None:
    cloud = Cloud()

    def hook(req: object) -> None: ...

    assert cloud.after_find("Night")(hook) is hook
    assert cloud.before_login(hook) is hook
    assert cloud.after_login(validator={"requireUser": True})(hook) is hook
    assert cloud.after_login({"requireMaster": True})(hook) is hook  # a validator given positionally
    assert cloud.trigger(TriggerType.AFTER_LOGIN, "_User").validator == Validator(require_master=True)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "class_name"),
    [
        (TriggerType.BEFORE_LOGIN, "Night"),
        (TriggerType.AFTER_LOGOUT, "_User"),
        (TriggerType.BEFORE_SAVE, "_Session"),
        (TriggerType.BEFORE_SAVE, "_PushStatus"),
    ],
)
def test_parse_refuses_some_trigger_class_pairs(kind: TriggerType, class_name: str) -> None:
    with pytest.raises(ValueError):
        Cloud().register_trigger(kind, class_name, lambda req: None)


def test_class_and_function_names_are_checked_at_registration() -> None:
    cloud = Cloud()
    with pytest.raises(TypeError, match="class name"):
        cloud.before_save(lambda req: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloud.before_save("bad name")
    with pytest.raises(TypeError, match="function name"):
        cloud.define(lambda req: None)  # type: ignore[arg-type]
    with pytest.raises(ParseError) as err:
        cloud.define("../admin")(lambda req: None)
    assert err.value.code == 141
    with pytest.raises(ValueError, match="unknown validator option"):
        cloud.define("ok", validator={"requireUsr": True})(lambda req: None)


@pytest.mark.parametrize(
    "name",
    ["__proto__", "constructor", "__init__", "toString", "hasOwnProperty", "__class__", "_functions",
     "..%2Fadmin", "", "a b", "x" * 500],
)
def test_unknown_or_hostile_names_resolve_to_nothing(name: str) -> None:
    cloud = Cloud()
    cloud.define("hello")(lambda req: "hi")
    cloud.job("nightly")(lambda req: None)
    assert cloud.function(name) is None
    assert cloud.job_fn(name) is None
    assert cloud.trigger(TriggerType.BEFORE_SAVE, name) is None
