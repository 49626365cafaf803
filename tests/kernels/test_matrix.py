"""This bundle's kernel matrix (kernels/matrix.toml) and the plan its plugin gives stacker."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacker.compile_plan import ARTIFACTS, load_plan
from stacker.errors import ConfigError
from stacker.plugins import load_stack_module

REPO = Path(__file__).resolve().parents[2]
KERNELS = REPO / "kernels"


@pytest.fixture(scope="module")
def plugin():
    return load_stack_module(KERNELS, namespace="test_kernels")


@pytest.fixture(scope="module")
def variants(plugin):
    return plugin.matrix.load_matrix()


def _sm120(variants):
    return [v for v in variants if v.group == "sm120"]


def test_ids_are_unique_and_prefixed_by_group(variants):
    ids = [v.id for v in variants]
    assert len(ids) == len(set(ids))
    assert all(v.id.startswith(v.group + "-") for v in variants)


def test_sm120_covers_the_validation_suites(variants):
    fwd = [v.fields for v in _sm120(variants) if v.fields["pass"] == "fwd"]
    dense = [f for f in fwd if not (f.get("varlen") or f.get("page_size") or f.get("block_sparse")
                                    or f.get("dropout_p") or f.get("num_splits", 1) > 1 or f.get("tma"))]
    # plain: bf16 / fp16 × causal {0, 1} × d {64, 128} (fp16 d64 non-causal is the one left out)
    assert {(f["dtype"], f["causal"], f["head_dim"]) for f in dense if f["heads"] == f["heads_kv"]} >= {
        ("bf16", True, 128), ("bf16", False, 128), ("bf16", True, 64), ("bf16", False, 64),
        ("fp16", True, 128), ("fp16", False, 128), ("fp16", True, 64)}
    # gqa: ratios 4 and 8 and MQA, dense and varlen, both dtypes
    ratios = {f["heads"] // f["heads_kv"] for f in fwd}
    assert {1, 4, 8, 16} <= ratios
    assert any(f.get("varlen") and f["heads_kv"] == 1 for f in fwd)
    assert {f["dtype"] for f in fwd if f.get("varlen")} == {"bf16", "fp16"}
    # paged: page sizes 16/32/64, d 64 and 128, GQA
    paged = [f for f in fwd if f.get("page_size")]
    assert {f["page_size"] for f in paged} == {16, 32, 64}
    assert {f["head_dim"] for f in paged} == {64, 128}
    assert any(f["heads"] != f["heads_kv"] for f in paged)
    # tma causal and not, block-sparse, dropout, split-KV
    assert {f["causal"] for f in fwd if f.get("tma")} == {True, False}
    assert any(f.get("block_sparse") for f in fwd)
    assert any(f.get("dropout_p") == 0.1 for f in fwd)
    assert any(f.get("num_splits", 1) > 1 for f in fwd)


def test_sm120_backward_variants(variants):
    bwd = [v.fields for v in _sm120(variants) if v.fields["pass"] == "bwd"]
    assert {(f["dtype"], f["head_dim"]) for f in bwd} >= {("bf16", 128), ("bf16", 64), ("fp16", 128)}
    assert any(f.get("varlen") for f in bwd) and any(f.get("dropout_p") for f in bwd)
    assert any(f["heads"] != f["heads_kv"] for f in bwd)


def test_native_groups_cover_the_paths_the_prs_edit(variants):
    native = {v.group: v for v in variants if v.group != "sm120"}
    assert set(native) == {"sm80", "sm90", "sm100"}
    for group in ("sm80", "sm90", "sm100"):
        features = {f for v in variants if v.group == group for f in v.features}
        assert {"dropout", "block_sparse"} <= features, group
    assert {v.fields["pass"] for v in variants if v.group in ("sm90", "sm100")} == {"fwd", "bwd"}


def test_features_decide_what_counts_as_absent(variants):
    by_id = {v.id: v for v in variants}
    paged = by_id["sm120-fwd-paged16-bf16-d128-causal"]
    assert paged.features == ("paged",)
    assert any("Paged KV not supported" in p for p in paged.spec["absent_asserts"])
    dropout = by_id["sm120-fwd-dropout-bf16-d128-causal"]
    assert dropout.spec["requires_kwargs"] == ["dropout_p"] and "absent_asserts" not in dropout.spec
    tma = by_id["sm120-fwd-tma-bf16-d128-causal"]
    assert tma.spec["expect_kernel"] == "FlashAttentionForwardSm120Tma"
    assert tma.spec["requires_modules"] == ["flash_attn.cute.flash_fwd_sm120_tma"]
    assert "tma" not in tma.spec
    plain = by_id["sm120-fwd-bf16-d128-causal"]
    assert plain.features == () and "absent_asserts" not in plain.spec


def test_defaults_fill_the_spec(variants):
    spec = next(v.spec for v in variants if v.id == "sm120-fwd-gqa4-bf16-d128-causal")
    assert spec | {} == {"id": "fwd-gqa4-bf16-d128-causal", "pass": "fwd", "batch": 2, "seqlen_q": 512,
                         "seqlen_k": 512, "heads": 32, "heads_kv": 8, "head_dim": 128, "dtype": "bf16",
                         "causal": True}


@pytest.mark.parametrize("entry, message", [
    ('{ id = "x", pass = "fwd", bogus = 1 }', "unknown fields"),
    ('{ id = "x", pass = "sideways" }', "pass must be"),
    ('{ id = "x", pass = "fwd", heads = 6, heads_kv = 4 }', "multiple of heads_kv"),
    ('{ id = "x", pass = "fwd", varlen = true, page_size = 16 }', "not varlen"),
    ('{ id = "x", pass = "fwd", dropout_p = 0.1 }', "no [features.dropout]"),
])
def test_bad_matrix_entries(plugin, tmp_path: Path, entry: str, message: str):
    path = tmp_path / "matrix.toml"
    path.write_text('[defaults]\nbatch = 1\nseqlen_q = 1\nseqlen_k = 1\nheads = 1\nheads_kv = 1\n'
                    'head_dim = 64\ndtype = "bf16"\ncausal = true\n'
                    f'[[group]]\nname = "g"\nkernel_path = "sm_120"\ntarget = "gpu"\nvariants = [ {entry} ]\n')
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        plugin.matrix.load_matrix(path)


# --- the plan: environment per target ----------------------------------------------------------

def test_sm121a_environment_is_explicit_for_every_job():
    plan = load_plan(KERNELS, "sm121a")
    assert plan.label == "SM120 paths on sm_121a"
    for job in plan.jobs:
        for name in ("FLASH_ATTENTION_ARCH", "CUTE_DSL_ARCH", "FLASH_ATTENTION_NUM_SMS"):
            assert job.env.get(name), (job.id, name)
        assert job.env["CUTE_DSL_ARCH"] == job.target
        assert job.env["CUTE_DSL_DUMP_DIR"] == ARTIFACTS and job.env["CUTE_DSL_KEEP"] == "cubin"
        assert job.env["FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED"] == "0"
    sm120 = [j for j in plan.jobs if j.group == "sm120"]
    assert {(j.env["FLASH_ATTENTION_ARCH"], j.env["CUTE_DSL_ARCH"], j.env["FLASH_ATTENTION_NUM_SMS"])
            for j in sm120} == {("sm_120", "sm_121a", "48")}
    native = {j.group: (j.env["FLASH_ATTENTION_ARCH"], j.target) for j in plan.jobs if j.group != "sm120"}
    assert native == {"sm80": ("sm_80", "sm_80"), "sm90": ("sm_90", "sm_90a"), "sm100": ("sm_100", "sm_100a")}


@pytest.mark.parametrize("gpu, arch, sms, label", [
    ("sm120a", "sm_120a", "170", "SM120 paths on sm_120a"),
    ("sm90a", "sm_90a", "132", "SM120 paths on sm_90a"),
])
def test_other_sm120_targets(gpu, arch, sms, label):
    plan = load_plan(KERNELS, gpu)
    job = plan.job("sm120-fwd-bf16-d128-causal")
    assert (job.env["FLASH_ATTENTION_ARCH"], job.target, job.env["FLASH_ATTENTION_NUM_SMS"]) == ("sm_120", arch, sms)
    assert plan.label == label
    assert plan.job("sm100-fwd-bf16-d128-causal").target == "sm_100a"  # native targets do not move


def test_default_gpu_is_sm121a():
    assert load_plan(KERNELS, None).gpu == "sm121a"


def test_unknown_gpu_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown GPU target 'sm999'.*sm121a"):
        load_plan(KERNELS, "sm999")


def test_a_native_target_cannot_be_the_sm120_target():
    with pytest.raises(ConfigError, match=r"--gpu sm100a compiles sm_100 kernels.*sm121a"):
        load_plan(KERNELS, "sm100a")


def test_targets_file_overrides_the_sm_count(tmp_path: Path):
    override = tmp_path / "targets.toml"
    override.write_text('[sm120a]\nnum_sms = 84\ndevice = "RTX 5070 Ti"\n')
    job = load_plan(KERNELS, "sm120a", override).job("sm120-fwd-bf16-d128-causal")
    assert job.env["FLASH_ATTENTION_NUM_SMS"] == "84"


def test_bad_targets_file(tmp_path: Path):
    override = tmp_path / "targets.toml"
    override.write_text('[sm130a]\nkernel_path = "sm_120"\n')
    with pytest.raises(ConfigError, match=r"targets.toml: target \[sm130a\]"):
        load_plan(KERNELS, "sm121a", override)


def test_plan_shape(plugin):
    plan = load_plan(KERNELS, "sm121a")
    assert plan.export_paths == ("flash_attn/cute",)
    assert plan.shim_files == {"flash_attn/__init__.py": ""}
    assert plan.worker == KERNELS / "worker.py"
    assert "nvidia-cutlass-dsl" in plan.toolchain and "python" in plan.toolchain
    assert len(plan.jobs) == len(plugin.matrix.load_matrix())
    assert [j.id for j in plan.select(("sm90-*",)).jobs] == [j.id for j in plan.jobs if j.group == "sm90"]
    with pytest.raises(ConfigError, match="--only nope"):
        plan.select(("nope",))
