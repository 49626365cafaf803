"""Statistical checks for attention dropout, with the bounds derived here.

Model. Dropout with probability p keeps each attention weight P_ij independently with
probability q and scales kept weights by 1/(1−p):  O_drop = ((P ⊙ M) / (1−p)) V,  M_ij ~ Bernoulli(q).
q = 1−p for an exact sampler. FA2-style kernels (and #2439) compare a 16-bit random number with an
8-bit threshold t = ⌊255·(1−p)⌋ widened to t·257, so q = (t·257 + 1) / 65536 (0.898041 for p = 0.1,
not 0.9); the session reads t from the kernel object when the tree exposes it.

1. Kept fraction. The mask is read off the kernel through a probe (Q = 0 makes P uniform over
   the n_i keys row i may see; V = I with seqlen_k = head_dim puts P_ij M_ij / (1−p) in O_ij, so
   M_ij = O_ij (1−p) n_i, 0 or 1). Over N visible positions the kept count is Binomial(N, q):
   |f̂ − q| ≤ z·√(q(1−q)/N), z from the false-alarm probability α (two-sided).
2. Kept fraction per fragment position (row mod 16, col mod 16): each class is Binomial too; the
   largest |z-score| over the C classes must stay under the Bonferroni z for α/C. A keying bug
   that repeats a mask across warps or lanes shows here while the global fraction looks fine.
3. Two seeds: masks independent across seeds means P(kept in both) = q²:
   |f̂_ab − q²| ≤ z·√(q²(1−q²)/N).
4. Mean over K seeds. E[O_drop] = (q/(1−p))·O and, per element,
   Var = q(1−q)/(1−p)² · Σ_k P_ik² V_kj²  (=: σ²_ij, exact for independent M).
   With the output rounded to b significant bits, add δ² = (|O|·2^-b)²/3 (uniform rounding), and
   for the kernel's rounding of each kept weight P_ik/(1−p) to b bits (the same for every seed,
   so it does not average out) ρ² = 2^-2b/3 · (q/(1−p))² Σ_k P_ik² V_kj² = 2^-2b/3 · σ² q/(1−q).
   T = Σ (Ō − E[O_drop])² / Σ (σ²/K + δ² + ρ²) has E[T] ≤ 1. Rows (b, i, h) are independent; within a
   row the d columns share one mask, and for any Gaussian vector Var(Σ r²) = 2 tr(C²) ≤ 2 (tr C)²,
   so sd(T) ≤ √(2 Σ_r v_r²) / Σ_r v_r with v_r the row's expected sum. One-sided: T ≤ 1 + z·sd.
   A missing or wrong rescale, a seed that does not change the mask, or dropout applied to the
   wrong quantity all push T far above 1.

Every check returns a `Bound`: the statistic, its limit, and a sentence stating both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch

ALPHA = 1e-6  # false-alarm probability of each check


def z_two_sided(alpha: float = ALPHA, tests: int = 1) -> float:
    return NormalDist().inv_cdf(1.0 - alpha / (2 * tests))


def z_one_sided(alpha: float = ALPHA) -> float:
    return NormalDist().inv_cdf(1.0 - alpha)


def keep_probability(p: float, threshold_u8: int | None = None) -> float:
    """q: 1−p for an exact sampler; (t·257 + 1)/65536 for an 8-bit threshold t compared to 16-bit draws."""
    if threshold_u8 is None:
        return 1.0 - p
    return (threshold_u8 * 257 + 1) / 65536


@dataclass(frozen=True)
class Bound:
    """A statistic and the limit it must stay within (`passed` iff value ≤ limit)."""

    name: str
    value: float
    limit: float
    detail: str

    @property
    def passed(self) -> bool:
        return not math.isnan(self.value) and self.value <= self.limit


def kept_fraction(kept: torch.Tensor, allowed: torch.Tensor, q: float, alpha: float = ALPHA) -> Bound:
    """Check 1: |f̂ − q| over the `allowed` positions (broadcast against `kept`)."""
    allowed = allowed.expand_as(kept)
    n = int(allowed.sum())
    f = float(kept[allowed].double().mean())
    half = z_two_sided(alpha) * math.sqrt(q * (1 - q) / n)
    return Bound("kept fraction", abs(f - q), half,
                 f"kept {f:.6f} of {n} positions; expected q = {q:.6f} ± {half:.6f} (α = {alpha:g})")


def kept_fraction_by_position(kept: torch.Tensor, allowed: torch.Tensor, q: float, period: int = 16,
                              alpha: float = ALPHA) -> Bound:
    """Check 2: max |z| over classes (row mod period, col mod period); kept is (..., sq, sk)."""
    allowed = allowed.expand_as(kept)
    sq, sk = kept.shape[-2:]
    rows = torch.arange(sq).remainder(period)[:, None]
    cols = torch.arange(sk).remainder(period)[None, :]
    cls = (rows * period + cols).to(kept.device).expand_as(kept)
    classes = period * period
    n = torch.bincount(cls[allowed], minlength=classes).double()
    k = torch.bincount(cls[allowed], weights=kept[allowed].double(), minlength=classes)
    present = n > 0
    z = (k[present] / n[present] - q).abs() / torch.sqrt(q * (1 - q) / n[present])
    limit = z_two_sided(alpha, tests=int(present.sum()))
    worst = float(z.max())
    return Bound("kept fraction by fragment position", worst, limit,
                 f"largest |z| over {int(present.sum())} (row mod {period}, col mod {period}) classes = "
                 f"{worst:.2f}; Bonferroni limit {limit:.2f} (α = {alpha:g})")


def seed_overlap(kept_a: torch.Tensor, kept_b: torch.Tensor, allowed: torch.Tensor, q: float,
                 alpha: float = ALPHA) -> Bound:
    """Check 3: masks of two seeds independent: P(kept in both) = q²."""
    allowed = allowed.expand_as(kept_a)
    n = int(allowed.sum())
    both = float((kept_a & kept_b)[allowed].double().mean())
    q2 = q * q
    half = z_two_sided(alpha) * math.sqrt(q2 * (1 - q2) / n)
    return Bound("two-seed overlap", abs(both - q2), half,
                 f"kept by both seeds {both:.6f}; independent masks give q² = {q2:.6f} ± {half:.6f}")


def recover_mask(probe_out: torch.Tensor, p: float, allowed: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Kept mask (b, h, sq, sk) from a probe output (b, sq, h, sk) and how far from 0/1 it was.

    The probe (Q = 0, V = I) gives O_ij = M_ij / ((1−p) n_i); `allowed` (sq, sk) gives n_i.
    """
    n = allowed.sum(-1).clamp(min=1).double()  # (sq,)
    x = probe_out.double().permute(0, 2, 1, 3) * (1 - p) * n[:, None]
    kept = (x > 0.5) & allowed
    off = float((x - x.round()).abs().max()) if x.numel() else 0.0
    return kept, off


