"""The environment of a process that runs a bundle's code: an allow-list, never a copy.

A bundle is upstream code plus open pull requests; running it must not hand it the user's
tokens or credentials. So the child gets only what a GPU program needs to start (paths, locale,
CUDA device selection, caches), the names the stack's own plugin declares, and what the caller
sets explicitly. Anything that looks like a secret is dropped even when a pattern allows it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

# What a Python + CUDA program needs to find itself and its device.
BASE_ALLOWED: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "TMPDIR", "LANG", "LANGUAGE", "LC_*",
    "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX",
    "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_CACHE_PATH",
    "CUDA_LAUNCH_BLOCKING", "CUDA_MODULE_LOADING", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
    "XDG_CACHE_HOME", "TRITON_CACHE_DIR", "TRITON_HOME", "TORCH_HOME", "OMP_NUM_THREADS",
    "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_NO_CUDA_MEMORY_CACHING",
    # Safety switches some GPU hosts set for everything they run; a child must keep them.
    "NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS",
)

_SECRET = re.compile(
    r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|COOKIE|SESSION|SSH_|GPG_|NETRC",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def scrubbed_environment(
    parent: Mapping[str, str],
    *,
    allow: Iterable[str] = (),
    python_path: Iterable[str] = (),
    keep_parent_python_path: bool = True,
    set_vars: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child's environment.

    `allow` adds names or shell patterns (`SOME_TOOL_*`) to `BASE_ALLOWED`. `python_path` comes
    first on PYTHONPATH (the tree under test must win over anything installed); the parent's own
    PYTHONPATH follows when `keep_parent_python_path` (some hosts provide packages that way).
    `set_vars` is applied last and is not filtered: the caller sets those on purpose.
    """
    patterns = (*BASE_ALLOWED, *allow)
    env = {
        name: value
        for name, value in parent.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns) and not looks_secret(name)
    }
    entries = [str(p) for p in python_path]
    if keep_parent_python_path and parent.get("PYTHONPATH"):
        entries += [p for p in parent["PYTHONPATH"].split(":") if p and p not in entries]
    if entries:
        env["PYTHONPATH"] = ":".join(entries)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(set_vars or {})
    return env
