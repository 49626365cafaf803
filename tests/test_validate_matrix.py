"""The 64-configuration GQA matrix: exactly the composition docs/validation.md states."""

from __future__ import annotations

import itertools
from collections import Counter

from validate.gqa_matrix import HEAD_LAYOUTS, gqa_matrix


def test_sixty_four_distinct_configurations():
    configs = gqa_matrix()
    assert len(configs) == 64
    assert len({c.name for c in configs}) == 64


def test_every_combination_exactly_once():
    seen = Counter((c.heads.name, c.layout, c.dtype, c.causal, c.head_dim) for c in gqa_matrix())
    expected = set(itertools.product(("mha", "gqa-qwen3", "gqa-llama3", "mqa"), ("dense", "varlen"),
                                     ("bfloat16", "float16"), (False, True), (64, 128)))
    assert set(seen) == expected and set(seen.values()) == {1}


def test_head_layouts_are_the_models():
    layouts = {h.name: (h.q_heads, h.kv_heads, h.ratio) for h in HEAD_LAYOUTS}
    assert layouts == {"mha": (16, 16, 1), "gqa-qwen3": (40, 8, 5), "gqa-llama3": (32, 8, 4), "mqa": (16, 1, 16)}
    assert all(h.q_heads % h.kv_heads == 0 for h in HEAD_LAYOUTS)


def test_every_case_is_batched_and_varlen_is_ragged():
    for config in gqa_matrix():
        params = config.params()
        if config.layout == "dense":
            assert params["batch"] > 1
        else:
            lq, lk = params["seqlens_q"], params["seqlens_k"]
            assert len(lq) == len(lk) > 1
            assert all(q <= k for q, k in zip(lq, lk, strict=True))  # causal stays bottom-right aligned with keys to see
            assert any(q % 64 for q in lq) and any(k % 64 for k in lk)
            assert len(set(lq)) > 1
