"""Compile one FA4 kernel variant on the CPU, inside an exported bundle tree.

stacker runs this script once per variant, in a fresh process whose PYTHONPATH is the exported tree
(`flash_attn/__init__.py` empty, `flash_attn/cute/` the bundle's package) and whose environment names
the kernel path, the compile target and the SM count explicitly. It imports nothing of stacker: it is
the bundle's side of the contract, and stacker's side only reads the JSON it writes.

    python worker.py SPEC.json RESULT.json

FA4 compiles its kernels (`cute.compile`) on the first call; under torch's FakeTensorMode the call
allocates nothing and launches nothing, so this works with no GPU and no libcuda.

RESULT.json: {"status": "ok" | "failed" | "absent", "compile_seconds": float,
              "error": one line or null, "detail": full text or null}
"absent" means the tree lacks the variant's feature, decided only by (a) a keyword the interface
does not accept, (b) a module the tree does not have, or (c) an AssertionError raised by the
interface itself whose message matches one of the variant's `absent_asserts`. Anything else that
goes wrong is "failed": a real compile error must never read as "not supported".
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import sys
import time
import traceback
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


class FeatureAbsent(Exception):
    """The tree does not have what this variant exercises."""


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[1]), Path(argv[2])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    result = {"status": "failed", "compile_seconds": 0.0, "error": None, "detail": None}
    try:
        result["compile_seconds"] = compile_variant(spec)
        result["status"] = "ok"
    except FeatureAbsent as absent:
        result.update(status="absent", error=str(absent))
    except BaseException as error:  # noqa: BLE001 - every failure is reported, none escapes
        detail = "".join(traceback.format_exception(error))
        if _is_absent_assert(error, spec.get("absent_asserts", ())):
            result.update(status="absent", error=f"feature absent: {_first_line(error)}", detail=detail)
        else:
            result.update(error=meaningful_line(error), detail=_ANSI.sub("", detail))
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


def compile_variant(spec: dict) -> float:
    """Build fake inputs for `spec` and call FA4's forward or backward once; return its seconds."""
    for module in spec.get("requires_modules", ()):
        if importlib.util.find_spec(module) is None:
            raise FeatureAbsent(f"feature absent: no module {module}")

    interface = importlib.import_module("flash_attn.cute.interface")
    entry = interface._flash_attn_fwd if spec["pass"] == "fwd" else interface._flash_attn_bwd
    accepted = inspect.signature(entry).parameters
    for keyword in spec.get("requires_kwargs", ()):
        if keyword not in accepted:
            raise FeatureAbsent(f"feature absent: {entry.__name__} takes no '{keyword}'")

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        args, kwargs = _inputs(spec, torch, interface)
        started = time.perf_counter()
        entry(*args, **kwargs)
        seconds = time.perf_counter() - started
    _check_kernel_selected(spec)
    return seconds


