"""`dropout`: attention dropout (#2439) on the SM120 path, bf16, p = 0.1, judged statistically.

Cases (the bounds are derived in `dropout_stats`):
- seed42: finite; the same seed twice gives identical output; another seed a different one;
  dropout_p = 0 is bit-identical to no dropout. The magnitude ratio ‖O_drop‖/‖O‖ (maintainer:
  1.11) is reported with its expectation.
- probe-full / probe-causal: the mask read off the kernel (Q = 0, V = I): kept fraction,
  kept fraction per fragment position, independence of two seeds; causal also checks that
  masked positions stay exactly zero.
- mean-64-seeds: the mean of 64 dropout outputs against (q/(1−p))·O within the derived bound.
"""

from __future__ import annotations

import torch

from stacker.validation_model import Case, CaseResult, Status

from . import dropout_stats as stats
from .checks import dtype_of, generator, randn, result, unavailable
from .fa_adapter import Refused
from .reference import attention_probs, attention_ref, causal_allowed, expand_kv_heads
from .tolerance import SIGNIFICANT_BITS

NAME = "dropout"
P = 0.1
SEED = 42
PROBE_SLACK = 0.05


def cases(context) -> list[Case]:
    return [
        Case(NAME, "seed42-bf16-causal", {"batch": 2, "heads": 8, "seqlen": 1024, "head_dim": 128}),
        Case(NAME, "probe-full", {"batch": 4, "heads": 16, "seqlen_q": 2048, "head_dim": 128, "causal": False}),
        Case(NAME, "probe-causal", {"batch": 16, "heads": 16, "seqlen_q": 128, "head_dim": 128, "causal": True}),
        Case(NAME, "mean-64-seeds", {"batch": 2, "heads": 8, "seqlen": 512, "head_dim": 128, "seeds": 64}),
    ]


def _keep_probability(session, kernels: list[str]) -> tuple[float, str]:
    kernel = session.fa.kernel_for_last_call(kernels)
    threshold = getattr(kernel, "p_keep_uint8", None)
    if threshold is None:
        return stats.keep_probability(P), f"q = 1 − p = {1 - P:g}"
    q = stats.keep_probability(P, int(threshold))
    return q, f"q = ({int(threshold)}·257 + 1)/65536 = {q:.6f} (the kernel's 8-bit threshold; nominal {1 - P:g})"


def _bound_result(case: Case, name: str, bound: stats.Bound, extra: str = "") -> CaseResult:
    status = Status.PASS if bound.passed else Status.FAIL
    return result(case, status, name=f"{case.name} {name}", metric=bound.name, value=bound.value,
                  tolerance=bound.limit, detail=bound.detail + (f"; {extra}" if extra else ""))


def run(case: Case, session) -> list[CaseResult]:
    if not session.fa.has("dropout_p"):
        return [unavailable(case, "flash_attn.cute.interface._flash_attn_fwd has no dropout_p (PR #2439 adds it)")]
    try:
        if case.name.startswith("seed42"):
            return _determinism(case, session)
        if case.name.startswith("probe"):
            return _probe(case, session)
        return _mean_over_seeds(case, session)
    except Refused as refused:
        return [unavailable(case, f"the tree refuses: {refused}")]


def _determinism(case: Case, session) -> list[CaseResult]:
    p, fa, gen = case.params, session.fa, generator(case, device=session.device)
    shape = (p["batch"], p["seqlen"], p["heads"], p["head_dim"])
    q, k, v = (randn(shape, dtype_of("bfloat16"), gen) for _ in range(3))
    plain, _ = fa.forward(q, k, v, causal=True)
    first, kernels = fa.forward(q, k, v, causal=True, dropout_p=P, dropout_seed=SEED)
    again, _ = fa.forward(q, k, v, causal=True, dropout_p=P, dropout_seed=SEED)
    other, _ = fa.forward(q, k, v, causal=True, dropout_p=P, dropout_seed=SEED + 1)
    zero, _ = fa.forward(q, k, v, causal=True, dropout_p=0.0, dropout_seed=SEED)
    ref = attention_ref(q, k, v, causal=True)
    probs = attention_probs(q, k, causal=True)
    keep, _ = _keep_probability(session, kernels)
    sigma2 = stats.dropout_variance(probs, v, P, keep)
    seen, expected = stats.magnitude_ratio(first.float(), ref, sigma2, P, keep)
    finite = bool(torch.isfinite(first).all())
    kernel = ", ".join(dict.fromkeys(kernels))
    checks = [
        ("finite", finite, f"{int((~torch.isfinite(first)).sum())} non-finite elements; kernel {kernel}; "
                           f"‖O_drop‖/‖O‖ = {seen:.4f} (expected {expected:.4f}; maintainer 1.11)"),
        ("same seed identical", bool(torch.equal(first, again)), f"seed {SEED} twice"),
        ("other seed differs", not bool(torch.equal(first, other)),
         f"seeds {SEED} and {SEED + 1}: {float((first != other).float().mean()):.1%} of elements differ"),
        ("p=0 equals no dropout", bool(torch.equal(zero, plain)), "dropout_p=0.0 vs no dropout, bitwise"),
    ]
    return [result(case, Status.PASS if ok else Status.FAIL, name=f"{case.name} {name}", detail=detail,
                   info={"kernels": kernels, "magnitude_ratio": seen, "magnitude_ratio_expected": expected})
            for name, ok, detail in checks]


