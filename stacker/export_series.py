"""`stacker export series`: the bundle as a patch series that `git am`, quilt and `patch -p1` apply.

One `git format-patch` mail per bundle commit (trailers kept, so every patch still says which PR or
patch file it came from), a quilt-style `series` file listing them in order, and a header in that
file naming the base and head. format-patch runs with the user's git configuration ignored, full
blob ids and no rename detection (renames as delete + add, which plain `patch` applies too), so
the same bundle head always gives the same files. Before anything is written the series is
applied to the base in memory, the way `git am` applies it, and must give the head's tree exactly.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stacker import __version__
from stacker.bundle import PublishedBundle
from stacker.errors import BuildStopped, ConfigError
from stacker.patch_step import apply_diff
from stacker.patches import NO_USER_GIT_CONFIG
from stacker.patchfile import split_mail

SERIES_MARKER = "# stacker series"


@dataclass(frozen=True)
class SeriesPatch:
    file: str
    commit: str
    subject: str


@dataclass(frozen=True)
class SeriesExport:
    out: Path
    series: Path
    bundle: PublishedBundle
    patches: tuple[SeriesPatch, ...]
    verified_tree: str  # the tree the series gives on the base: the head's tree
    binary_files: tuple[str, ...] = field(default=())  # `patch -p1` cannot apply these (git am can)

    def to_json(self) -> dict:
        b = self.bundle
        return {"out": str(self.out), "series": str(self.series), "stack": b.stack.name, "repo": str(b.repo.path),
                "rev": b.rev,
                "base": b.base, "base_name": b.base_name, "upstream": b.upstream, "head": b.head, "tree": b.tree,
                "verified_tree": self.verified_tree, "verified": self.verified_tree == b.tree,
                "patches": [{"file": p.file, "commit": p.commit, "subject": p.subject} for p in self.patches],
                "binary_files": list(self.binary_files)}


def export_series(bundle: PublishedBundle, out: Path) -> SeriesExport:
    out = out.resolve()
    previous = _previous_export(out)
    repo = bundle.repo
    with tempfile.TemporaryDirectory(prefix="stacker-series-") as tmp:
        names: list[str] = []
        if bundle.commits:
            listing = repo.git("format-patch", "--no-signature", "--full-index", "--no-renames", "--binary",
                               f"--base={bundle.base}", "-o", tmp, f"{bundle.base}..{bundle.head}",
                               env=NO_USER_GIT_CONFIG)
            names = [Path(line).name for line in listing.splitlines() if line.strip()]
        if len(names) != len(bundle.commits):
            raise BuildStopped(f"git format-patch wrote {len(names)} patches for {len(bundle.commits)} bundle commits")
        tree = _apply_series(bundle, [Path(tmp, name) for name in names])
        if tree != bundle.tree:
            raise BuildStopped(f"the series does not reproduce the bundle: it gives tree {tree[:12]}, the head "
                               f"{bundle.head[:12]} has {bundle.tree[:12]}; nothing was written")
        patches = tuple(SeriesPatch(name, c.sha, c.subject) for name, c in zip(names, bundle.commits, strict=True))
        out.mkdir(parents=True, exist_ok=True)
        for stale in previous:
            (out / stale).unlink(missing_ok=True)
        for name in names:
            shutil.move(Path(tmp, name), out / name)
    series = out / "series"
    series.write_text(_series_text(bundle, patches), encoding="utf-8")
    return SeriesExport(out=out, series=series, bundle=bundle, patches=patches, verified_tree=tree,
                        binary_files=tuple(_binary_files(bundle)))


def _previous_export(out: Path) -> list[str]:
    """Files of an earlier series in `out` (replaced); any other content of `out` is refused, never lost."""
    if not out.exists():
        return []
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return []
    series = out / "series"
    if not series.is_file() or not series.read_text(encoding="utf-8", errors="replace").startswith(SERIES_MARKER):
        raise ConfigError(f"{out}: not empty and not an earlier `stacker export series`; choose an empty directory")
    listed = [line.strip() for line in series.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    foreign = sorted(set(entries) - set(listed) - {"series"})
    if foreign:
        raise ConfigError(f"{out}: holds files the earlier series does not list ({', '.join(foreign[:3])}); "
                          "choose an empty directory")
    return listed


def _apply_series(bundle: PublishedBundle, files: list[Path]) -> str:
    """The tree of the base with every patch applied in order, as `git am` would apply them."""
    tree = bundle.repo.tree_of(bundle.base)
    for file in files:
        _, _, diff = split_mail(file.read_bytes())  # as git am does: the message never reaches git apply
        applied = apply_diff(bundle.repo, tree, diff)
        if applied is None:
            raise BuildStopped(f"the series does not apply to its own base: {file.name} fails; nothing was written")
        tree = applied
    return tree


def _binary_files(bundle: PublishedBundle) -> list[str]:
    if not bundle.commits:
        return []
    out = bundle.repo.git("diff", "--numstat", "--no-renames", bundle.base, bundle.head, env=NO_USER_GIT_CONFIG)
    return [line.split("\t", 2)[2] for line in out.splitlines() if line.startswith("-\t-\t")]


def _series_text(bundle: PublishedBundle, patches: tuple[SeriesPatch, ...]) -> str:
    upstream = f" of {bundle.upstream}" if bundle.upstream else ""
    base = f"{bundle.base_name} at {bundle.base}" if bundle.base_name else bundle.base
    lines = [
        f"{SERIES_MARKER} of bundle '{bundle.stack.name}' ({bundle.rev}), written by stacker {__version__}",
        f"# base: {base}{upstream}",
        f"# head: {bundle.head} (tree {bundle.tree})",
        f"# {len(patches)} patch(es), one per bundle commit, in order. Apply onto the base with",
        "#   git am <these files in order>   (gives the head's tree exactly), or",
        "#   patch -p1 < each file in order  (on a plain export of the base), or quilt.",
        *(p.file for p in patches),
    ]
    return "\n".join(lines) + "\n"
