"""One file merged the way `stacker merge-file` (a git merge driver) merges it.

git calls a merge driver with three temporary files and expects the result in the second one,
exit status 0 when clean and non-zero when conflicts are left. This module reads the files, runs
the same per-file merge chain `stacker build` runs (`filemerge.merge_file`: git's line merge,
then `chain.generic_layers` — equivalent code, the structural layer, neighbouring edits, moved
and wrapped blocks, one side's edit containing the other's — without the bundle's own
resolutions), and renders what is left with git-style markers. A file that is not Python, or a
version that does not parse, gets git's line merge and nothing else.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from stacker.chain import generic_layers
from stacker.errors import ConfigError
from stacker.filemerge import FileMerge, FileVersions, merge_file
from stacker.linemerge import Labels
from stacker.pysource import parse_ast
from stacker.structural import StructuralLayer, is_python
from stacker.structural.checks import guard_clean


@dataclass(frozen=True)
class DriverResult:
    text: str  # what goes into the output file (markers included when not clean)
    clean: bool
    merge: FileMerge | None = None
    notes: list[str] = field(default_factory=list)  # what the layers after git's merge resolved


def read_version(path: Path, role: str) -> str:
    """A version's text, byte for byte (undecodable bytes survive as surrogates)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file ({role} version)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {role} version: {error.strerror}") from None
    if b"\0" in data:
        raise ConfigError(f"{path}: binary file ({role} version): not merged")
    return data.decode("utf-8", "surrogateescape")


def conflict_style_diff3(cwd: Path | None = None) -> bool:
    """Whether git is configured for diff3-style markers (`merge.conflictStyle` diff3/zdiff3)."""
    try:
        done = subprocess.run(["git", "config", "--get", "merge.conflictStyle"], capture_output=True,
                              text=True, cwd=cwd, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.stdout.strip() in ("diff3", "zdiff3")


def merge_versions(base: str, ours: str, theirs: str, path: str, labels: Labels = Labels(),
                   marker_size: int = 7, diff3: bool = True, stack_order: bool = False) -> DriverResult:
    """The merge chain on three texts; the result rendered with markers where conflicts remain.

    `stack_order`: keep both sides' insertions at one place, ours first, where any order is
    correct (as `stacker build` does); by default such a choice is left to a human.
    """
    versions = FileVersions(path, base, ours, theirs)
    try:
        result, notes = _merge_checked(versions, stack_order)
    except RecursionError:
        # The final checks walk the whole file; one nested too deeply for them (see
        # `filemerge.merge_file`) gets what git would give, as a file that does not parse does.
        result = merge_file(versions, [])
        notes = ["the file is nested too deeply to check git's clean merge of it" if result.is_clean else
                 "the file is nested too deeply to check a merge of its structure: git's line merge alone"]
    if result.is_clean:
        return DriverResult(result.text, True, result, notes)
    return DriverResult(result.merged.render(labels, marker_size, diff3=diff3), False, result, notes)


def _merge_checked(versions: FileVersions, stack_order: bool) -> tuple[FileMerge, list[str]]:
    """The chain on a file, and the final checks of a clean Python result (`guard_clean`)."""
    path, texts = versions.path, (versions.base, versions.ours, versions.theirs)
    layers = []
    if is_python(path) and all(parse_ast(text) is not None for text in texts):
        layers = generic_layers(StructuralLayer(originals=versions, stack_order=stack_order))
    result = merge_file(versions, layers)
    notes = [f"{a.location}: {a.detail}" if a.layer == "structural" else f"{a.layer} {a.location}: {a.detail}"
             for a in result.actions if a.layer != "git"]
    if is_python(path):
        guarded, refusal = guard_clean(result.merged, *texts, path, made_by="the merge")
        if refusal is not None:
            result.merged = guarded
            notes.append(refusal.reason)
    return result, notes


def merge_paths(base: Path, ours: Path, theirs: Path, path: str | None = None, out: Path | None = None,
                labels: Labels = Labels(), marker_size: int = 7, diff3: bool | None = None,
                stack_order: bool = False) -> DriverResult:
    """Merge the three files; write the result to `out` (default: over `ours`, as git expects)."""
    if marker_size < 1:
        raise ConfigError(f"--marker-size must be at least 1, not {marker_size}")
    texts = [read_version(p, role) for p, role in ((base, "base"), (ours, "ours"), (theirs, "theirs"))]
    if diff3 is None:
        diff3 = conflict_style_diff3()
    result = merge_versions(*texts, path=path or str(ours), labels=labels, marker_size=marker_size, diff3=diff3,
                            stack_order=stack_order)
    if out is not None and str(out) == "-":
        return result
    target = out or ours
    try:
        target.write_bytes(result.text.encode("utf-8", "surrogateescape"))
    except OSError as error:
        raise ConfigError(f"{target}: cannot write the result: {error.strerror}") from None
    return result