def _inputs(spec: dict, torch, interface) -> tuple[list, dict]:
    """Fake CUDA tensors with the variant's shapes; only shapes, dtypes and strides matter here."""
    dtype = getattr(torch, _DTYPES[spec["dtype"]])
    b, sq, sk = spec["batch"], spec["seqlen_q"], spec["seqlen_k"]
    h, hkv, d = spec["heads"], spec["heads_kv"], spec["head_dim"]

    def empty(*shape, dt=dtype):
        return torch.empty(*shape, dtype=dt, device="cuda")

    kwargs: dict = {"causal": spec["causal"]}
    varlen = spec.get("varlen", False)
    page_size = spec.get("page_size")
    if varlen:
        q = empty(b * sq, h, d)
        k, v = empty(b * sk, hkv, d), empty(b * sk, hkv, d)
        kwargs.update(cu_seqlens_q=empty(b + 1, dt=torch.int32), cu_seqlens_k=empty(b + 1, dt=torch.int32),
                      max_seqlen_q=sq, max_seqlen_k=sk)
    elif page_size:
        pages_per_seq = -(-sk // page_size)
        q = empty(b, sq, h, d)
        k = empty(b * pages_per_seq, page_size, hkv, d)
        v = empty(b * pages_per_seq, page_size, hkv, d)
        kwargs.update(page_table=empty(b, pages_per_seq, dt=torch.int32), seqused_k=empty(b, dt=torch.int32))
    else:
        q, k, v = empty(b, sq, h, d), empty(b, sk, hkv, d), empty(b, sk, hkv, d)

    if spec.get("num_splits", 1) != 1:
        kwargs["num_splits"] = spec["num_splits"]
    if spec.get("dropout_p"):
        kwargs.update(dropout_p=spec["dropout_p"], dropout_seed=spec.get("dropout_seed", 42))
    if spec.get("block_sparse"):
        kwargs["block_sparse_tensors"] = _block_sparse(spec, torch, empty)

    if spec["pass"] == "fwd":
        return [q, k, v], kwargs

    kwargs.pop("num_splits", None)
    out, dout = empty(*q.shape), empty(*q.shape)
    lse = empty(h, b * sq, dt=torch.float32) if varlen else empty(b, h, sq, dt=torch.float32)
    return [q, k, v, out, dout, lse], kwargs


def _block_sparse(spec: dict, torch, empty):
    """Block-sparse metadata of the variant's shape: one (B, H, M) count and (B, H, M, N) index pair."""
    from flash_attn.cute.block_sparsity import BlockSparseTensorsTorch

    block_m, block_n = spec["block_sparse"]["block_size"]
    b, h = spec["batch"], spec["heads"]
    m_blocks, n_blocks = -(-spec["seqlen_q"] // block_m), -(-spec["seqlen_k"] // block_n)
    return BlockSparseTensorsTorch(
        mask_block_cnt=empty(b, h, m_blocks, dt=torch.int32),
        mask_block_idx=empty(b, h, m_blocks, n_blocks, dt=torch.int32),
        full_block_cnt=empty(b, h, m_blocks, dt=torch.int32),
        full_block_idx=empty(b, h, m_blocks, n_blocks, dt=torch.int32),
        block_size=(block_m, block_n),
    )


def _check_kernel_selected(spec: dict) -> None:
    """A variant that names its kernel class must have compiled that class, not a fallback."""
    wanted = spec.get("expect_kernel")
    if not wanted:
        return
    import os

    dump = Path(os.environ.get("CUTE_DSL_DUMP_DIR", "."))
    names = sorted(p.name for p in dump.glob("*.cubin"))
    if not any(wanted in name for name in names):
        compiled = ", ".join(sorted({_kernel_class(n) for n in names})) or "nothing"
        raise RuntimeError(f"{wanted} was not selected by the dispatch (compiled: {compiled})")


def _kernel_class(cubin_name: str) -> str:
    match = re.search(r"(FlashAttention\w+?)_object", cubin_name)
    return match.group(1) if match else cubin_name.split(".")[0][:60]


def _is_absent_assert(error: BaseException, patterns) -> bool:
    """An AssertionError raised in flash_attn/cute/interface.py whose message names the feature."""
    if not isinstance(error, AssertionError) or not patterns:
        return False
    frames = traceback.extract_tb(error.__traceback__)
    if not frames or not frames[-1].filename.replace("\\", "/").endswith("flash_attn/cute/interface.py"):
        return False
    message = str(error)
    return any(re.search(pattern, message) for pattern in patterns)


def _first_line(error: BaseException) -> str:
    text = _ANSI.sub("", str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


_ENTRY = re.compile(r"^(error(\[\w+\])?|note|suggestion|help|warning)\s*:|^-->")
_MAX_LINE = 400


def meaningful_line(error: BaseException) -> str:
    """The one line a maintainer needs: the DSL's own cause and where it points, nothing else.

    CuTe DSL errors are multi-line: "error: <cause>" (wrapped over several indented lines), a
    "--> file:line" pointer, a source excerpt with carets, then notes and suggestions. When the
    headline is the DSL's generic "error[INTERNAL]" banner, the cause is in the errors after it
    (e.g. "Failed to bind arguments to function `__call__`" + "too many positional arguments",
    which is what a call site out of step with a kernel's signature produces).
    """
    kind = type(error).__name__
    entries = _entries(_ANSI.sub("", str(error)))
    if not entries:
        return kind
    errors = [text for tag, text in entries if tag.startswith("error")]
    causes = [text for tag, text in entries if tag == "note" and text.startswith("Caused exception")]
    pointer = next((text for tag, text in entries if tag == "-->"), None)
    if not errors:
        headline = entries[0][1]
    elif errors[0].startswith("The compiler hit an internal DSL problem") and len(errors) > 1:
        headline = "; ".join(errors[1:])
    else:
        headline = errors[0]
        if causes and causes[0].split(":", 1)[-1].strip() not in headline:
            headline += f"; {causes[0]}"
    headline = re.sub(r" with signature `[^`]*`", "", headline)
    where = _tree_relative(pointer) if pointer else _innermost_tree_frame(error)
    line = f"{kind}: {headline}" + (f" ({where})" if where else "")
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


def _entries(text: str) -> list[tuple[str, str]]:
    """(tag, text) for each logical entry of a DSL message; wrapped lines joined, excerpts dropped."""
    entries: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"^=\s+", "", raw.strip())
        if not line or set(line) <= set("^~-=|> ") or re.match(r"^\d+\s*\|", line) or line.startswith("|"):
            continue
        match = _ENTRY.match(line)
        if match:
            tag = "-->" if line.startswith("-->") else re.sub(r"\[\w+\]", "", match.group(1))
            if tag == "error" and match.group(2):
                tag = f"error{match.group(2)}"
            body = line[3:] if tag == "-->" else line[match.end():]
            entries.append((tag, body.strip()))
        elif entries and raw[:1].isspace():
            tag, body = entries[-1]
            entries[-1] = (tag, f"{body} {line}")
        else:
            entries.append(("", line))
    return entries


def _tree_relative(path: str) -> str:
    path = path.replace("\\", "/")
    return path[path.rindex("/flash_attn/") + 1:] if "/flash_attn/" in path else path


def _innermost_tree_frame(error: BaseException) -> str | None:
    """file:line of the deepest frame inside flash_attn/, looking through the exception's causes."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    for link in chain[::-1]:
        for frame in reversed(traceback.extract_tb(link.__traceback__)):
            path = frame.filename.replace("\\", "/")
            if "/flash_attn/" in path:
                return f"{_tree_relative(path)}:{frame.lineno}"
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
