"""The stack's own patches (stack.yaml `patches:`) as steps of the plan, and their commit messages.

A patch is applied like a PR: one step, one commit, the same resolution layers and checks. What a
PR has and a patch lacks is a fork commit. When the patch names the blobs it was made against
(`index` lines, as `git format-patch` and `git diff` write them) and stacker's repository has those
blobs, the preimage files give a fork and the patch applied to them gives a head, so the step is a
real 3-way merge — like `git am -3`, but through stacker's layers. Without them the patch is
applied exactly as written (context must match; no fuzz), like `git apply`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stacker import __version__
from stacker.config import PatchEntry, Stack
from stacker.errors import ConfigError
from stacker.gitrepo import Repository
from stacker.patchfile import PatchFile, PatchFormatError, read_patch

if TYPE_CHECKING:  # apply.py imports this module for the message; only the type flows back
    from stacker.apply import StepResult

# The user's git configuration must not change what stacker writes (trailer and format settings).
NO_USER_GIT_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass(frozen=True)
class PatchSource:
    """One `patches:` entry, read, with what the plan knows about applying it."""

    entry: PatchEntry
    name: str  # the file as stack.yaml names it, relative to the stack's directory
    patch: PatchFile
    preimages: tuple[tuple[str, str, str], ...] | None  # (path, mode, full blob id) when 3-way is possible
    mode_reason: str  # why the patch is applied 3-way or exactly

    @property
    def mode(self) -> str:
        return "3-way" if self.preimages is not None else "exact"

    @property
    def after(self) -> int | None:
        return self.entry.after

    @property
    def subject(self) -> str:
        return self.patch.subject or f"Apply patch {self.name}"


def patch_sources(repo: Repository, stack: Stack) -> list[PatchSource]:
    """Every `patches:` entry in listed order; files are read again (they may have changed since load)."""
    sources = []
    for entry in stack.patches:
        name = display_name(stack, entry.file)
        try:
            patch = read_patch(entry.file)
        except PatchFormatError as exc:
            raise ConfigError(f"{stack.path.name}:{entry.line}: patch '{name}': {exc}") from None
        preimages, reason = _preimages(repo, patch)
        sources.append(PatchSource(entry=entry, name=name, patch=patch, preimages=preimages, mode_reason=reason))
    return sources


def display_name(stack: Stack, file: Path) -> str:
    try:
        return file.relative_to(stack.root).as_posix()
    except ValueError:
        return str(file)


def _preimages(repo: Repository, patch: PatchFile) -> tuple[tuple[tuple[str, str, str], ...] | None, str]:
    if not patch.has_index:
        return None, "exact: the patch has no 'index' lines naming its preimage blobs"
    found = []
    for f in patch.files:
        if f.old_path is None:
            continue  # a created file has no preimage
        blob = full_blob_id(repo, f.old_blob or "")
        if blob is None:
            return None, f"exact: preimage {f.old_blob} of {f.old_path} is not in stacker's repository"
        found.append((f.old_path, f.old_mode or "100644", blob))
    return tuple(found), "3-way: every preimage blob is in stacker's repository"


def full_blob_id(repo: Repository, abbreviated: str) -> str | None:
    """The one blob an (abbreviated) id names in `repo`, or None (missing, or ambiguous among blobs)."""
    status, out, _ = repo.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input=abbreviated + "\n")
    fields = out.split()
    if status == 0 and len(fields) == 2 and fields[1] == "blob":
        return fields[0]
    if status != 0 or len(fields) < 2 or fields[1] != "ambiguous":
        return None
    # An abbreviation can be ambiguous across object types and still name exactly one blob.
    status, out, _ = repo.run("rev-parse", f"--disambiguate={abbreviated}")
    blobs = [sha for sha in out.split() if repo.run("cat-file", "-t", sha)[1].strip() == "blob"]
    return blobs[0] if len(blobs) == 1 else None


def patch_commit_message(source: PatchSource, result: StepResult) -> str:
    """The patch's own message (as `git am` would take it) with stacker's provenance trailers added."""
    lines = [source.subject, "", f"Applied by stacker {__version__} from {source.name} ({source.mode})."]
    by_layer: dict[str, int] = {}
    for action in (a for f in result.files for a in f.actions):
        by_layer[action.layer] = by_layer.get(action.layer, 0) + max(1, len(action.hunks))
    if by_layer:
        lines.append("Conflicts resolved: " + ", ".join(f"{n} by {layer}" for layer, n in by_layer.items()) + ".")
    message = "\n".join(lines) + "\n"
    if source.patch.body:
        message += "\n" + source.patch.body + "\n"
    trailers = [f"Stacker-Patch: {source.name}", f"Stacker-Patch-Sha256: {source.patch.sha256}"]
    trailers += [f"Stacker-Resolution: {r}" for r in result.resolutions_applied]
    trailers.append(f"Stacker-Input: {result.input_key}")
    return _add_trailers(message, trailers)


def _add_trailers(message: str, trailers: list[str]) -> str:
    """`git interpret-trailers`: joins the patch's own trailer block (Signed-off-by...) if it has one."""
    args = ["git", "-c", "trailer.separators=:", "interpret-trailers", "--no-divider", "--if-exists", "addIfDifferent"]
    for trailer in trailers:
        args += ["--trailer", trailer]
    done = subprocess.run(args, input=message.encode("utf-8", "surrogateescape"), capture_output=True,
                          cwd=tempfile.gettempdir(), env={**os.environ, **NO_USER_GIT_CONFIG})
    if done.returncode != 0:  # never expected; fall back to a trailer paragraph of our own
        return message.rstrip("\n") + "\n\n" + "\n".join(trailers) + "\n"
    return done.stdout.decode("utf-8", "surrogateescape")


def check_locked_patches(stack: Stack, locked: list[dict]) -> None:
    """`build --locked` rebuilds what stack.lock pins: the patch files must be the ones it recorded."""
    pinned = {p.get("file"): p.get("sha256") for p in locked}
    for entry in stack.patches:
        name = display_name(stack, entry.file)
        if name not in pinned:
            raise ConfigError(f"{stack.path.name}:{entry.line}: patch '{name}' is not in {stack.lock_path().name}; "
                              "build without --locked")
        try:
            current = read_patch(entry.file).sha256
        except PatchFormatError as exc:
            raise ConfigError(f"{stack.path.name}:{entry.line}: patch '{name}': {exc}") from None
        if current != pinned[name]:
            raise ConfigError(f"{stack.path.name}:{entry.line}: patch '{name}' changed since {stack.lock_path().name} "
                              f"(sha256 {current[:12]}, locked {str(pinned[name])[:12]}); build without --locked")
