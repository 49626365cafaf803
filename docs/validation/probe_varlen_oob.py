"""Device experiment: FA4 main's SM120 varlen non-causal d=64 illegal address (seen in the gqa suite).

Run from a directory holding `tree/` (flash_attn/cute of the tree under test, with an empty
flash_attn/__init__.py), with FLASH_ATTENTION_ARCH=sm_120 CUTE_DSL_ARCH=sm_90a set; see
docs/validation.md ("Finding") for what it showed on 2026-11-24.

Runs the failing configuration with K/V ending exactly at their allocation, and again with slack
rows after them (same values, a view into a longer buffer): if only the first faults, the kernel
reads past the end of K/V. Also the same inputs through the device's native path (harness check).
usage: python3 probe_varlen_oob.py MODE[,out]   (MODE: native | exact | padded | aligned; ",out" passes a
NaN-poisoned preallocated out= as the validation suites do). Under compute-sanitizer, set
PYTORCH_NO_CUDA_MEMORY_CACHING=1 so that every tensor is its own allocation (memcheck cannot see a
read past a tensor inside one of the caching allocator's segments).
"""
import sys

import torch

sys.path.insert(0, "tree")
import flash_attn.cute.interface as I  # noqa: E402, E741 — from the tree put on sys.path above

mode, *extra = sys.argv[1].split(",")
torch.manual_seed(0)
lq, lk = [128, 300, 77], ([128, 512, 256] if mode == "aligned" else [128, 512, 200])
h, d = 16, 64
cu_q = torch.tensor([0, 128, 428, 505], dtype=torch.int32, device="cuda")
cu_k = torch.tensor([0] + torch.tensor(lk).cumsum(0).tolist(), dtype=torch.int32, device="cuda")
tq, tk = sum(lq), sum(lk)
q = torch.randn(tq, h, d, device="cuda", dtype=torch.bfloat16)
slack = 4096 if mode == "padded" else 0
kbuf = torch.randn(tk + slack, h, d, device="cuda", dtype=torch.bfloat16)
vbuf = torch.randn(tk + slack, h, d, device="cuda", dtype=torch.bfloat16)
k, v = kbuf[:tk], vbuf[:tk]
arch = 90 if mode == "native" else None
kw = {"out": torch.full((tq, h, d), float("nan"), device="cuda", dtype=torch.bfloat16)} if "out" in extra else {}
out = I._flash_attn_fwd(q, k, v, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k, max_seqlen_q=max(lq), max_seqlen_k=max(lk),
                        causal=False, _arch=arch, **kw)[0]
torch.cuda.synchronize()
ref = []
for i in range(3):
    qs, ks, vs = (t.float().transpose(0, 1) for t in (q[cu_q[i]:cu_q[i + 1]], k[cu_k[i]:cu_k[i + 1]], v[cu_k[i]:cu_k[i + 1]]))
    ref.append((torch.softmax(qs @ ks.transpose(1, 2) / d ** 0.5, -1) @ vs).transpose(0, 1))
ref = torch.cat(ref)
print(f"{sys.argv[1]}: ok, max_diff {float((out.float() - ref).abs().max()):.4g}", flush=True)
