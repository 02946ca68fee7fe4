"""Hook modules load from a module name, a file or a directory; an import error stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.cloud.loader import HookImportError, load_hook_modules


def test_directory_file_and_module(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("VALUE = 1\n")
    (tmp_path / "b.py").write_text("VALUE = 2\n")
    (tmp_path / "_private.py").write_text("raise SystemExit('never imported')\n")
    mods = load_hook_modules(str(tmp_path))
    assert [m.VALUE for m in mods] == [1, 2]
    assert load_hook_modules(str(tmp_path / "a.py"))[0].VALUE == 1
    assert load_hook_modules("json")[0].__name__ == "json"
    assert load_hook_modules("") == []


def test_import_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\nraise RuntimeError('boom in hook')\n")
    with pytest.raises(HookImportError) as err:
        load_hook_modules(str(tmp_path))
    assert isinstance(err.value.__cause__, RuntimeError)
    with pytest.raises(HookImportError):
        load_hook_modules(str(tmp_path / "missing.py"))
    with pytest.raises(HookImportError):
        load_hook_modules("no_such_module_anywhere")
    assert main(["serve", "--cloud", str(bad)]) == 2
    err_text = capsys.readouterr().err
    assert "boom in hook" in err_text and "bad.py\", line 2" in err_text