def _probe(case: Case, session) -> list[CaseResult]:
    p, fa, gen = case.params, session.fa, generator(case, device=session.device)
    b, h, sq, d, causal = p["batch"], p["heads"], p["seqlen_q"], p["head_dim"], p["causal"]
    sk = d  # V = I needs as many keys as output columns
    dtype = dtype_of("bfloat16")
    q = torch.zeros((b, sq, h, d), dtype=dtype, device=session.device)  # uniform P: the probe, not an accuracy test
    k = randn((b, sk, h, d), dtype, gen)
    v = torch.eye(sk, d, dtype=dtype, device=session.device)[None, :, None, :].expand(b, sk, h, d).contiguous()
    allowed = causal_allowed(sq, sk, session.device) if causal else torch.ones((sq, sk), dtype=torch.bool, device=session.device)
    out_a, kernels = fa.forward(q, k, v, causal=causal, dropout_p=P, dropout_seed=SEED)
    out_b, _ = fa.forward(q, k, v, causal=causal, dropout_p=P, dropout_seed=SEED + 1)
    keep, q_text = _keep_probability(session, kernels)
    kept_a, off_a = stats.recover_mask(out_a, P, allowed)
    kept_b, off_b = stats.recover_mask(out_b, P, allowed)
    clean = max(off_a, off_b)
    # bf16 rounding moves x by at most 2^-8 ≈ 0.4 %; 0.05 still catches a missing 1/(1−p) (x = 1 − p)
    outcomes = [result(case, Status.PASS if clean <= PROBE_SLACK else Status.FAIL, name=f"{case.name} probe is 0/1",
                       metric="max|x−round(x)|", value=clean, tolerance=PROBE_SLACK,
                       detail=f"x = O·(1−p)·n_i must be 0 or 1 (kept weights scaled by 1/(1−p)); kernel "
                              f"{', '.join(dict.fromkeys(kernels))}")]
    outcomes.append(_bound_result(case, "kept fraction", stats.kept_fraction(kept_a, allowed, keep), q_text))
    outcomes.append(_bound_result(case, "by position", stats.kept_fraction_by_position(kept_a, allowed, keep)))
    outcomes.append(_bound_result(case, "two seeds", stats.seed_overlap(kept_a, kept_b, allowed, keep)))
    if causal:
        leaked = float(out_a.float().permute(0, 2, 1, 3)[..., ~allowed].abs().max())
        outcomes.append(result(case, Status.PASS if leaked == 0 else Status.FAIL, name=f"{case.name} masked stay 0",
                               metric="max|O| where masked", value=leaked, tolerance=0.0,
                               detail="causally masked positions must get no weight"))
    return outcomes


def _mean_over_seeds(case: Case, session) -> list[CaseResult]:
    p, fa, gen = case.params, session.fa, generator(case, device=session.device)
    shape = (p["batch"], p["seqlen"], p["heads"], p["head_dim"])
    q, k, v = (randn(shape, dtype_of("bfloat16"), gen) for _ in range(3))
    total = torch.zeros(shape, dtype=torch.float64, device=session.device)
    kernels: list[str] = []
    for seed in range(1000, 1000 + p["seeds"]):
        out, kernels = fa.forward(q, k, v, causal=True, dropout_p=P, dropout_seed=seed)
        total += out.double()
    mean = total / p["seeds"]
    keep, q_text = _keep_probability(session, kernels)
    ref = attention_ref(q, k, v, causal=True)
    sigma2 = stats.dropout_variance(attention_probs(q, k, causal=True), expand_kv_heads(v, p["heads"]), P, keep)
    bound = stats.mean_over_seeds(mean, ref, sigma2, p["seeds"], P, keep, SIGNIFICANT_BITS["bfloat16"])
    return [_bound_result(case, "T", bound, q_text)]
