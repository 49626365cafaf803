"""The dropout checks' statistics, on simulated dropout: right dropout passes, each wrong one fails."""

from __future__ import annotations

import math

import pytest
import torch

from validate import dropout_stats as stats
from validate.reference import attention_probs, attention_ref, causal_allowed

P = 0.1


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def masks(shape, q, seed):
    return torch.rand(shape, generator=gen(seed)) < q


def test_keep_probability_of_an_8_bit_threshold():
    assert stats.keep_probability(P) == pytest.approx(0.9)
    assert stats.keep_probability(P, 229) == pytest.approx(58854 / 65536)  # ⌊255·0.9⌋ = 229
    assert stats.keep_probability(P, 229) == pytest.approx(0.898041, abs=1e-6)


def test_z_values():
    assert stats.z_two_sided(1e-6) == pytest.approx(4.8916, abs=1e-3)
    assert stats.z_one_sided(1e-6) == pytest.approx(4.7534, abs=1e-3)
    assert stats.z_two_sided(1e-6, tests=256) > stats.z_two_sided(1e-6)


SHAPE = (4, 8, 256, 128)  # 1M positions
ALLOWED = torch.ones(SHAPE[-2:], dtype=torch.bool)


def test_right_dropout_passes_every_mask_check():
    q = stats.keep_probability(P, 229)
    a, b = masks(SHAPE, q, 1), masks(SHAPE, q, 2)
    for bound in (stats.kept_fraction(a, ALLOWED, q), stats.kept_fraction_by_position(a, ALLOWED, q),
                  stats.seed_overlap(a, b, ALLOWED, q)):
        assert bound.passed, bound.detail


def test_kept_fraction_tells_an_8_bit_threshold_from_the_nominal_rate():
    # 1M positions resolve 0.898 from 0.9: the check must know which rule the kernel uses
    kept = masks(SHAPE, stats.keep_probability(P, 229), 3)
    assert stats.kept_fraction(kept, ALLOWED, stats.keep_probability(P, 229)).passed
    assert not stats.kept_fraction(kept, ALLOWED, 1 - P).passed


def test_wrong_rate_fails():
    bound = stats.kept_fraction(masks(SHAPE, 0.88, 4), ALLOWED, 0.9)
    assert not bound.passed and "expected q = 0.900000" in bound.detail


def test_a_mask_repeated_across_fragments_fails_by_position():
    q = 0.9
    kept = masks(SHAPE, q, 5)
    kept[..., ::16, ::16] = True  # one fragment position always kept: the global rate barely moves
    assert stats.kept_fraction(kept, ALLOWED, q).passed
    assert not stats.kept_fraction_by_position(kept, ALLOWED, q).passed


def test_a_seed_that_does_not_change_the_mask_fails_overlap():
    q = 0.9
    a = masks(SHAPE, q, 6)
    assert not stats.seed_overlap(a, a, ALLOWED, q).passed


def test_causal_positions_only_count_where_allowed():
    allowed = causal_allowed(128, 128)
    q = 0.9
    kept = masks((8, 8, 128, 128), q, 7) & allowed
    assert stats.kept_fraction(kept, allowed, q).passed  # the zeros above the diagonal are not counted


@pytest.mark.parametrize("causal", [False, True])
def test_probe_recovers_the_mask_through_bf16(causal):
    b, h, n = 2, 3, 128
    allowed = causal_allowed(n, n) if causal else torch.ones(n, n, dtype=torch.bool)
    kept = masks((b, h, n, n), 0.9, 8) & allowed
    rows = allowed.sum(-1).double()
    out = (kept.double() / ((1 - P) * rows[:, None])).permute(0, 2, 1, 3).to(torch.bfloat16)  # (b, sq, h, sk)
    recovered, off = stats.recover_mask(out, P, allowed)
    assert torch.equal(recovered, kept)
    assert off < 0.01


def simulate(seeds: int, *, rescale: bool = True, same_mask: bool = False, q: float = 0.9, seed: int = 0):
    g = gen(seed)
    b, h, s, d = 2, 4, 64, 32
    qt, kt, vt = (torch.randn(b, s, h, d, generator=g).to(torch.bfloat16) for _ in range(3))
    ref = attention_ref(qt, kt, vt, causal=True)
    probs = attention_probs(qt, kt, causal=True).double()
    v = vt.double().permute(0, 2, 1, 3)
    total = torch.zeros_like(ref, dtype=torch.float64)
    for i in range(seeds):
        mask = masks(probs.shape, q, 100 if same_mask else 100 + i)
        dropped = probs * mask / ((1 - P) if rescale else 1.0)
        total += torch.matmul(dropped, v).permute(0, 2, 1, 3).to(torch.bfloat16).double()
    sigma2 = stats.dropout_variance(probs.float(), vt, P, q)
    return stats.mean_over_seeds(total / seeds, ref, sigma2, seeds, P, q, 8)


def test_mean_over_seeds_accepts_right_dropout():
    bound = simulate(64)
    assert bound.passed, bound.detail
    assert 0.7 < bound.value < bound.limit


def test_mean_over_seeds_statistic_averages_one():
    values = [simulate(16, seed=s).value for s in range(6)]
    assert 0.8 < sum(values) / len(values) < 1.2


def test_mean_over_seeds_rejects_a_missing_rescale():
    assert not simulate(64, rescale=False).passed


def test_mean_over_seeds_rejects_a_seed_that_changes_nothing():
    assert not simulate(64, same_mask=True).passed


def test_magnitude_ratio_expectation():
    g = gen(9)
    qt, kt, vt = (torch.randn(1, 64, 2, 16, generator=g) for _ in range(3))
    ref = attention_ref(qt, kt, vt)
    probs = attention_probs(qt, kt).double()
    sigma2 = stats.dropout_variance(probs.float(), vt, P, 0.9)
    norm = []
    for i in range(32):
        dropped = probs * masks(probs.shape, 0.9, 200 + i) / (1 - P)
        out = torch.matmul(dropped, vt.double().permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        norm.append(stats.magnitude_ratio(out, ref, sigma2, P, 0.9)[0])
    expected = stats.magnitude_ratio(ref, ref, sigma2, P, 0.9)[1]
    assert expected > 1
    assert math.isclose(sum(norm) / len(norm), expected, rel_tol=0.01)