def dropout_variance(probs: torch.Tensor, v: torch.Tensor, p: float, q: float) -> torch.Tensor:
    """σ² (b, sq, h, d) of one dropout output: q(1−q)/(1−p)² · Σ_k P_ik² V_kj².

    probs (b, h, sq, sk) float32; v (b, sk, h, d) with heads already expanded to the q heads.
    """
    vv = v.double().permute(0, 2, 1, 3) ** 2  # (b, h, sk, d)
    return (q * (1 - q) / (1 - p) ** 2 * torch.matmul(probs.double() ** 2, vv)).permute(0, 2, 1, 3)


def mean_over_seeds(mean_out: torch.Tensor, ref_out: torch.Tensor, sigma2: torch.Tensor, seeds: int,
                    p: float, q: float, significant_bits: int, alpha: float = ALPHA) -> Bound:
    """Check 4: T = Σ(Ō − E O_drop)² / Σ(σ²/K + δ² + ρ²) ≤ 1 + z·sd(T); tensors (b, sq, h, d)."""
    expected = ref_out.double() * (q / (1 - p))
    resid2 = (mean_out.double() - expected) ** 2
    delta2 = (expected.abs() * 2.0 ** -significant_bits) ** 2 / 3
    rho2 = 2.0 ** (-2 * significant_bits) / 3 * sigma2.double() * q / (1 - q)
    v = sigma2.double() / seeds + delta2 + rho2
    v_rows = v.sum(-1)
    t = float(resid2.sum() / v_rows.sum())
    sd = math.sqrt(2 * float((v_rows ** 2).sum())) / float(v_rows.sum())
    limit = 1 + z_one_sided(alpha) * sd
    return Bound("mean over seeds", t, limit,
                 f"T = {t:.4f} over {seeds} seeds (E[T] ≤ 1, sd ≤ {sd:.4f}); limit {limit:.4f} (α = {alpha:g})")


def magnitude_ratio(out_drop: torch.Tensor, out_ref: torch.Tensor, sigma2: torch.Tensor, p: float,
                    q: float) -> tuple[float, float]:
    """‖O_drop‖/‖O‖ and its expectation √((q/(1−p))² + Σσ²/‖O‖²) — reported, not judged."""
    norm2 = float((out_ref.double() ** 2).sum())
    seen = math.sqrt(float((out_drop.double() ** 2).sum()) / norm2)
    expected = math.sqrt((q / (1 - p)) ** 2 + float(sigma2.sum()) / norm2)
    return seen, expected
