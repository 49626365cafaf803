"""Which GPU is here, and whether --gpu matches it: the errors say what to run instead."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stacker.errors import DeviceError
from stacker.gpu_device import Gpu, _visible, arch_capability, parse_nvidia_smi, resolve_target


@dataclass(frozen=True)
class T:
    name: str
    compile_arch: str
    label: str

    def environment(self):
        return {}


TARGETS = {
    "sm121a": T("sm121a", "sm_121a", "SM120 paths on sm_121a"),
    "sm120a": T("sm120a", "sm_120a", "SM120 paths on sm_120a"),
    "sm90a": T("sm90a", "sm_90a", "SM120 paths on sm_90a"),
}
H100 = Gpu("0", "NVIDIA H100 80GB HBM3", (9, 0))
SPARK = Gpu("0", "NVIDIA GB10", (12, 1))


@pytest.mark.parametrize("arch, cap", [("sm_90a", (9, 0)), ("sm_121a", (12, 1)), ("sm_120a", (12, 0)),
                                       ("sm_100f", (10, 0)), ("sm80", (8, 0))])
def test_arch_capability(arch, cap):
    assert arch_capability(arch) == cap


def test_arch_capability_rejects_nonsense():
    with pytest.raises(DeviceError):
        arch_capability("hopper")


def test_parse_nvidia_smi():
    out = "0, NVIDIA H100 80GB HBM3, 9.0\n1, NVIDIA H100 80GB HBM3, 9.0\n"
    assert parse_nvidia_smi(out) == [H100, Gpu("1", "NVIDIA H100 80GB HBM3", (9, 0))]


def test_cuda_visible_devices_selects_and_orders():
    gpus = [Gpu(str(i), "G", (9, 0)) for i in range(4)]
    assert [g.index for g in _visible(gpus, {"CUDA_VISIBLE_DEVICES": "3,1"})] == ["3", "1"]
    assert _visible(gpus, {"CUDA_VISIBLE_DEVICES": "GPU-abc"}) == []  # left to the torch probe
    assert _visible(gpus, {}) == gpus


def test_auto_reads_the_device():
    assert resolve_target("auto", TARGETS, [H100]).name == "sm90a"
    assert resolve_target("auto", TARGETS, [SPARK]).name == "sm121a"


def test_matching_target_is_accepted():
    assert resolve_target("sm90a", TARGETS, [H100]).label == "SM120 paths on sm_90a"


def test_mismatch_says_what_to_run_instead():
    with pytest.raises(DeviceError) as info:
        resolve_target("sm121a", TARGETS, [H100])
    message = str(info.value)
    assert message == ("device is sm_90 (NVIDIA H100 80GB HBM3); --gpu sm121a compiles for sm_121a: "
                       "run --gpu sm90a (SM120 paths on sm_90a)")
    assert "\n" not in message


def test_mismatch_with_no_target_for_the_device():
    with pytest.raises(DeviceError, match=r"device is sm_80 \(A100\).*no GPU target compiles for sm_80"):
        resolve_target("sm90a", TARGETS, [Gpu("0", "A100", (8, 0))])
    with pytest.raises(DeviceError, match="no GPU target compiles for it"):
        resolve_target("auto", TARGETS, [Gpu("0", "A100", (8, 0))])


def test_no_gpu_and_mixed_gpus_are_errors():
    with pytest.raises(DeviceError, match="no GPU visible"):
        resolve_target("sm90a", TARGETS, [])
    with pytest.raises(DeviceError, match="visible GPUs differ"):
        resolve_target("auto", TARGETS, [H100, Gpu("1", "NVIDIA GB10", (12, 1))])


def test_unknown_target():
    with pytest.raises(DeviceError, match="unknown GPU target 'sm75'"):
        resolve_target("sm75", TARGETS, [H100])
