"""FlashAttention-4's SM120 validation suites: the package `stack.yaml: validate:` names.

The engine (`stacker validate`) imports this package in its own process to plan cases and in
each worker process to run them; only the workers import the tree's `flash_attn`. The contract
is described in `stacker/validation_plugin.py`; the suites are listed in `registry.py` and
documented in docs/validation.md.
"""

from __future__ import annotations

from pathlib import Path

# What of the upstream tree the suites need: the package and its own tests.
TREE_PATHS = ("flash_attn/cute", "tests/cute")
# Variables a user may set for FA4 / the CuTe DSL (caches, dumps, logging); the target's own
# FLASH_ATTENTION_ARCH / CUTE_DSL_ARCH / FLASH_ATTENTION_NUM_SMS are set after these.
PASS_ENV = ("FLASH_ATTENTION_*", "CUTE_DSL_*")

_STACK_ROOT = Path(__file__).resolve().parent.parent


def targets():
    """The GPU targets of this stack's kernels package (kernels/targets.toml)."""
    import importlib

    from stacker.plugins import load_stack_module

    kernels = load_stack_module(_STACK_ROOT / "kernels", namespace="stacker_kernels")
    return importlib.import_module(f"{kernels.__name__}.targets").load_targets()


def suites() -> list[str]:
    from .registry import SUITES

    return list(SUITES)


def cases(context):
    from .registry import SUITES

    return [case for name in context.suites for case in SUITES[name].cases(context)]


def prepare_tree(root: Path) -> None:
    """Make `flash_attn` importable on its own: the repo's flash_attn/__init__.py (FA2's CUDA
    extension) is not exported, and an empty one keeps an installed FA2 from shadowing the tree."""
    init = root / "flash_attn" / "__init__.py"
    if not init.exists():
        init.parent.mkdir(parents=True, exist_ok=True)
        init.write_text("")


def open_session(context):
    from .session import FlashAttentionSession

    return FlashAttentionSession(context)
