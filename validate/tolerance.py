"""How close an attention output must be to the float32 reference, and why.

The kernels read bf16/fp16 inputs, accumulate in float32, and round the output to the input
dtype. The reference sees the same (rounded) inputs in float32, so what remains is the output
rounding plus the rounding of P to the input dtype before the P·V product. With inputs drawn
from N(0, 1), |O| stays below 4 in practice (a causal first row is one row of V), so the bound
is one unit in the last place at 2 ≤ |x| < 4: twice the worst output rounding there, leaving the
other half for P's rounding.

    bf16 (8 significant bits):  ulp(2) = 2^-6 = 0.0156   (the issue's bound for the GQA matrix)
    fp16 (11 significant bits): ulp(2) = 2^-9 = 0.00195

NaN never passes (see `stacker.validation_model.judge_at_most`).
"""

from __future__ import annotations

SIGNIFICANT_BITS = {"bfloat16": 8, "float16": 11}


def output_tolerance(dtype: str) -> float:
    """Max |out − ref| allowed for an attention output of `dtype` ("bfloat16" / "float16")."""
    try:
        bits = SIGNIFICANT_BITS[dtype]
    except KeyError:
        raise ValueError(f"no tolerance for dtype {dtype!r} (known: {', '.join(SIGNIFICANT_BITS)})") from None
    return 2.0 ** (1 - (bits - 1))  # one ulp at 2: 2^1 · 2^-(bits-1)
