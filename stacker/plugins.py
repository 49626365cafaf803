"""Loading a stack's own Python code (resolutions, kernel matrix, validation suites) by path.

The engine is generic; what is specific to one bundle lives beside its stack.yaml and is imported
from there under a private module name, so two stacks (or a stack and a test) never collide in
`sys.modules`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from stacker.errors import ConfigError


def load_stack_module(path: Path, *, namespace: str = "stacker_stack") -> ModuleType:
    """Import a file or a package directory (its `__init__.py`) of the stack under a unique name."""
    path = path.resolve()
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file():
        raise ConfigError(f"{path}: expected a Python file or a package directory with __init__.py")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"{namespace}_{digest}_{path.stem.replace('-', '_')}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(path)] if path.is_dir() else None
    )
    if spec is None or spec.loader is None:
        raise ConfigError(f"{init}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ConfigError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    return module
