"""Import the app's hook modules (a dotted module, a .py file, or a directory such as hooks/) into its Cloud."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from engine.cloud.registry import Cloud, binding


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


def _import_fresh(name: str) -> ModuleType:
    """Execute module ``name`` (and the submodules it imports) again, even when it is already imported.

    Registration happens as a side effect of executing the module, so a cached module would register into the
    first app only. The process keeps its existing copies in sys.modules; the fresh ones live on through the
    hooks that registered from them.
    """
    prefix = name + "."
    saved = {key: mod for key, mod in sys.modules.items() if key == name or key.startswith(prefix)}
    for key in saved:
        del sys.modules[key]
    try:
        return importlib.import_module(name)
    finally:
        if saved:
            for key in [k for k in sys.modules if k == name or k.startswith(prefix)]:
                del sys.modules[key]
            sys.modules.update(saved)
            for key, mod in saved.items():
                parent, _, child = key.rpartition(".")
                if parent and parent in sys.modules:
                    # The import system rebinds `parent.child` to the fresh module; point it back as well.
                    setattr(sys.modules[parent], child, mod)


def load_hooks(cloud: Cloud, spec: str) -> list[ModuleType]:
    """Import the hook modules named by ``spec`` with ``cloud`` bound, so their decorators register into it.

    Every call executes the modules afresh, so loading the same hooks into two apps registers in both.
    """
    with binding(cloud):
        return load_hook_modules(spec, fresh=True)


def load_hook_modules(spec: str, *, fresh: bool = False) -> list[ModuleType]:
    """Every module named by ``spec``, imported in a stable (sorted) order.

    Files and directories are always executed anew; a dotted module name is re-executed only when ``fresh``.
    """
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
        return [_import_fresh(spec) if fresh else importlib.import_module(spec)]
    except Exception as exc:
        raise HookImportError(f"hook module {spec} failed to import: {exc}") from exc
