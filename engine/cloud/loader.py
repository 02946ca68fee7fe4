"""Import the app's hook modules (a dotted module, a .py file, or a directory such as hooks/)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


class HookImportError(Exception):
    """A hook module failed to import; ``__cause__`` carries the module's own traceback."""


def _from_file(path: Path, package: str) -> ModuleType:
    name = f"{package}.{path.stem}" if package else path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HookImportError(f"cannot import hook file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise HookImportError(f"hook module {path} failed to import: {exc}") from exc
    return module


def load_hook_modules(spec: str) -> list[ModuleType]:
    """Every module named by ``spec``, imported in a stable (sorted) order."""
    if not spec:
        return []
    path = Path(spec)
    if path.is_dir():
        package = f"_sleeplab_hooks_{abs(hash(str(path.resolve())))}"
        return [_from_file(p, package) for p in sorted(path.glob("*.py")) if not p.name.startswith("_")]
    if path.suffix == ".py":
        if not path.is_file():
            raise HookImportError(f"hook file {path} does not exist")
        return [_from_file(path, "")]
    try:
        return [importlib.import_module(spec)]
    except Exception as exc:
        raise HookImportError(f"hook module {spec} failed to import: {exc}") from exc
