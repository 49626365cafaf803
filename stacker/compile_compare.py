"""The same kernel matrix compiled from two trees, variant by variant, with regressions flagged.

A resolution can leave every kernel compiling and still cost: one more value kept live and a kernel
spills or reaches the register ceiling. Comparing with the base's tree shows it. Flags:

- broke:        compiled on the reference, fails now (always fails the run);
- lost:         compiled on the reference, its feature is absent now (always fails the run: the
                tree lost something it had, e.g. a merge dropped a dispatch branch);
- spills-new:   no spill bytes on the reference, some now;
- spills-up:    more spill store or load bytes than on the reference;
- reg-ceiling:  more of the variant's kernels sit at the 255-register ceiling than on the reference.
The last three are resource regressions: reported, and failing only with --fail-on-spill-increase.
Notes (never failing): new (absent or failing on the reference, compiles now), kernel-changed (a
different set of kernel classes compiled, e.g. a dispatch now picks another kernel).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stacker.compile_result import FAILED, OK, SKIPPED, CompileResult

BROKE, LOST = "broke", "lost"
SPILLS_NEW, SPILLS_UP, REG_CEILING = "spills-new", "spills-up", "reg-ceiling"
RESOURCE_FLAGS = (SPILLS_NEW, SPILLS_UP, REG_CEILING)
FAILING_FLAGS = (BROKE, LOST)
NEW, FIXED, KERNEL_CHANGED = "new", "fixed", "kernel-changed"


@dataclass(frozen=True)
class VariantChange:
    id: str
    before: CompileResult | None  # None: the reference's matrix had no such variant
    after: CompileResult
    flags: tuple[str, ...]
    notes: tuple[str, ...]

    def delta(self, attribute: str) -> int | None:
        """after - before of a resource (registers, stack, spill_stores, ...), when both compiled."""
        if self.before is None or not (self.before.ok and self.after.ok):
            return None
        old, new = getattr(self.before, attribute), getattr(self.after, attribute)
        return None if old is None or new is None else new - old

    def to_dict(self) -> dict:
        return {
            "id": self.id, "flags": list(self.flags), "notes": list(self.notes),
            "before": None if self.before is None else {
                "status": self.before.status, "registers": self.before.registers, "stack": self.before.stack,
                "spill_stores": self.before.spill_stores, "spill_loads": self.before.spill_loads,
                "shared": self.before.shared, "kernels_at_register_ceiling": self.before.at_ceiling,
                "error": self.before.error,
            },
            "delta": {name: self.delta(name) for name in ("registers", "stack", "spill_stores", "spill_loads", "shared")},
        }


@dataclass(frozen=True)
class Comparison:
    reference: str  # e.g. "main (727eed3c)"
    changes: tuple[VariantChange, ...]

    def flagged(self, flags: Iterable[str]) -> list[VariantChange]:
        wanted = set(flags)
        return [change for change in self.changes if wanted & set(change.flags)]

    def to_dict(self) -> dict:
        return {"reference": self.reference, "variants": [change.to_dict() for change in self.changes]}


def compare(before: Iterable[CompileResult], after: Iterable[CompileResult], reference: str) -> Comparison:
    by_id = {result.id: result for result in before}
    return Comparison(reference=reference,
                      changes=tuple(compare_one(by_id.get(result.id), result) for result in after))


def compare_one(before: CompileResult | None, after: CompileResult) -> VariantChange:
    flags: list[str] = []
    notes: list[str] = []
    if before is not None and before.status == OK:
        if after.status == FAILED:
            flags.append(BROKE)
        elif after.status == SKIPPED:
            flags.append(LOST)
    if after.status == OK and (before is None or before.status != OK):
        notes.append(FIXED if before is not None and before.status == FAILED else NEW)
    if before is not None and before.ok and after.ok:
        old_spills = (before.spill_stores or 0) + (before.spill_loads or 0)
        new_spills = (after.spill_stores or 0) + (after.spill_loads or 0)
        if old_spills == 0 and new_spills > 0:
            flags.append(SPILLS_NEW)
        elif (after.spill_stores or 0) > (before.spill_stores or 0) or (after.spill_loads or 0) > (before.spill_loads or 0):
            flags.append(SPILLS_UP)
        if after.at_ceiling > before.at_ceiling:
            flags.append(REG_CEILING)
        if kernel_classes(before) != kernel_classes(after):
            notes.append(KERNEL_CHANGED)
    return VariantChange(id=after.id, before=before, after=after, flags=tuple(flags), notes=tuple(notes))


def kernel_classes(result: CompileResult) -> frozenset[str]:
    """Kernel names without the argument-type mangling, so the same kernel on other shapes matches."""
    return frozenset(_class_of(kernel.name) for kernel in result.kernels)


def _class_of(name: str) -> str:
    # DSL kernel symbols read "kernel_<module+class>_object_at_<argument types>_<n>"
    return re.split(r"_object_at_", name, maxsplit=1)[0]
