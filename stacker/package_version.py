"""The version a bundle's wheel carries: the base's own release version plus a PEP 440 local label.

Projects that version from git tags (setuptools-scm, hatch-vcs) cannot see their tags in an
exported tree, so the version is computed here, the way `git describe` finds it: the nearest tag
matching stack.yaml's `package.version_tags` glob that the base contains. The glob's literal prefix
is the tag's decoration (`fa4-v` in `fa4-v*`); the rest must be a PEP 440 version
(`4.0.0.beta27` → `4.0.0b27`). The local label `+<bundle name>.<short head>` says what the wheel
is — the base's release with this bundle on top — and pins the exact bundle commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from stacker.errors import ConfigError
from stacker.gitrepo import Repository
from stacker.upstream import PREFIX

TAGS = f"{PREFIX}/tags/"
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class BaseVersion:
    version: str  # PEP 440, normalized: "4.0.0b27"
    tag: str | None = None  # the tag it comes from: "fa4-v4.0.0.beta27"
    distance: int | None = None  # commits from that tag to the base (0: the base is the release)
    source: str = "tag"  # "tag", or "package" (what the package's own build said)


def version_from_tags(repo: Repository, base: str, pattern: str) -> BaseVersion:
    """The nearest tag matching `pattern` that `base` contains (fewest commits away; then highest version)."""
    out = repo.git("for-each-ref", f"--merged={base}", "--format=%(refname)", f"{TAGS}{pattern}")
    candidates: list[tuple[int, Version, str]] = []
    skipped: list[str] = []
    for ref in out.splitlines():
        tag = ref[len(TAGS):]
        version = tag_version(tag, pattern)
        if version is None:
            skipped.append(tag)
            continue
        candidates.append((repo.count(f"{ref}..{base}"), version, tag))
    if not candidates:
        found = f" (tags that are not PEP 440 versions after the prefix: {', '.join(skipped[:3])})" if skipped else ""
        raise ConfigError(f"no tag matching '{pattern}' is in the history of the base {base[:12]}{found}; "
                          "`stacker build` (not --offline) fetches them when stack.yaml names package.version_tags")
    by_version = sorted(candidates, key=lambda c: c[1], reverse=True)
    distance, version, tag = min(by_version, key=lambda c: c[0])  # nearest; among equals, the highest version
    return BaseVersion(version=str(version), tag=tag, distance=distance)


def tag_version(tag: str, pattern: str) -> Version | None:
    """`fa4-v4.0.0.beta27` under `fa4-v*` → Version('4.0.0b27'); None when the rest is no version."""
    literal = _GLOB_CHARS.split(pattern, 1)[0]
    suffix = pattern.rsplit("*", 1)[1] if "*" in pattern and not _GLOB_CHARS.search(pattern.rsplit("*", 1)[1]) else ""
    if not tag.startswith(literal) or not tag.endswith(suffix):
        return None
    core = tag[len(literal):len(tag) - len(suffix)]
    try:
        return Version(core)
    except InvalidVersion:
        return None


def local_version(base_version: str, bundle_name: str, head: str) -> str:
    """`4.0.0b27` + `sncbl-sm120` + head → `4.0.0b27+sncbl.sm120.abc1234` (PEP 440 normalized)."""
    short = head[:7]
    if short.isdigit() and short.startswith("0"):  # PEP 440 reads it as a number and drops the zeros
        short = "g" + short
    version = Version(f"{Version(base_version).public}+{bundle_name}.{short}")
    return str(version)

