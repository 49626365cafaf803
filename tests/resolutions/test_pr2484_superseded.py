"""D7: #2484 is superseded by main's own SM120 __init__."""

from __future__ import annotations

from resolutions.pr2484_superseded import Pr2484Superseded
from stacker.resolution import SourceTree
from tests.resolutions.harness import dedent

PATH = "flash_attn/cute/flash_fwd_sm120.py"

MAIN = dedent("""
    class FlashAttentionForwardSm120(FlashAttentionForwardSm80):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.arch = Arch.sm_80

        @staticmethod
        def can_implement(dtype):
            return True
""")


def _supersedes(files):
    return Pr2484Superseded().supersedes(2484, SourceTree(files=dict(files)))


def test_superseded_when_main_forces_sm80_in_its_own_init():
    reason = _supersedes({PATH: MAIN})
    assert reason and "2821c89d" in reason and "is_split_kv = False" in reason


def test_applied_when_the_class_has_no_init_of_its_own():
    older = MAIN.replace("    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n"
                         "        self.arch = Arch.sm_80\n\n", "")
    assert "__init__" not in older
    assert _supersedes({PATH: older}) is None


def test_applied_when_init_does_not_force_sm80():
    assert _supersedes({PATH: MAIN.replace("self.arch = Arch.sm_80", "self.arch = arch")}) is None


def test_applied_when_the_file_is_gone():
    assert _supersedes({PATH: None}) is None
